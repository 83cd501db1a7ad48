/**
 * Opening a CONNECT tunnel through a user's proxy: TCP (or TLS for an `https` proxy) to the
 * proxy, the CONNECT request, and the answer's head. The preflight and the relay both open
 * tunnels this way, so a proxy that passes the preflight is spoken to by the relay exactly
 * as it was tested. A failure says which of the seed's preflight verdicts it is.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ProxyCredentials } from '../model/types';
import { connectRequest, opensTunnel, readHead } from './connect';

/** Where a proxy listens and how to speak to it. */
export interface ProxyEndpoint {
  host: string;
  port: number;
  protocol: 'http' | 'https';
}

/** The seed's preflight verdicts (seed: Custom outbound proxy, Errors), without the prefix. */
export type TunnelVerdict =
  | 'protocol_mismatch'
  | 'auth_required'
  | 'bad_status'
  | 'unreachable'
  | 'timeout'
  | 'closed';

/** What openTunnel needs. */
export interface TunnelOptions {
  proxy: ProxyEndpoint;
  credentials: ProxyCredentials | null;
  /** what to CONNECT to, "host:port" */
  target: string;
  /** the limit for the whole exchange: TCP, TLS and the answer's head */
  timeoutMs: number;
  /** the certificates trusted for https proxies (PEM); node's own store when absent */
  ca?: readonly string[];
  /** a shorter limit for the TCP connection and TLS handshake alone, if any */
  handshakeMs?: number;
}

/** An open tunnel: the socket, paused, with any bytes past the head put back in front. */
export interface Tunnel {
  socket: net.Socket;
  /** the TCP socket under `socket` (the same one for an http proxy), to reset */
  raw: net.Socket;
  status: number;
}

/** Why a tunnel did not open. The message never holds the credentials. */
export class TunnelError extends Error {
  /** @param verdict the preflight verdict; @param detail what happened, for a person */
  constructor(
    readonly verdict: TunnelVerdict,
    readonly detail: string,
    options?: { cause?: unknown; silent?: boolean; handshake?: boolean },
  ) {
    super(detail, options);
    this.name = 'TunnelError';
    this.silent = options?.silent ?? false;
    this.handshake = options?.handshake ?? false;
  }

  /** true when TCP connected but the TLS handshake went unanswered */
  readonly handshake: boolean;

  /** true when the proxy closed after the request without sending a single byte */
  readonly silent: boolean;
}

// Errors that mean the proxy's address or port cannot be reached from this host.
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL',
]);

type Phase = 'tcp' | 'tls' | 'answer';

/** Opens a tunnel to `o.target` through `o.proxy`, or rejects with a TunnelError. */
export function openTunnel(o: TunnelOptions): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const secure = o.proxy.protocol === 'https';
    let phase: Phase = 'tcp';
    let received: Buffer = Buffer.alloc(0);
    let done = false;

    // Half-open both ways: the tunnel carries each direction's end on its own. A TLS socket
    // takes that from the TCP socket it wraps.
    // No Nagle delay of its own: the ends decide when their bytes go (the relay writes each
    // chunk it reads at once, and a small one held back is a round trip lost).
    const raw = net.connect({ host: o.proxy.host, port: o.proxy.port, allowHalfOpen: true,
      noDelay: true });
    const socket: net.Socket = secure
      ? tls.connect({ socket: raw, host: o.proxy.host, ca: o.ca ? [...o.ca] : undefined })
      : raw;
    raw.on('connect', () => {
      phase = secure ? 'tls' : 'answer';
      if (!secure) socket.write(connectRequest(o.target, o.credentials));
    });
    socket.on('secureConnect', () => {
      phase = 'answer';
      socket.write(connectRequest(o.target, o.credentials));
    });

    const finish = (err: TunnelError | null, tunnel?: Tunnel) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(tunnel!);
      }
    };
    const timer = setTimeout(() => finish(timeout(phase, o, o.timeoutMs)), o.timeoutMs);
    const handshake = o.handshakeMs ?? o.timeoutMs;
    if (handshake < o.timeoutMs) {
      const early = setTimeout(() => phase !== 'answer' && finish(timeout(phase, o, handshake)),
        handshake);
      socket.once('close', () => clearTimeout(early));
      socket.once('secureConnect', () => clearTimeout(early));
    }

    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const head = readHead(received);
      if (head.kind === 'partial' || head.kind === 'status' && opensTunnel(head.status)) return;
      if (head.kind === 'not_http') return finish(notHttp(head.tls, secure));
      if (head.kind === 'status' || head.kind === 'too_large') {
        return finish(refused(head.status, head.reason));
      }
      if (!opensTunnel(head.status)) return finish(refused(head.status, head.reason));

      // The tunnel is open: what came after the head is the far end's first bytes.
      socket.pause();
      if (received.length > head.length) socket.unshift(received.subarray(head.length));
      finish(null, { socket, raw, status: head.status });
    };
    socket.on('data', onData);

    // The error listener stays after the tunnel opens, until the relay sets its own; the
    // others go, so that a tunnel's end builds no error nobody reads.
    const onError = (err: NodeJS.ErrnoException) => done || finish(failed(err, phase, received));
    socket.on('error', onError);
    if (secure) raw.on('error', onError);
    const onEnd = () => done || finish(ended(phase, received, secure));
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}

