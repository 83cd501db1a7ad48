/**
 * The daemon's DNS sockets: UDP and TCP on port 53 of every local workspace's gateway
 * address. A gateway that is not on the host yet (its tap not configured) is bound as soon
 * as it appears: binding is retried every second. Several workspaces may share a gateway;
 * the handler tells them apart by source address, which the guard chain has checked.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import { frame, TcpFramer } from './message';

/** Where a message came from and to which gateway it was sent. */
export interface Peer {
  address: string;
  port: number;
  /** the gateway address it was sent to */
  local: string;
  transport: 'udp' | 'tcp';
}

/** Answers one message; null sends nothing. */
export type MessageHandler = (msg: Buffer, peer: Peer) => Promise<Buffer | null>;

/** How long a TCP connection may sit idle (RFC 7766 section 6.2.3 suggests seconds). */
export const TCP_IDLE_MS = 10_000;
/** Open TCP connections per gateway; conntrack and the idle timeout bound them too. */
export const MAX_TCP_CONNECTIONS = 512;
const RETRY_MS = 1000;

interface Bound {
  udp: dgram.Socket | null;
  tcp: net.Server | null;
}

/** Binds and unbinds the gateway sockets as the set of gateways changes. */
export class GatewayListeners {
  private readonly bound = new Map<string, Bound>();
  private readonly failing = new Set<string>();
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly handle: MessageHandler,
    private readonly log: Logger,
    private readonly port = 53,
  ) {}

  /** Listens on exactly `gateways`; resolves once every address that can be bound is. */
  async follow(gateways: ReadonlySet<string>): Promise<void> {
    for (const [addr, b] of this.bound) {
      if (gateways.has(addr)) continue;
      this.bound.delete(addr);
      this.failing.delete(addr);
      b.udp?.close();
      b.tcp?.close();
    }
    await Promise.all([...gateways].filter((a) => !this.bound.has(a)).map((a) => this.bind(a)));
  }

  /** The gateways listened on now, both transports. */
  listening(): string[] {
    return [...this.bound].filter(([, b]) => b.udp && b.tcp).map(([addr]) => addr);
  }

  /** Closes every socket. */
  close(): void {
    if (this.retry) clearInterval(this.retry);
    this.retry = null;
    for (const b of this.bound.values()) (b.udp?.close(), b.tcp?.close());
    this.bound.clear();
  }

  private async bind(addr: string): Promise<void> {
    const b: Bound = this.bound.get(addr) ?? { udp: null, tcp: null };
    this.bound.set(addr, b);
    try {
      b.udp ??= await this.bindUdp(addr);
      b.tcp ??= await this.listenTcp(addr);
      if (this.failing.delete(addr)) this.log.info({ gateway: addr }, 'dns listening');
    } catch (err) {
      if (!this.failing.has(addr)) {
        this.log.warn({ err, gateway: addr }, 'dns cannot listen on the gateway yet; retrying');
      }
      this.failing.add(addr);
      this.retry ??= setInterval(() => this.retryFailing(), RETRY_MS);
      this.retry.unref();
    }
  }

  private retryFailing(): void {
    const pending = [...this.failing].filter((a) => this.bound.has(a));
    if (pending.length === 0 && this.retry) {
      clearInterval(this.retry);
      this.retry = null;
    }
    for (const addr of pending) void this.bind(addr);
  }

  private bindUdp(addr: string): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type: 'udp4' });
      // A failed bind still holds the socket; closed here, or each retry would leak one.
      sock.once('error', (err) => {
        sock.close();
        reject(err);
      });
      sock.bind({ address: addr, port: this.port, exclusive: true }, () => {
        sock.removeAllListeners('error');
        sock.on('error', (err) => this.log.error({ err, gateway: addr }, 'dns udp socket failed'));
        sock.on('message', (msg, rinfo) => {
          const peer: Peer = { address: rinfo.address, port: rinfo.port, local: addr,
            transport: 'udp' };
          void this.answer(msg, peer, (reply) => sock.send(reply, rinfo.port, rinfo.address));
        });
        resolve(sock);
      });
    });
  }

  private listenTcp(addr: string): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((conn) => this.serveTcp(conn, addr));
      server.maxConnections = MAX_TCP_CONNECTIONS;
      server.once('error', reject);
      server.listen({ host: addr, port: this.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err, gateway: addr }, 'dns tcp failed'));
        resolve(server);
      });
    });
  }

  /** One TCP connection: any number of framed queries, answered as they complete. */
  private serveTcp(conn: net.Socket, addr: string): void {
    const framer = new TcpFramer();
    const peer: Peer = { address: conn.remoteAddress?.replace(/^::ffff:/, '') ?? '',
      port: conn.remotePort ?? 0, local: addr, transport: 'tcp' };
    conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk) => {
      for (const msg of framer.push(chunk)) {
        void this.answer(msg, peer, (reply) => {
          if (!conn.destroyed) conn.write(frame(reply));
        });
      }
    });
  }

  private async answer(msg: Buffer, peer: Peer, send: (reply: Buffer) => void): Promise<void> {
    try {
      const reply = await this.handle(msg, peer);
      if (reply) send(reply);
    } catch (err) {
      this.log.error({ err, peer: peer.address }, 'dns query failed');
    }
  }
}
