/**
 * The preflight against small proxies on the loopback address: every verdict the seed
 * names, read the way a real HTTP client reads a CONNECT answer.
 */
import t from 'tap';
import { ApiError, statusOf } from '../../src/api/errors';
import { preflight, type PreflightOptions } from '../../src/proxy/preflight';
import { openTunnel } from '../../src/proxy/tunnel';
import {
  afterRequest, answerInPieces, closedPort, fakeProxy, fakeTlsProxy, makeCert, type Behave,
  type FakeProxy,
} from './servers';

const cert = makeCert();
const creds = { username: 'my-user', password: 'hunter2' };
const options: PreflightOptions = { target: 'oblien.com:443', timeoutMs: 400, ca: [cert.cert] };
const open: FakeProxy[] = [];
t.teardown(() => Promise.all(open.map((p) => p.close())));

async function start(behave: Behave, secure = false): Promise<FakeProxy> {
  const proxy = secure ? await fakeTlsProxy(cert, behave) : await fakeProxy(behave);
  open.push(proxy);
  return proxy;
}

function endpoint(port: number, protocol: 'http' | 'https' = 'http') {
  return { host: '127.0.0.1', port, protocol };
}

/** Runs the preflight and returns the code it refused with (null: it passed). */
async function verdict(port: number, protocol: 'http' | 'https' = 'http', o = options) {
  try {
    await preflight(endpoint(port, protocol), creds, o);
    return null;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return err;
  }
}

t.test('any 2xx opens the tunnel, whatever its reason phrase or version', async (t) => {
  const answers = ['HTTP/1.1 200 Connection established\r\n\r\n', 'HTTP/1.0 200 OK\r\n\r\n',
    'HTTP/1.1 200 Tunnel open, have fun\r\nVia: x\r\n\r\n', 'HTTP/1.1 204\r\n\r\n',
    'HTTP/1.1 299 Whatever\n\n', 'HTTP/2.0 201 Created\r\n\r\n'];
  for (const answer of answers) {
    const proxy = await start(answerInPieces([answer]));
    t.equal(await verdict(proxy.port), null, JSON.stringify(answer));
  }
});

t.test('the head may arrive byte by byte', async (t) => {
  const head = 'HTTP/1.1 200 Connection established\r\nProxy-Agent: slow\r\n\r\n';
  const proxy = await start(answerInPieces([...head], 2));
  t.equal(await verdict(proxy.port, 'http', { ...options, timeoutMs: 2000 }), null);
});

t.test('the request: CONNECT target with Basic credentials, or none without', async (t) => {
  const proxy = await start(answerInPieces(['HTTP/1.1 200 OK\r\n\r\n']));
  await preflight(endpoint(proxy.port), creds, options);
  await preflight(endpoint(proxy.port), null, options);
  const basic = Buffer.from('my-user:hunter2').toString('base64');
  t.equal(proxy.requests[0], 'CONNECT oblien.com:443 HTTP/1.1\r\nHost: oblien.com:443\r\n' +
    `Proxy-Authorization: Basic ${basic}\r\n\r\n`);
  t.equal(proxy.requests[1], 'CONNECT oblien.com:443 HTTP/1.1\r\nHost: oblien.com:443\r\n\r\n');
});

t.test('bytes after the head belong to the tunnel', async (t) => {
  const proxy = await start(answerInPieces(['HTTP/1.1 200 OK\r\n\r\nfirst bytes', ' more']));
  const tunnel = await openTunnel({ proxy: endpoint(proxy.port), credentials: null,
    target: '192.0.2.1:80', timeoutMs: 1000 });
  let got = '';
  tunnel.socket.on('data', (c: Buffer) => (got += c.toString()));
  tunnel.socket.resume();
  await new Promise((r) => setTimeout(r, 100));
  tunnel.socket.destroy();
  t.equal(got, 'first bytes more');
});

t.test('407, with or without a body, is preflight_auth_required', async (t) => {
  const withBody = await start(answerInPieces(['HTTP/1.1 407 Proxy Authentication Required\r\n',
    'Proxy-Authenticate: Basic realm="x"\r\nContent-Length: 5\r\n\r\n', 'denied']));
  const bare = await start(answerInPieces(['HTTP/1.0 407\r\n\r\n'], 1, (s) => s.end()));
  const statusOnly = await start(answerInPieces(['HTTP/1.1 407 Nope\r\n'], 1, (s) => s.end()));
  for (const proxy of [withBody, bare, statusOnly]) {
    const err = await verdict(proxy.port);
    t.equal(err?.code, 'preflight_auth_required');
    t.equal(err?.status, 401);
    t.notMatch(err?.message ?? '', /hunter2|my-user/, 'no credentials in the message');
  }
});

