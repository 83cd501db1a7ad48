/**
 * Custom outbound proxies end to end, in the lab: the live preflight against real proxies
 * (tinyproxy with and without credentials, stunnel, squid) and misbehaving ones, the
 * transparent relay that carries a workspace's TCP through its proxy, and the attempts to
 * get around it.
 */
import t from 'tap';
import { createLab, Lab } from '../lab/lab';
import { BAD_PORTS, type LabProxy } from '../lab/proxies';
import { dns, holdTcp, tcp, udp } from '../lab/probe';
import { nsExec } from '../lab/netns';

let lab: Lab;
const [S1, S2] = ['198.18.1.10', '198.18.2.10'];
const PREFLIGHT_MS = 2000;

async function api(method: string, path: string, body?: unknown) {
  return lab.daemon!.api(method, path, body);
}

function custom(proxy: LabProxy) {
  const { host, port, protocol, username, password } = proxy;
  return { outbound_mode: 'custom', custom_proxy: { host, port, protocol,
    ...(username ? { username, password } : {}) } };
}

async function patch(id: string, body: unknown) {
  const res = await api('PATCH', `/workspace/${id}/network`, body);
  if (res.status !== 200) throw new Error(`PATCH ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

t.before(async () => {
  lab = await createLab({ workspaces: ['ws_a', 'ws_b', 'ws_free'], proxies: true });
  await lab.startDaemon({
    proxy_ca_file: lab.proxies!.caFile,
    preflight: { target: `${S1}:443`, timeout_ms: PREFLIGHT_MS },
  });
  for (const id of ['ws_a', 'ws_b', 'ws_free']) {
    const plan = id === 'ws_free' ? 'free' : 'scale';
    const res = await api('PUT', `/workspace/${id}`, lab.registration(id, { plan }));
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  }
});
t.teardown(() => lab?.destroy());

t.test('a free workspace gets plan_required and nothing changes', async (t) => {
  const res = await api('PATCH', '/workspace/ws_free/network', custom(lab.proxies!.open));
  t.equal(res.status, 402);
  t.equal(res.body.error, 'plan_required');
  const out = await tcp(lab.ws('ws_free').ns, S1, 80);
  t.equal(out.peerSaw, lab.uplinkIp, 'still direct');
});

t.test('through tinyproxy with credentials: the far end sees the proxy', async (t) => {
  const a = lab.ws('ws_a');
  const body = await patch('ws_a', custom(lab.proxies!.http));
  t.same(body.outbound_proxy, { host: lab.proxies!.addr, port: 3128, protocol: 'http',
    has_credentials: true });
  t.notMatch(JSON.stringify(body), /labpass/);
  const get = await api('GET', '/workspace/ws_a/network');
  t.equal(get.body.outbound_mode, 'custom');
  t.notMatch(JSON.stringify(get.body), /labpass/);

  for (const [addr, port] of [[S1, 80], [S2, 443], [S1, 8080]] as const) {
    const out = await tcp(a.ns, addr, port);
    t.equal(out.result, 'connected', `${addr}:${port}`);
    t.equal(out.peerSaw, lab.proxies!.addr, `${addr}:${port} arrives from the proxy`);
  }
  t.ok((await dns(a.ns, a.gateway, 'server1.lab.test')).ok, 'DNS on the gateway still works');
});

// Writes a line, half-closes, and reads until the far end closes: what came back.
const halfClose = (host: string, port: number) => `
const c = require('node:net').connect({ host: '${host}', port: ${port}, allowHalfOpen: true });
let got = '';
c.on('connect', () => { c.write('half-closed\\n'); c.end(); });
c.on('data', (d) => (got += d));
c.on('end', () => { console.log(JSON.stringify({ got })); process.exit(0); });
c.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
setTimeout(() => { console.log(JSON.stringify({ got, timeout: true })); process.exit(0); }, 3000);`;

t.test('nothing bypasses the proxy: UDP, other ports, the relay itself', async (t) => {
  const a = lab.ws('ws_a');
  t.equal((await udp(a.ns, S1, 5000)).result, 'unreachable', 'UDP to the internet');
  t.equal((await udp(a.ns, S1, 7)).result, 'unreachable');

  await patch('ws_a', { egress: ['198.18.1.0/24'], egress_ports: [80] });
  t.equal((await tcp(a.ns, S1, 80)).peerSaw, lab.proxies!.addr, 'allowed: via the proxy');
  t.equal((await tcp(a.ns, S2, 80)).result, 'reset', 'an address egress does not allow');
  t.equal((await tcp(a.ns, S1, 443)).result, 'reset', 'a port egress does not allow');
  await patch('ws_a', { egress: [], egress_ports: [] });

  // Dialling the relay directly is no redirect: it resets without tunnelling anything.
  const direct = await tcp(a.ns, a.gateway, 15001);
  t.not(direct.peerSaw, lab.proxies!.addr);
  t.not(direct.result, 'timeout');
  t.equal((await tcp(lab.ws('ws_b').ns, a.gateway, 15001)).result, 'timeout',
    'another workspace cannot reach it');
});

t.test('https through stunnel, squid, and a proxy without credentials', async (t) => {
  const b = lab.ws('ws_b');
  for (const name of ['https', 'squid', 'open'] as const) {
    const body = await patch('ws_b', custom(lab.proxies![name]));
    t.equal(body.outbound_proxy.protocol, lab.proxies![name].protocol);
    const out = await tcp(b.ns, S2, 80);
    t.equal(out.peerSaw, lab.proxies!.addr, `${name}: arrives from the proxy`);
  }
});

t.test('the relay fails closed: a tunnel the proxy refuses is a reset', async (t) => {
  const b = lab.ws('ws_b');
  await patch('ws_b', custom(lab.proxies!.only443));
  t.equal((await tcp(b.ns, S1, 443)).peerSaw, lab.proxies!.addr, '443 is allowed');
  const refused = await tcp(b.ns, S1, 80);
  t.equal(refused.peerSaw, undefined, 'never sent direct');
  t.equal(refused.error, 'ECONNRESET');
});

t.test('every preflight verdict, with nothing changed', async (t) => {
  const p = lab.proxies!;
  const before = (await api('GET', '/workspace/ws_b/network')).body;
  const cases: [string, LabProxy, string, number][] = [
    ['wrong credentials', { ...p.http, password: 'wrong' }, 'preflight_auth_required', 401],
    ['no credentials', { ...p.http, username: null, password: null },
      'preflight_auth_required', 401],
    ['407 with a body', p.bad(BAD_PORTS.auth407), 'preflight_auth_required', 401],
    ['CONNECT port refused', p.refusing, 'preflight_bad_status', 502],
    ['403', p.bad(BAD_PORTS.forbidden), 'preflight_bad_status', 502],
    ['TLS to a plain proxy', { ...p.open, protocol: 'https' }, 'preflight_protocol_mismatch',
      400],
    ['plain to stunnel', { ...p.https, protocol: 'http' }, 'preflight_protocol_mismatch', 400],
    ['SSH banner', p.bad(BAD_PORTS.garbage), 'preflight_protocol_mismatch', 400],
    ['closes', p.bad(BAD_PORTS.closes), 'preflight_closed', 502],
    ['half a status line', p.bad(BAD_PORTS.halfLine), 'preflight_closed', 502],
    ['silent', p.bad(BAD_PORTS.silent), 'preflight_timeout', 504],
    ['dropped SYN', p.bad(BAD_PORTS.dropped), 'preflight_timeout', 504],
    ['nothing listening', p.bad(BAD_PORTS.closed), 'preflight_unreachable', 502],
  ];
  for (const [what, proxy, code, status] of cases) {
    const started = Date.now();
    const res = await api('PATCH', '/workspace/ws_b/network', custom(proxy));
    t.equal(res.body.error, code, `${what}: ${res.body.message}`);
    t.equal(res.status, status, what);
    t.notMatch(JSON.stringify(res.body), /labpass|wrong/, `${what}: no secret echoed`);
    if (code === 'preflight_timeout') {
      const ms = Date.now() - started;
      t.ok(ms >= PREFLIGHT_MS - 50 && ms < PREFLIGHT_MS + 1500, `${what} took ${ms} ms`);
    }
  }
  t.same((await api('GET', '/workspace/ws_b/network')).body, before, 'stored state unchanged');
  t.equal((await tcp(lab.ws('ws_b').ns, S1, 443)).peerSaw, lab.proxies!.addr,
    'the previous proxy still carries the traffic');

  const odd = await api('PATCH', '/workspace/ws_b/network', custom(p.bad(BAD_PORTS.okInPieces)));
  t.equal(odd.status, 200, 'a 200 in pieces with an odd reason phrase passes');
});

t.test('changing or clearing the proxy ends what went through the old one', async (t) => {
  const a = lab.ws('ws_a');
  await patch('ws_a', custom(lab.proxies!.http));
  const held = await holdTcp(lab.run, a.ns, S1, 80);
  t.equal(held.peerSaw, lab.proxies!.addr);
  t.equal(await held.check(), 'alive');
  await patch('ws_a', custom(lab.proxies!.open));
  t.not(await held.check(), 'alive', 'a tunnel through the old proxy ended');
  held.close();

  const again = await holdTcp(lab.run, a.ns, S1, 80);
  t.equal(again.peerSaw, lab.proxies!.addr);
  const body = await patch('ws_a', { outbound_mode: 'managed' });
  t.equal(body.outbound_proxy, null);
  t.not(await again.check(), 'alive', 'clearing ends the tunnel');
  again.close();
  t.equal((await tcp(a.ns, S1, 80)).peerSaw, lab.uplinkIp, 'managed: direct again');
});

t.test('turning custom ends direct connections', async (t) => {
  const a = lab.ws('ws_a');
  const held = await holdTcp(lab.run, a.ns, S1, 80);
  t.equal(held.peerSaw, lab.uplinkIp);
  await patch('ws_a', custom(lab.proxies!.open));
  t.not(await held.check(), 'alive', 'the direct connection ended');
  held.close();
});

t.test('the password never reaches the log', async (t) => {
  t.notMatch(lab.daemon!.logs.join('\n'), /labpass|bGFidXNlcjpsYWJwYXNz/);
});

t.test('the relay keeps the way back open after the workspace half-closes', async (t) => {
  const direct = await nsExec(lab.ws('ws_free').ns, [process.execPath, '-e', halfClose(S1, 80)]);
  t.match(JSON.parse(direct.stdout.trim()).got, /half-closed/, 'direct, as a control');
  // tinyproxy and squid end both ways at the first FIN; this proxy passes each on its own.
  await patch('ws_b', custom(lab.proxies!.bad(BAD_PORTS.halfClose)));
  const a = lab.ws('ws_b');
  const res = await nsExec(a.ns, [process.execPath, '-e', halfClose(S1, 80)]);
  const out = JSON.parse(res.stdout.trim());
  t.notOk(out.timeout || out.error, 'the far end closed in turn');
  t.match(out.got, lab.proxies!.addr, 'through the proxy');
  t.match(out.got, /half-closed/, 'the echo of what was sent before the FIN came back');
});