function timeout(phase: Phase, o: TunnelOptions, ms: number): TunnelError {
  const what = {
    tcp: 'did not accept a TCP connection (no answer to the SYN)',
    tls: 'did not complete a TLS handshake',
    answer: 'did not answer the CONNECT request',
  }[phase];
  return new TunnelError('timeout', `the proxy ${what} within ${ms} ms`, {
    handshake: phase === 'tls',
  });
}

function refused(status: number, reason: string): TunnelError {
  const said = reason ? `${status} ${reason}` : String(status);
  // 407 is the proxy's own "who are you" (RFC 9110 section 15.5.8); some proxies (tinyproxy)
  // answer wrong credentials with 401 instead.
  if (status === 407 || status === 401) {
    return new TunnelError('auth_required', `the proxy demands other credentials (${said})`);
  }
  return new TunnelError('bad_status', `the proxy answered CONNECT with ${said}`);
}

function notHttp(tlsRecord: boolean, secure: boolean): TunnelError {
  if (tlsRecord && !secure) {
    return new TunnelError('protocol_mismatch',
      'the proxy answered with TLS; set protocol "https" for a TLS proxy');
  }
  return new TunnelError('protocol_mismatch', 'the proxy did not answer in HTTP');
}

function failed(err: NodeJS.ErrnoException, phase: Phase, received: Buffer): TunnelError {
  const code = err.code ?? 'error';
  if (phase === 'tcp' && UNREACHABLE.has(code)) {
    return new TunnelError('unreachable', `cannot connect to the proxy (${code})`, { cause: err });
  }
  if (phase === 'tcp' && code === 'ETIMEDOUT') {
    return new TunnelError('timeout', 'the TCP connection to the proxy timed out', { cause: err });
  }
  if (phase === 'tls') return handshakeFailed(err);
  return ended(phase, received, false, code);
}

/** A TLS handshake that failed: not TLS at all, or a certificate this host does not trust. */
function handshakeFailed(err: NodeJS.ErrnoException): TunnelError {
  const code = err.code ?? '';
  if (/CERT|SIGNATURE|ISSUER|ALTNAME|VERIFY/.test(code)) {
    return new TunnelError('protocol_mismatch',
      `the proxy's TLS certificate is not trusted (${code}); add its CA to proxy_ca_file`,
      { cause: err });
  }
  return new TunnelError('protocol_mismatch',
    `the TLS handshake with the proxy failed (${code || 'closed'}); is it an http proxy?`,
    { cause: err });
}

function ended(phase: Phase, received: Buffer, secure: boolean, code?: string): TunnelError {
  if (phase === 'tls') return handshakeFailed({ code } as NodeJS.ErrnoException);
  if (phase === 'tcp') return new TunnelError('unreachable', 'cannot connect to the proxy');

  const head = readHead(received);
  if (head.kind === 'not_http') return notHttp(head.tls, secure);
  if (head.kind === 'status' || head.kind === 'too_large') {
    if (!opensTunnel(head.status)) return refused(head.status, head.reason);
  }
  const how = code && code !== 'ECONNRESET' ? ` (${code})` : code ? ' with a reset' : '';
  const what = received.length === 0 ? 'without answering' : 'in the middle of its answer';
  return new TunnelError('closed', `the proxy closed the connection${how} ${what}`, {
    silent: received.length === 0,
  });
}

/**
 * True when `proxy` completes a TLS handshake, or fails one with a TLS alert: it speaks TLS.
 * A TLS server that gets a plain CONNECT usually closes without a byte, which alone reads
 * as a close; this second look tells the user the protocol is what is wrong.
 */
export function speaksTls(proxy: ProxyEndpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Only the protocol is in question here, not whom the certificate names.
    const socket = tls.connect({ host: proxy.host, port: proxy.port, rejectUnauthorized: false });
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(/_ALERT_/.test(err.code ?? '')));
    socket.once('close', () => done(false));
  });
}

/**
 * True when `proxy` answers a plain CONNECT with an HTTP status line within `timeoutMs`: it
 * is an http proxy. A plain proxy that gets a TLS ClientHello usually waits for the end
 * of a request line that never comes, which alone reads as silence.
 */
export function speaksHttp(proxy: ProxyEndpoint, target: string, timeoutMs: number) {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port });
    let received = Buffer.alloc(0);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write(connectRequest(target, null)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const head = readHead(received);
      if (head.kind !== 'partial') done(head.kind !== 'not_http');
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}
