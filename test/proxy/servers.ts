/**
 * Small misbehaving proxies on the loopback address, one per preflight verdict, for the
 * preflight's unit tests. Each answers every connection with its `behave` function.
 */
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A server on 127.0.0.1 and what its clients sent. */
export interface FakeProxy {
  port: number;
  /** the bytes each connection sent, as latin1 text */
  requests: string[];
  close(): Promise<void>;
}

/** What a fake proxy does with one connection. */
export type Behave = (socket: net.Socket) => void;

/** Starts a plain TCP fake proxy. */
export function fakeProxy(behave: Behave): Promise<FakeProxy> {
  return listen(net.createServer(), behave);
}

/** Starts a TLS fake proxy with `cert`. */
export function fakeTlsProxy(cert: TestCert, behave: Behave): Promise<FakeProxy> {
  return listen(tls.createServer({ key: cert.key, cert: cert.cert }), behave, 'secureConnection');
}

function listen(server: net.Server, behave: Behave, event = 'connection'): Promise<FakeProxy> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  server.on(event, (socket: net.Socket) => {
    sockets.add(socket);
    const index = requests.push('') - 1;
    socket.on('data', (chunk: Buffer) => (requests[index] += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    behave(socket);
  });
  server.on('tlsClientError', () => undefined);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        requests,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}

/** A loopback port that nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Sends `parts` one after another, `gapMs` apart, after the request's head arrived. */
export function answerInPieces(parts: string[], gapMs = 20, then?: (s: net.Socket) => void) {
  return (socket: net.Socket) => {
    afterRequest(socket, async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(Buffer.from(part, 'latin1'));
        await new Promise((r) => setTimeout(r, gapMs));
      }
      then?.(socket);
    });
  };
}

/** Runs `fn` once the client's request head (up to the blank line) has arrived. */
export function afterRequest(socket: net.Socket, fn: () => void): void {
  let text = '';
  const onData = (chunk: Buffer) => {
    text += chunk.toString('latin1');
    if (text.includes('\r\n\r\n')) {
      socket.removeListener('data', onData);
      fn();
    }
  };
  socket.on('data', onData);
}

/** A self-signed certificate for 127.0.0.1, made with openssl. */
export interface TestCert {
  key: string;
  cert: string;
}

/** Makes a throw-away certificate whose subjectAltName is IP:127.0.0.1. */
export function makeCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'preflight-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
      'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=test proxy',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
