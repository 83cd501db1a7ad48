/**
 * The HTTP CONNECT exchange with a proxy (RFC 9110 section 9.3.6): the request line with
 * its Proxy-Authorization, and an incremental reader of the answer's head. The reader
 * reads as a real client does: the head may come in any number of pieces, any 2xx opens
 * the tunnel whatever the reason phrase or HTTP version, and the bytes after the blank
 * line that ends the head belong to the tunnel.
 */
import type { ProxyCredentials } from '../model/types';

/** The largest answer head read; a proxy that sends more is not answering CONNECT. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** What the bytes received so far say. */
export type HeadState =
  /** not enough bytes to tell anything yet */
  | { kind: 'partial' }
  /** these bytes are not an HTTP answer (TLS, SSH, garbage...) */
  | { kind: 'not_http'; tls: boolean }
  /** the status line is whole, the head is not finished yet */
  | { kind: 'status'; status: number; reason: string }
  /** the head is whole: it is `length` bytes long, the rest belongs to the tunnel */
  | { kind: 'head'; status: number; reason: string; length: number }
  /** the head grew past MAX_HEAD_BYTES without ending */
  | { kind: 'too_large'; status: number; reason: string };

const PREFIX = Buffer.from('HTTP/', 'latin1');
// RFC 9112 section 4: HTTP-version SP 3DIGIT SP [reason]; a missing reason is tolerated.
const STATUS_LINE = /^HTTP\/(\d)\.(\d) ([1-9]\d\d)(?:[ \t]([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
const LF = 0x0a;

/** TLS record content types a TLS peer opens with: alert (21) or handshake (22). */
const TLS_RECORD_TYPES = new Set([0x15, 0x16]);

/** The CONNECT request for `target` ("host:port"), with Basic credentials when given. */
export function connectRequest(target: string, credentials: ProxyCredentials | null): Buffer {
  const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
  if (credentials) {
    // The validator allows no ":" in the username and no CR or LF anywhere (seed: Security
    // notes), and base64 has none either, so the header cannot be split or extended.
    const token = Buffer.from(`${credentials.username}:${credentials.password}`, 'latin1');
    lines.push(`Proxy-Authorization: Basic ${token.toString('base64')}`);
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** Reads the head of a CONNECT answer from the bytes received so far. */
export function readHead(bytes: Buffer): HeadState {
  const prefix = Math.min(bytes.length, PREFIX.length);
  if (!bytes.subarray(0, prefix).equals(PREFIX.subarray(0, prefix))) {
    return { kind: 'not_http', tls: bytes.length > 0 && TLS_RECORD_TYPES.has(bytes[0]) };
  }

  const lineEnd = bytes.indexOf(LF);
  if (lineEnd < 0) {
    return bytes.length > MAX_HEAD_BYTES ? { kind: 'not_http', tls: false } : { kind: 'partial' };
  }
  const match = STATUS_LINE.exec(trimCr(bytes.subarray(0, lineEnd)).toString('latin1'));
  if (!match) return { kind: 'not_http', tls: false };
  const status = Number(match[3]);
  const reason = (match[4] ?? '').trim().slice(0, 80);

  // Header lines until the empty one; a bare LF ends a line as well as CRLF does.
  for (let at = lineEnd + 1; ; ) {
    const next = bytes.indexOf(LF, at);
    if (next < 0) break;
    if (trimCr(bytes.subarray(at, next)).length === 0) {
      return { kind: 'head', status, reason, length: next + 1 };
    }
    at = next + 1;
  }
  if (bytes.length > MAX_HEAD_BYTES) return { kind: 'too_large', status, reason };
  return { kind: 'status', status, reason };
}

/** True for a status that opens the tunnel: any 2xx. */
export function opensTunnel(status: number): boolean {
  return status >= 200 && status <= 299;
}

function trimCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
}
