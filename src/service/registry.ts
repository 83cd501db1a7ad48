/**
 * The desired state of this host: every known workspace and its network policy, and the
 * operations the API performs on it.
 *
 * Every change follows one path: check it against the current state, compute the next
 * workspace, have the enforcer make the kernel match, and only then store it. When the
 * enforcer throws, nothing is stored and the error goes back to the caller.
 *
 * Requests for one workspace run in arrival order. Requests of different workspaces that
 * queue while a transaction is in flight share the next one (./group-commit): each is
 * planned against the state the ones before it leave, so a PUT or DELETE, which can change
 * what other workspaces' private links resolve to, is seen by every request after it.
 */
import type { Logger } from 'pino';
import { ApiError } from '../api/errors';
import type { Enforcer } from '../enforce/types';
import { type Cidr, parseCidr } from '../net/ipv4';
import { resolveLinks } from '../model/links';
import { applyPatch } from '../model/patch';
import type { NetworkPatch, WorkspaceInput } from '../model/schema';
import { defaultPolicy, type Plan, type Workspace } from '../model/types';
import { type NetworkView, type PatchView, networkView, patchView } from '../model/view';
import type { CustomProxyHooks } from '../proxy/service';
import { KeyedQueue } from './queue';
import { GroupCommit, type Registry, type Request } from './group-commit';
import type { DurableState } from '../state/durable';
import type { Zone } from '../config';
import { ZonePool } from '../outbound/pool';
import { checkPlacement } from './placement';
import { PersistentMap } from './persistent-map';

/** What the registry needs from the daemon. */
export interface RegistryOptions {
  enforcer: Enforcer;
  /** plans allowed to use a custom proxy (config custom_proxy_plans) */
  customProxyPlans: readonly Plan[];
  /** the workspace network (config workspace_network); a workspace ip must be inside it */
  workspaceNetwork?: string;
  /** the host's own interfaces (the uplink), which no workspace may claim as its tap */
  hostInterfaces?: readonly string[];
  /** the dedicated outbound IP pool (config zones) */
  zones?: readonly Zone[];
  logger?: Logger;
  /** the desired state as stored (src/state): the registry starts from it */
  initial?: Iterable<Workspace>;
  /** stores each change once the kernel has it, before the caller hears of it */
  durable?: DurableState;
  /** custom outbound proxies: preflight, credentials, relay (src/proxy/service.ts) */
  proxies?: CustomProxyHooks;
}

/** A row of GET /workspaces. */
export interface WorkspaceSummary {
  id: string;
  ip: string;
  interface: string | null;
}

/** What PUT did: the stored workspace, and whether it was new. */
export interface PutResult {
  created: boolean;
  workspace: Workspace;
}

/** The in-memory desired state and the operations on it. */
export class WorkspaceRegistry {
  /** Immutable: every change makes a new one, so a snapshot handed out stays as it was. */
  private workspaces: PersistentMap<Workspace>;
  private readonly queue = new KeyedQueue();
  private readonly commits: GroupCommit;
  private readonly network: Cidr | null;
  /** the dedicated outbound IP pool: GET /zone/mine, and the checks of POST .../ip */
  readonly pool: ZonePool;

  /** @param options the enforcer, the plans that may use a custom proxy, the network */
  constructor(private readonly options: RegistryOptions) {
    this.network = options.workspaceNetwork ? mustParseCidr(options.workspaceNetwork) : null;
    const initial = [...(options.initial ?? [])];
    this.workspaces = PersistentMap.from(initial.map((w) => [w.id, w] as const));
    this.pool = new ZonePool(options.zones);
    this.commits = new GroupCommit({
      enforcer: options.enforcer, durable: options.durable, logger: options.logger,
      current: () => this.workspaces,
      commit: (state) => (this.workspaces = state),
    });
  }

  /** Registers a workspace, or updates one and keeps its network policy. */
  put(id: string, input: WorkspaceInput): Promise<PutResult> {
    return this.queue.run(id, () => this.commits.submit(this.putRequest(id, input)));
  }

