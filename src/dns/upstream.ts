/**
 * The host's resolvers, which the daemon asks on behalf of workspaces (config dns.upstream,
 * by default the nameservers of /etc/resolv.conf). Each question goes out from a fresh UDP
 * socket with a random id and port (RFC 5452), and again over TCP when the answer comes
 * back truncated. Servers are tried in order until one answers.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DecodedPacket, Question } from 'dns-packet';
import { isIpv4 } from '../net/ipv4';
import { encodeUpstreamQuery, frame, readResponse, TcpFramer } from './message';
import { canonicalName } from './policy';

/** One upstream resolver. */
export interface UpstreamServer {
  host: string;
  port: number;
}

/** Reads "ADDR" or "ADDR:PORT" (IPv4); null when it is neither. */
export function parseUpstream(text: string): UpstreamServer | null {
  const [host, port, extra] = text.split(':');
  if (extra !== undefined || !isIpv4(host)) return null;
  if (port === undefined) return { host, port: 53 };
  if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535) return null;
  return { host, port: Number(port) };
}

/** The IPv4 nameservers of a resolv.conf text, in order (resolv.conf(5)). */
export function resolvConfServers(text: string): UpstreamServer[] {
  return text
    .split('\n')
    .map((line) => line.replace(/[#;].*$/, '').trim().split(/\s+/))
    .filter((f) => f[0] === 'nameserver' && f.length >= 2 && isIpv4(f[1]))
    .map((f) => ({ host: f[1], port: 53 }));
}

/** The configured servers, or /etc/resolv.conf's when the config names none. */
export function upstreamServers(configured: readonly string[] | null): UpstreamServer[] {
  if (configured !== null) return configured.map((s) => parseUpstream(s)!);
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // No resolv.conf: the resolver library's own default is the local host.
  }
  const servers = resolvConfServers(text);
  return servers.length > 0 ? servers : [{ host: '127.0.0.1', port: 53 }];
}

/** Thrown when no upstream answered the question. */
export class UpstreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/** Asks the upstream resolvers. */
export class Upstream {
  /** @param timeoutMs how long each server gets, per transport */
  constructor(
    readonly servers: readonly UpstreamServer[],
    private readonly timeoutMs: number,
  ) {}

  /** The upstream's response to `question`; throws UpstreamError when none answers. */
  async query(question: Question): Promise<DecodedPacket> {
    let last: unknown = null;
    for (const server of this.servers) {
      try {
        const viaUdp = await this.ask(server, question, 'udp');
        return viaUdp.flag_tc ? await this.ask(server, question, 'tcp') : viaUdp;
      } catch (err) {
        last = err;
      }
    }
    const where = this.servers.map((s) => `${s.host}:${s.port}`).join(', ');
    throw new UpstreamError(`no upstream resolver answered (${where})`, { cause: last });
  }

  private ask(s: UpstreamServer, q: Question, how: 'udp' | 'tcp'): Promise<DecodedPacket> {
    const id = randomInt(0, 65536);
    const msg = encodeUpstreamQuery(id, q);
    const matches = (res: DecodedPacket) =>
      res.id === id &&
      res.questions?.length === 1 &&
      canonicalName(res.questions[0].name) === canonicalName(q.name) &&
      res.questions[0].type === q.type;
    return how === 'udp' ? this.udp(s, msg, matches) : this.tcp(s, msg, matches);
  }

  private udp(s: UpstreamServer, msg: Buffer, matches: (r: DecodedPacket) => boolean) {
    return new Promise<DecodedPacket>((resolve, reject) => {
      const sock = dgram.createSocket('udp4');
      let finished = false;
      const done = (err: Error | null, res?: DecodedPacket) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        sock.close();
        if (err) reject(err);
        else resolve(res!);
      };
      const timeout = () => done(new UpstreamError(`${s.host} timed out`));
      const timer = setTimeout(timeout, this.timeoutMs);

      // Anything but the answer to this question from this server is ignored (RFC 5452).
      sock.on('message', (buf, peer) => {
        if (peer.address !== s.host || peer.port !== s.port) return;
        const res = readResponse(buf);
        if (res && matches(res)) done(null, res);
      });
      sock.on('error', (err) => done(err));
      sock.send(msg, s.port, s.host);
    });
  }

  private tcp(s: UpstreamServer, msg: Buffer, matches: (r: DecodedPacket) => boolean) {
    return new Promise<DecodedPacket>((resolve, reject) => {
      const sock = net.connect({ host: s.host, port: s.port });
      const framer = new TcpFramer();
      let finished = false;
      const done = (err: Error | null, res?: DecodedPacket) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(res!);
      };
      const timeout = () => done(new UpstreamError(`${s.host} timed out`));
      const timer = setTimeout(timeout, this.timeoutMs);

      sock.on('connect', () => sock.write(frame(msg)));
      sock.on('data', (chunk) => {
        for (const buf of framer.push(chunk)) {
          const res = readResponse(buf);
          if (res && matches(res)) return done(null, res);
        }
      });
      sock.on('error', (err) => done(err));
      sock.on('end', () => done(new UpstreamError(`${s.host} closed the connection`)));
    });
  }
}
