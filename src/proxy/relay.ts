/**
 * The transparent relay of custom-mode workspaces. The kernel DNATs every allowed outbound
 * TCP connection of such a workspace to this server (src/compile/workspace.ts, `<id>_relay`);
 * the relay reads where the connection was going (SO_ORIGINAL_DST), opens a CONNECT tunnel
 * there through the workspace's own proxy, and pumps both ways with back-pressure and
 * half-close. It fails closed: a connection it cannot tunnel is reset, never sent direct.
 *
 * Its own connections to proxies start on the host, so they pass the output hook, never
 * prerouting where the redirect lives: they are not redirected again.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { ProxyCredentials } from '../model/types';
import { originalDst, type Destination } from './original-dst';
import { openTunnel, TunnelError, type ProxyEndpoint } from './tunnel';

/** Where the connections of one workspace go. */
export interface RelayRoute {
  workspace: string;
  proxy: ProxyEndpoint;
  credentials: ProxyCredentials | null;
}

/** What the relay needs. */
export interface RelayOptions {
  /** config relay_port */
  port: number;
  /** the address to listen on (every address by default: each gateway is one) */
  host?: string;
  /** the route of the custom-mode workspace with this source address, or null */
  route(source: string): RelayRoute | null;
  /** the limit to open a tunnel: TCP, TLS and the proxy's answer */
  timeoutMs: number;
  /** config relay_idle_timeout_s, in ms: a connection silent both ways this long is reset */
  idleTimeoutMs?: number;
  /** config relay_max_connections: past it a new connection is reset at once */
  maxConnections?: number;
  /** trusted certificates for https proxies */
  ca?: readonly string[];
  log: Logger;
  /** reads a connection's original destination; the addon's SO_ORIGINAL_DST by default */
  originalDst?: (socket: net.Socket) => Destination;
}

/** One relayed connection: the workspace's side and the tunnel. */
export interface RelayedConnection {
  workspace: string;
  dst: Destination;
  client: net.Socket;
  /** the TCP socket to the proxy (under TLS for an https proxy), once the tunnel opened */
  upstream: net.Socket | null;
  /** the TCP socket to the proxy, to reset */
  raw: net.Socket | null;
}

/** The relay server. */
export class Relay {
  private readonly server: net.Server;
  private readonly byWorkspace = new Map<string, Set<RelayedConnection>>();
  /** connections accepted and not yet closed, tunnelled or not */
  private open = 0;
  private listening = 0;
  private readonly refusals: RefusalLog;

  constructor(private readonly o: RelayOptions) {
    this.refusals = new RefusalLog(o.log, () => this.open);
    const options = { allowHalfOpen: true, pauseOnConnect: true, noDelay: true };
    this.server = net.createServer(options, (socket) => {
      if (this.open >= (this.o.maxConnections ?? Infinity)) {
        this.refusals.note();
        return reset(socket);
      }
      this.open++;
      socket.once('close', () => this.open--);
      this.accept(socket).catch((err) => {
        this.o.log.error({ err }, 'relay connection failed');
        reset(socket);
      });
    });
  }

  /** Listens on the relay port; resolves once it accepts connections. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: this.o.port, host: this.o.host ?? '0.0.0.0' }, () => {
        this.server.removeListener('error', reject);
        this.listening = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** The port the relay listens on (the configured one, or the one given for port 0). */
  port(): number {
    return this.listening;
  }

  /** Stops accepting; open connections are left to finish. */
  async close(): Promise<void> {
    if (this.server.listening) this.server.close();
  }

  /** How many connections a workspace (or every workspace) has open through the relay. */
  count(workspace?: string): number {
    if (workspace !== undefined) return this.byWorkspace.get(workspace)?.size ?? 0;
    let n = 0;
    for (const set of this.byWorkspace.values()) n += set.size;
    return n;
  }

  /**
   * Resets a workspace's relayed connections, all of them or those `doomed` picks (for a
   * proxy changed or cleared, or a destination its egress no longer allows). Returns how
   * many were ended.
   */
  end(workspace: string, doomed: (c: RelayedConnection) => boolean = () => true): number {
    let ended = 0;
    for (const c of [...(this.byWorkspace.get(workspace) ?? [])]) {
      if (!doomed(c)) continue;
      this.drop(c);
      resetPair(c);
      ended++;
    }
    return ended;
  }

