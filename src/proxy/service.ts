/**
 * Custom outbound proxies as the registry sees them: the preflight and the credentials
 * before a change is committed, and after it the relay's routes, the end of connections
 * tunnelled through a proxy that changed, and of direct ones when a workspace turns custom.
 */
import type { Logger } from 'pino';
import type { CtTuple } from '../nft/types';
import type { ProxyCredentials, ProxyRequest, Workspace } from '../model/types';
import { cidrRange, parseCidr, type Ipv4Range, parseIpv4 } from '../net/ipv4';
import { stillAllowed } from '../policy/connections';
import { isProxied } from '../compile/relay';
import { preflight, type PreflightOptions } from './preflight';
import type { Relay, RelayRoute } from './relay';
import type { ProxySecrets } from './secrets';

/** What the registry calls around a change (src/service/registry.ts). */
export interface CustomProxyHooks {
  /**
   * Runs the preflight for `request` and stages its credentials. Throws the preflight's
   * ApiError, with nothing changed; otherwise returns the step that undoes the staging,
   * for a change the kernel then refuses.
   */
  prepare(ws: Workspace, request: ProxyRequest): Promise<() => Promise<void>>;
  /** Follows a committed change (`next` null: deleted). Never throws. */
  applied(prev: Workspace | null, next: Workspace | null): Promise<void>;
}

/** The conntrack calls the service uses (src/nft/addon.ts). */
export interface Conntrack {
  ctList(): Promise<CtTuple[]>;
  ctDelete(tuples: CtTuple[]): Promise<number>;
}

/** What the service needs. */
export interface ProxyServiceOptions {
  preflight: PreflightOptions;
  secrets: ProxySecrets;
  /** config workspace_network */
  workspaceNetwork: string;
  runtimeApiPort: number;
  log: Logger;
  conntrack?: Conntrack;
  /** the relay, once it runs; set with attach() */
  relay?: Relay;
}

/** The custom-proxy side of the daemon: hooks for the registry, routes for the relay. */
export class ProxyService implements CustomProxyHooks {
  private readonly routes = new Map<string, RelayRoute>();
  private readonly network: Ipv4Range;
  private relay: Relay | null;

  constructor(private readonly o: ProxyServiceOptions) {
    const parsed = parseCidr(o.workspaceNetwork);
    if (!parsed.ok) throw new RangeError(`${o.workspaceNetwork} is not a CIDR`);
    this.network = cidrRange(parsed.cidr);
    this.relay = o.relay ?? null;
  }

  /** Connects the relay whose connections this service ends. */
  attach(relay: Relay): void {
    this.relay = relay;
  }

  /** Rebuilds the relay's routes from the desired state loaded at start. */
  restore(workspaces: Iterable<Workspace>): void {
    for (const ws of workspaces) {
      if (ws.interface !== null && isProxied(ws)) this.routes.set(ws.ip, this.routeOf(ws));
    }
  }

  /** The relay's route for a source address: its workspace, proxy and credentials. */
  route(source: string): RelayRoute | null {
    return this.routes.get(source) ?? null;
  }

  /** See CustomProxyHooks.prepare. */
  async prepare(ws: Workspace, request: ProxyRequest): Promise<() => Promise<void>> {
    const credentials = credentialsOf(request);
    const endpoint = { host: request.host, port: request.port, protocol: request.protocol };
    const result = await preflight(endpoint, credentials, this.o.preflight);
    this.o.log.info({ workspace: ws.id, proxy: `${request.host}:${request.port}`, ...result },
      'proxy preflight passed');

    const before = this.o.secrets.get(ws.id);
    if (credentials) await this.o.secrets.set(ws.id, credentials);
    else await this.o.secrets.delete(ws.id);
    return async () => {
      if (before) await this.o.secrets.set(ws.id, before);
      else await this.o.secrets.delete(ws.id);
    };
  }

  /** See CustomProxyHooks.applied. */
  async applied(prev: Workspace | null, next: Workspace | null): Promise<void> {
    try {
      await this.follow(prev, next);
    } catch (err) {
      this.o.log.error({ err, workspace: (next ?? prev)?.id }, 'custom proxy follow-up failed');
    }
  }

  private async follow(prev: Workspace | null, next: Workspace | null): Promise<void> {
    const id = (next ?? prev)!.id;
    const old = prev ? this.routes.get(prev.ip) ?? null : null;
    if (prev && old?.workspace === id) this.routes.delete(prev.ip);

    const route = next && next.interface !== null && isProxied(next) ? this.routeOf(next) : null;
    if (route) this.routes.set(next!.ip, route);
    if (!next || next.network.outbound_mode !== 'custom') await this.o.secrets.delete(id);

    // A proxy that changed or went away takes its tunnels with it; one that stays keeps
    // those its egress still allows.
    const relay = this.relay;
    let ended = 0;
    if (relay && old && !sameRoute(old, route)) ended = relay.end(id);
    else if (relay && route && next) ended = relay.end(id, (c) => !this.allows(next, c.dst));
    if (ended > 0) this.o.log.info({ workspace: id, ended }, 'relayed connections ended');

    // Turning custom ends what the workspace had opened direct: nothing bypasses the proxy.
    if (next && route && !(prev && isProxied(prev))) await this.endDirect(next);
  }

  private routeOf(ws: Workspace): RelayRoute {
    const proxy = ws.network.custom_proxy!;
    return {
      workspace: ws.id,
      proxy: { host: proxy.host, port: proxy.port, protocol: proxy.protocol },
      credentials: proxy.has_credentials ? this.o.secrets.get(ws.id) : null,
    };
  }

  private allows(ws: Workspace, dst: { address: string; port: number }): boolean {
    const tuple = { proto: 6, src: ws.ip, dst: dst.address, sport: 0, dport: dst.port };
    const ctx = { workspaceNet: this.network, runtimeApiPort: this.o.runtimeApiPort,
      registry: new Map([[ws.id, ws]]) };
    return stillAllowed(ws, tuple, ctx);
  }

  private async endDirect(ws: Workspace): Promise<void> {
    if (!this.o.conntrack) return;
    const [first, last] = this.network;
    const tuples = await this.o.conntrack.ctList();
    const direct = tuples.filter((t) => {
      const dst = parseIpv4(t.dst) ?? 0;
      return t.src === ws.ip && t.dst !== ws.gateway && (dst < first || dst > last);
    });
    if (direct.length === 0) return;
    const ended = await this.o.conntrack.ctDelete(direct);
    this.o.log.info({ workspace: ws.id, ended }, 'direct connections ended');
  }
}

function credentialsOf(request: ProxyRequest): ProxyCredentials | null {
  if (request.username === null || request.password === null) return null;
  return { username: request.username, password: request.password };
}

function sameRoute(a: RelayRoute, b: RelayRoute | null): boolean {
  if (b === null) return false;
  const ca = a.credentials;
  const cb = b.credentials;
  return a.proxy.host === b.proxy.host && a.proxy.port === b.proxy.port &&
    a.proxy.protocol === b.proxy.protocol && ca?.username === cb?.username &&
    ca?.password === cb?.password;
}