t.test('any other non-2xx is preflight_bad_status, naming the status', async (t) => {
  for (const line of ['HTTP/1.1 403 Forbidden', 'HTTP/1.1 502 Bad Gateway', 'HTTP/1.0 302 Found',
    'HTTP/1.1 100 Continue', 'HTTP/1.1 500']) {
    const proxy = await start(answerInPieces([`${line}\r\nContent-Length: 0\r\n\r\n`]));
    const err = await verdict(proxy.port);
    t.equal(err?.code, 'preflight_bad_status', line);
    t.equal(err?.status, 502);
    t.match(err?.message ?? '', line.slice(9, 12));
  }
});

t.test('a close before a whole status line is preflight_closed', async (t) => {
  const behaviours: [string, Behave][] = [
    ['closed at once', (s) => s.end()],
    ['closed after the request', (s) => afterRequest(s, () => s.end())],
    ['reset after the request', (s) => afterRequest(s, () => s.resetAndDestroy())],
    ['half a status line', answerInPieces(['HTTP/1.1 20'], 1, (s) => s.end())],
    ['a 200 whose head never ends', answerInPieces(['HTTP/1.1 200 OK\r\nVia: x'], 1,
      (s) => s.end())],
  ];
  for (const [what, behave] of behaviours) {
    const err = await verdict((await start(behave)).port);
    t.equal(err?.code, 'preflight_closed', what);
    t.equal(err?.status, 502);
  }
});

t.test('silence is preflight_timeout at timeout_ms', async (t) => {
  const proxy = await start(() => undefined);
  const started = Date.now();
  const err = await verdict(proxy.port, 'http', { ...options, timeoutMs: 300 });
  const ms = Date.now() - started;
  t.equal(err?.code, 'preflight_timeout');
  t.equal(err?.status, statusOf('preflight_timeout'));
  t.ok(ms >= 290 && ms < 1500, `took ${ms} ms`);
});

t.test('nothing listening is preflight_unreachable', async (t) => {
  for (const protocol of ['http', 'https'] as const) {
    const err = await verdict(await closedPort(), protocol);
    t.equal(err?.code, 'preflight_unreachable', protocol);
    t.match(err?.message ?? '', /ECONNREFUSED/);
  }
});

t.test('an answer that is not HTTP is preflight_protocol_mismatch', async (t) => {
  for (const answer of ['SSH-2.0-OpenSSH_9.2\r\n', 'hello\r\n\r\n', 'HTTP/1.1 OK\r\n\r\n',
    'HTTP/x 200 OK\r\n\r\n']) {
    const proxy = await start(answerInPieces([answer]));
    t.equal((await verdict(proxy.port))?.code, 'preflight_protocol_mismatch', answer);
  }
});

t.test('https: TLS to the proxy, verified against the trusted certificates', async (t) => {
  const proxy = await start((s) => afterRequest(s, () => s.write('HTTP/1.1 200 OK\r\n\r\n')),
    true);
  t.equal(await verdict(proxy.port, 'https'), null);
  t.match(proxy.requests[0], /^CONNECT oblien.com:443 HTTP\/1.1\r\n/);

  const untrusted = await verdict(proxy.port, 'https', { ...options, ca: undefined });
  t.equal(untrusted?.code, 'preflight_protocol_mismatch');
  t.match(untrusted?.message ?? '', /certificate is not trusted/);
});

t.test('plain to a TLS proxy, or TLS to a plain one, is a protocol mismatch', async (t) => {
  const tlsProxy = await start(() => undefined, true);
  const plainToTls = await verdict(tlsProxy.port, 'http');
  t.equal(plainToTls?.code, 'preflight_protocol_mismatch', plainToTls?.message ?? '');
  t.match(plainToTls?.message, /speaks TLS/);

  const answers400 = await start((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad\r\n\r\n')));
  const closes = await start((s) => s.once('data', () => s.end()));
  const silent = await start(() => undefined);
  for (const [what, proxy] of [['answers 400', answers400], ['closes', closes]] as const) {
    const err = await verdict(proxy.port, 'https');
    t.equal(err?.code, 'preflight_protocol_mismatch', `TLS to a plain proxy that ${what}`);
    t.equal(err?.status, 400);
  }
  t.equal((await verdict(silent.port, 'https'))?.code, 'preflight_timeout');

  // Like tinyproxy: it waits for a request line, which a ClientHello never completes.
  const waitsForLine = await start((s) =>
    afterRequest(s, () => s.end('HTTP/1.1 200 OK\r\n\r\n')));
  const err = await verdict(waitsForLine.port, 'https', { ...options, timeoutMs: 1000 });
  t.equal(err?.code, 'preflight_protocol_mismatch', err?.message ?? '');
  t.match(err?.message, /plain HTTP/);
});

t.test('401 to CONNECT is a refusal of the credentials too', async (t) => {
  const proxy = await start(answerInPieces(['HTTP/1.0 401 Unauthorized\r\n\r\n']));
  t.equal((await verdict(proxy.port))?.code, 'preflight_auth_required');
});