  private async accept(client: net.Socket): Promise<void> {
    client.on('error', () => undefined);
    const source = client.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    const dst = this.destination(client);
    if (dst === null) return;

    const route = this.o.route(source);
    if (route === null) {
      this.o.log.info({ source, port: dst.port }, 'relay refused: not a custom-proxy workspace');
      return reset(client);
    }

    const c: RelayedConnection = { workspace: route.workspace, dst, client, upstream: null,
      raw: null };
    this.track(c);
    try {
      const tunnel = await openTunnel({
        proxy: route.proxy,
        credentials: route.credentials,
        target: `${dst.address}:${dst.port}`,
        timeoutMs: this.o.timeoutMs,
        ca: this.o.ca,
      });
      c.upstream = tunnel.socket;
      c.raw = tunnel.raw;
    } catch (err) {
      this.drop(c);
      const why = err instanceof TunnelError ? err.verdict : 'error';
      this.o.log.info({ workspace: route.workspace, port: dst.port, why }, 'relay tunnel refused');
      return reset(client);
    }
    if (client.destroyed || !this.isTracked(c)) return resetPair(c);
    this.pipe(c);
  }

  /** The original destination, or null after resetting a connection that was not redirected. */
  private destination(client: net.Socket): Destination | null {
    let dst: Destination;
    try {
      dst = (this.o.originalDst ?? originalDst)(client);
    } catch (err) {
      this.o.log.info({ err: (err as Error).message }, 'relay refused: no original destination');
      reset(client);
      return null;
    }
    // Untranslated, the original destination is the relay itself: someone dialled it. An
    // accepted socket's local port is the one listened on, so only that port costs a lookup.
    const local = () => client.localAddress?.replace(/^::ffff:/, '');
    if (dst.port === this.port() && dst.address === local()) {
      this.o.log.info({ source: client.remoteAddress }, 'relay refused: not redirected');
      reset(client);
      return null;
    }
    return dst;
  }

  /** Both directions, each ending on its own (half-close); an error resets both sides. */
  private pipe(c: RelayedConnection): void {
    const upstream = c.upstream!;
    const fail = () => resetPair(c);
    c.client.on('error', fail);
    upstream.on('error', fail);

    let closed = 0;
    const onClose = () => {
      if (++closed === 2) this.drop(c);
    };
    c.client.once('close', onClose);
    upstream.once('close', onClose);

    // The client's socket sees every byte either way, so its timer measures silence both ways.
    const idle = this.o.idleTimeoutMs ?? 0;
    if (idle > 0) {
      c.client.setTimeout(idle, () => {
        this.o.log.info({ workspace: c.workspace, port: c.dst.port, idle_s: idle / 1000 },
          'relay connection idle: reset');
        resetPair(c);
      });
    }

    // TODO(#8): each byte is copied in and out of Node here, with JavaScript per 64 KiB;
    // splice(2) in the addon would do neither (README, Performance: the relay).
    pump(c.client, upstream);
    pump(upstream, c.client);
    c.client.resume();
    upstream.resume();
  }

  private track(c: RelayedConnection): void {
    let set = this.byWorkspace.get(c.workspace);
    if (!set) this.byWorkspace.set(c.workspace, (set = new Set()));
    set.add(c);
  }

  private isTracked(c: RelayedConnection): boolean {
    return this.byWorkspace.get(c.workspace)?.has(c) ?? false;
  }

  private drop(c: RelayedConnection): void {
    const set = this.byWorkspace.get(c.workspace);
    set?.delete(c);
    if (set?.size === 0) this.byWorkspace.delete(c.workspace);
  }
}

/**
 * One direction: what `from` sends is written to `to`, `from` paused while `to` buffers
 * (back-pressure), and its end becomes `to`'s (half-close). What `Readable.pipe` does,
 * with three listeners instead of its seven: this is paid twice per connection, and
 * errors need no unpiping here, since any error resets both sockets.
 */
function pump(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.once('end', () => to.end());
}

/**
 * The log of connections refused at the limit: the first at once, then at most one line a
 * second with how many were refused since, so that a flood does not flood the log too.
 */
class RefusalLog {
  private last = 0;
  private since = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly log: Logger, private readonly open: () => number) {}

  note(): void {
    this.since++;
    if (this.timer) return;
    const wait = this.last + 1000 - Date.now();
    if (wait <= 0) return this.flush();
    this.timer = setTimeout(() => this.flush(), wait).unref();
  }

  private flush(): void {
    this.log.info({ open: this.open(), refused: this.since }, 'relay refused: connection limit');
    this.last = Date.now();
    this.since = 0;
    this.timer = null;
  }
}

/** Ends a TCP connection with a reset, so the other end fails at once and visibly. */
function reset(socket: net.Socket | null): void {
  if (!socket || socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function resetPair(c: RelayedConnection): void {
  reset(c.client);
  c.upstream?.destroy();
  reset(c.raw);
}
