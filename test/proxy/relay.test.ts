/**
 * The relay's limits on the loopback address, without netfilter: the original destination
 * is given, and the proxy is a fake one that opens every tunnel and echoes what it carries.
 * A connection silent past the idle timeout is reset; one past the connection limit is
 * reset at once; both refusals are logged. The pumps carry a half-close and hold bytes
 * back, never lose them, when a side reads slowly.
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import pino from 'pino';
import { Relay, type RelayOptions } from '../../src/proxy/relay';
import { afterRequest, closedPort, fakeProxy, type FakeProxy } from './servers';

/** A proxy that answers 200 to the CONNECT and then echoes the tunnel's bytes. */
function echoProxy(): Promise<FakeProxy> {
  return fakeProxy((socket) => afterRequest(socket, () => {
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    socket.pipe(socket);
  }));
}

/** A relay in front of `proxy` for every source, and the messages it logged. */
async function startRelay(t: Test, proxy: FakeProxy, extra: Partial<RelayOptions>) {
  const lines: { msg: string; [key: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const port = await closedPort();
  const relay = new Relay({
    port,
    host: '127.0.0.1',
    route: () => ({ workspace: 'ws_a', credentials: null,
      proxy: { host: '127.0.0.1', port: proxy.port, protocol: 'http' } }),
    originalDst: () => ({ address: '198.51.100.1', port: 80 }),
    timeoutMs: 2000,
    log,
    ...extra,
  });
  await relay.start();
  t.teardown(() => relay.close());
  return { relay, port, lines };
}

/** Connects to the relay and waits for "hi" to come back through the tunnel. */
async function echoed(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.write('hi');
  await new Promise<void>((resolve, reject) => {
    socket.once('data', (chunk) => (chunk.toString() === 'hi' ? resolve() : reject(chunk)));
    socket.once('close', () => reject(new Error('closed before the echo')));
  });
  return socket;
}

/** How a socket ended: 'reset' (ECONNRESET) or 'closed', and after how many ms. */
function ending(socket: net.Socket): Promise<{ how: string; ms: number }> {
  const start = Date.now();
  let how = 'closed';
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') how = 'reset';
  });
  socket.resume();
  return new Promise((resolve) => socket.once('close', () => resolve({ how,
    ms: Date.now() - start })));
}

let proxy: FakeProxy;
t.before(async () => (proxy = await echoProxy()));
t.teardown(() => proxy.close());

t.test('a connection silent past the idle timeout is reset, and logged', async (t) => {
  const { relay, port, lines } = await startRelay(t, proxy, { idleTimeoutMs: 300 });
  const socket = await echoed(port);
  t.equal(relay.count('ws_a'), 1);

  const end = await ending(socket);
  t.equal(end.how, 'reset');
  t.ok(end.ms >= 200 && end.ms < 2000, `reset after ${end.ms} ms`);
  t.match(lines, [{ msg: 'relay connection idle: reset', workspace: 'ws_a', port: 80 }]);
});

t.test('traffic keeps a connection past the idle timeout', async (t) => {
  const { port } = await startRelay(t, proxy, { idleTimeoutMs: 300 });
  const socket = await echoed(port);
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 100));
    socket.write('.');
  }
  t.notOk(socket.destroyed, 'open after 600 ms of traffic every 100 ms');
  socket.destroy();
});

t.test('past the connection limit a new connection is reset, and logged', async (t) => {
  const { relay, port, lines } = await startRelay(t, proxy, { maxConnections: 1 });
  const first = await echoed(port);

  const second = net.connect({ host: '127.0.0.1', port });
  const end = await ending(second);
  t.equal(end.how, 'reset');
  t.equal(relay.count(), 1, 'the first still open');
  t.match(lines, [{ msg: 'relay refused: connection limit', open: 1, refused: 1 }]);

  // Refusals within the next second are counted into one line, written when it ends.
  for (let i = 0; i < 3; i++) await ending(net.connect({ host: '127.0.0.1', port }));
  t.equal(lines.length, 1, 'nothing more at once');
  await new Promise((r) => setTimeout(r, 1100));
  t.match(lines, [{}, { msg: 'relay refused: connection limit', refused: 3 }]);

  // Once the first closes, its place is free again.
  first.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const third = await echoed(port);
  t.pass('a connection within the limit is relayed');
  third.destroy();
});

t.test('a half-close crosses the relay and the other direction keeps flowing', async (t) => {
  const { port } = await startRelay(t, proxy, {});
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let got = '';
  socket.on('data', (chunk) => (got += chunk.toString()));
  socket.end('abc');
  await new Promise((resolve) => socket.once('end', resolve));
  t.equal(got, 'abc', 'the echo arrived after the client had ended its side');
  socket.destroy();
});

t.test('bytes written faster than read all arrive, in order (back-pressure)', async (t) => {
  const { port } = await startRelay(t, proxy, {});
  const socket = await echoed(port);
  const sent = Buffer.alloc(8 << 20);
  for (let i = 0; i < sent.length; i++) sent[i] = (i * 7) & 0xff;

  // Nothing is read for a while, so every buffer on the way fills and the pumps pause.
  socket.pause();
  socket.end(sent);
  await new Promise((r) => setTimeout(r, 200));
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  await new Promise((resolve) => socket.once('end', resolve));
  t.ok(Buffer.concat(chunks).equals(sent), '8 MiB echoed intact');
});