  /** Removes a workspace and its address from every other workspace's ingress. */
  delete(id: string): Promise<void> {
    return this.queue.run(id, () => this.commits.submit(this.deleteRequest(id)));
  }

  /** Applies a validated partial update and returns the PATCH response. */
  patchNetwork(id: string, patch: NetworkPatch): Promise<PatchView> {
    // The preflight (up to preflight.timeout_ms) runs before the request joins a batch, so
    // that a slow proxy holds up only this workspace's queue, never another workspace.
    return this.queue.run(id, async () => {
      const unstage = await this.prepareProxy(this.get(id), patch);
      return this.commits.submit(this.patchRequest(id, patch, unstage));
    });
  }

  /** Sets (or, with null, releases) the dedicated outbound IP; returns the one before. */
  setOutboundIp(id: string, ip: string | null): Promise<string | null> {
    return this.queue.run(id, () => this.commits.submit(this.outboundRequest(id, ip)));
  }

  /** How many workspaces the registry holds (for /healthz, which is polled often). */
  get size(): number {
    return this.workspaces.size;
  }

  /** Every known workspace, by id. */
  list(): WorkspaceSummary[] {
    return [...this.workspaces.values()]
      .map((w) => ({ id: w.id, ip: w.ip, interface: w.interface }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The stored workspace (in `state`, by default the current one), or workspace_not_found. */
  get(id: string, state: ReadonlyMap<string, Workspace> = this.workspaces): Workspace {
    const workspace = state.get(id);
    if (!workspace) {
      throw new ApiError('workspace_not_found', `no workspace ${id} on this host; PUT it first`);
    }
    return workspace;
  }

  /** The GET /workspace/:id/network response. */
  getNetwork(id: string): NetworkView {
    return networkView(this.get(id), this.workspaces);
  }

  /** The whole desired state as it is now; later changes leave it as it was. */
  snapshot(): ReadonlyMap<string, Workspace> {
    return this.workspaces;
  }

  private putRequest(id: string, input: WorkspaceInput): Request<PutResult> {
    let prev: Workspace | null = null;
    let next!: Workspace;
    let planEnded = false;
    return {
      id,
      plan: (state) => {
        prev = state.get(id) ?? null;
        this.checkPlacement(id, input, state);
        let network = prev?.network ?? defaultPolicy();
        // A plan that loses the custom proxy takes the workspace back to managed outbound in
        // the same transaction; its credentials go with it (proxy service: follow).
        planEnded = network.outbound_mode === 'custom' &&
          !this.options.customProxyPlans.includes(input.plan);
        if (planEnded) network = { ...network, outbound_mode: 'managed', custom_proxy: null };
        next = { id, ...input, network };
        const linkers = prev?.ip === next.ip ? [] : this.linkersOf(id, state);
        return { after: state.set(id, next), applied: [id, ...linkers] };
      },
      done: async () => {
        const fields = { workspace: id, plan: input.plan };
        if (planEnded) this.options.logger?.info(fields, 'custom proxy ended by plan');
        await this.options.proxies?.applied(prev, next);
        return { created: prev === null, workspace: next };
      },
    };
  }

  private deleteRequest(id: string): Request<void> {
    let prev!: Workspace;
    return {
      id,
      plan: (state) => {
        prev = this.get(id, state);
        // A VM still running after its DELETE sends into nothing: the forward chain drops
        // what a workspace sends to an address no workspace holds, and tap_prefix darkens
        // its tap.
        const unlinked = this.unlinkedFrom(id, state);
        let after = state.delete(id);
        for (const w of unlinked) after = after.set(w.id, w);
        const local = unlinked.filter((w) => w.interface !== null).map((w) => w.id);
        return { after, applied: [id, ...local], stored: unlinked.map((w) => w.id) };
      },
      done: () => this.options.proxies?.applied(prev, null) ?? Promise.resolve(),
    };
  }

  private patchRequest(
    id: string,
    patch: NetworkPatch,
    unstage: () => Promise<void>,
  ): Request<PatchView> {
    let prev!: Workspace;
    let next!: Workspace;
    return {
      id,
      plan: (state) => {
        prev = this.get(id, state);
        next = { ...prev, network: applyPatch(prev.network, patch) };
        if (patch.private_link_ids !== undefined) {
          // Resolved once, now: an id that does not resolve is not linked, and registering a
          // workspace under that id later must not grant it access the answer did not show.
          next.network.private_link_ids = resolveLinks(next, state).map((w) => w.id);
        }
        return { after: state.set(id, next), applied: [id] };
      },
      done: async () => {
        await this.options.proxies?.applied(prev, next);
        return patchView(next, this.workspaces, patch.private_link_ids !== undefined);
      },
      refused: unstage,
    };
  }

  private outboundRequest(id: string, ip: string | null): Request<string | null> {
    let before: string | null = null;
    return {
      id,
      plan: (state) => {
        const prev = this.get(id, state);
        before = prev.network.outbound_ip;
        if (before === ip) return { after: state, applied: [] };
        const next: Workspace = { ...prev, network: { ...prev.network, outbound_ip: ip } };
        return { after: state.set(id, next), applied: [id] };
      },
      done: async () => before,
    };
  }

  /** Refuses what would clash with another workspace: its ip, its tap, its network. */
  private checkPlacement(id: string, input: WorkspaceInput, state: Registry): void {
    checkPlacement(id, input, state.values(), {
      network: this.network,
      networkText: this.options.workspaceNetwork,
      hostInterfaces: ['lo', ...(this.options.hostInterfaces ?? [])],
    });
  }


  /**
   * For a custom proxy: the plan check, then the live preflight, which stages the
   * credentials; returns the step that unstages them (a no-op for other patches).
   */
  private async prepareProxy(ws: Workspace, patch: NetworkPatch): Promise<() => Promise<void>> {
    if (patch.outbound_mode !== 'custom' || !patch.custom_proxy) return async () => undefined;
    this.checkPlan(ws);
    const proxies = this.options.proxies;
    if (!proxies) {
      const message = 'custom outbound proxies are not available on this host; nothing changed';
      throw new ApiError('not_implemented', message, { field: 'outbound_mode' });
    }
    return proxies.prepare(ws, patch.custom_proxy);
  }

  /** plan_required unless the workspace's plan may use a custom proxy. */
  private checkPlan(workspace: Workspace): void {
    const plans = this.options.customProxyPlans;
    if (!plans.includes(workspace.plan)) {
      const allowed = plans.length > 0 ? plans.join(' or ') : 'no plan on this host';
      const message =
        `a custom outbound proxy needs the ${allowed} plan; ${workspace.id} is on ` +
        `${workspace.plan}. Upgrade in the billing dashboard`;
      throw new ApiError('plan_required', message, { field: 'outbound_mode' });
    }
  }

  /**
   * Local workspaces whose private links name `id`. Their kernel ingress follows the
   * address `id` resolves to, so they are recompiled in the same transaction (prev and
   * next are the same: only the registry they resolve against changed).
   */
  private linkersOf(id: string, state: Registry): string[] {
    return [...state.values()]
      .filter((w) => w.id !== id && w.interface !== null)
      .filter((w) => w.network.private_link_ids.includes(id))
      .map((w) => w.id);
  }

  /**
   * Every other workspace that links `id`, with that link dropped: a deleted workspace's
   * links end with it, so one registered later under the same id inherits none of them.
   */
  private unlinkedFrom(id: string, state: Registry): Workspace[] {
    return [...state.values()]
      .filter((w) => w.id !== id && w.network.private_link_ids.includes(id))
      .map((w) => {
        const private_link_ids = w.network.private_link_ids.filter((l) => l !== id);
        return { ...w, network: { ...w.network, private_link_ids } };
      });
  }
}

function mustParseCidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new RangeError(`workspace network ${text} is not a CIDR`);
  return parsed.cidr;
}
