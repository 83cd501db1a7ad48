/**
 * The desired state of this host: every known workspace and its network policy, and the
 * operations the API performs on it.
 *
 * Every change follows one path: check it against the current state, compute the next
 * workspace, have the enforcer make the kernel match, and only then store it. When the
 * enforcer throws, nothing is stored and the error goes back to the caller.
 *
 * Requests for one workspace run in arrival order. PATCHes of different workspaces run
 * concurrently; a PUT or DELETE runs alone, because it can change what other workspaces'
 * private links resolve to, and every change in flight must see the same addresses.
 */
import type { Logger } from 'pino';
import { ApiError } from '../api/errors';
import type { Enforcer, WorkspaceChange } from '../enforce/types';
import { type Cidr, parseCidr } from '../net/ipv4';
import { resolveLinks } from '../model/links';
import { applyPatch } from '../model/patch';
import type { NetworkPatch, WorkspaceInput } from '../model/schema';
import { defaultPolicy, type Plan, type Workspace } from '../model/types';
import { type NetworkView, type PatchView, networkView, patchView } from '../model/view';
import type { CustomProxyHooks } from '../proxy/service';
import { Gate, KeyedQueue } from './queue';
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
  private readonly gate = new Gate();
  private readonly network: Cidr | null;
  /** the dedicated outbound IP pool: GET /zone/mine, and the checks of POST .../ip */
  readonly pool: ZonePool;

  /** @param options the enforcer, the plans that may use a custom proxy, the network */
  constructor(private readonly options: RegistryOptions) {
    this.network = options.workspaceNetwork ? mustParseCidr(options.workspaceNetwork) : null;
    const initial = [...(options.initial ?? [])];
    this.workspaces = PersistentMap.from(initial.map((w) => [w.id, w] as const));
    this.pool = new ZonePool(options.zones);
  }

  /** Registers a workspace, or updates one and keeps its network policy. */
  put(id: string, input: WorkspaceInput): Promise<PutResult> {
    return this.queue.run(id, () => this.gate.withExclusive(() => this.putNow(id, input)));
  }

  /** Removes a workspace and its address from every other workspace's ingress. */
  delete(id: string): Promise<void> {
    return this.queue.run(id, () => this.gate.withExclusive(() => this.deleteNow(id)));
  }

  /** Applies a validated partial update and returns the PATCH response. */
  patchNetwork(id: string, patch: NetworkPatch): Promise<PatchView> {
    // The preflight (up to preflight.timeout_ms) runs before the gate, so that a slow
    // proxy holds up only this workspace's queue, never another workspace's PUT or DELETE.
    return this.queue.run(id, async () => {
      const unstage = await this.prepareProxy(this.get(id), patch);
      return this.gate.withShared(() => this.patchNow(id, patch, unstage));
    });
  }

  /** Sets (or, with null, releases) the dedicated outbound IP; returns the one before. */
  setOutboundIp(id: string, ip: string | null): Promise<string | null> {
    return this.queue.run(id, () => this.gate.withShared(() => this.outboundNow(id, ip)));
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

  /** The stored workspace, or workspace_not_found. */
  get(id: string): Workspace {
    const workspace = this.workspaces.get(id);
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

  private async putNow(id: string, input: WorkspaceInput): Promise<PutResult> {
    const prev = this.workspaces.get(id) ?? null;
    this.checkPlacement(id, input);

    let network = prev?.network ?? defaultPolicy();
    if (network.outbound_mode === 'custom' && !this.options.customProxyPlans.includes(input.plan)) {
      // A plan that loses the custom proxy takes the workspace back to managed outbound in
      // the same transaction; its credentials go with it (proxy service: follow).
      network = { ...network, outbound_mode: 'managed', custom_proxy: null };
      this.options.logger?.info({ workspace: id, plan: input.plan }, 'custom proxy ended by plan');
    }
    const next: Workspace = { id, ...input, network };
    const registry = this.with(id, next);
    const linkers = prev?.ip === next.ip ? [] : this.linkersOf(id);

    await this.commit([{ prev, next }, ...linkers], registry, id);
    this.workspaces = this.workspaces.set(id, next);
    await this.options.proxies?.applied(prev, next);
    return { created: prev === null, workspace: next };
  }

  private async deleteNow(id: string): Promise<void> {
    const prev = this.get(id);
    const unlinked = this.unlinkedFrom(id);
    const registry = this.with(id, null, unlinked);
    const linkers = unlinked
      .filter((w) => w.interface !== null)
      .map((w) => ({ prev: this.get(w.id), next: w }));

    // A VM still running after its DELETE sends into nothing: the forward chain drops what
    // a workspace sends to an address no workspace holds, and tap_prefix darkens its tap.
    await this.commit([{ prev, next: null }, ...linkers], registry, id, unlinked);
    let workspaces = this.workspaces.delete(id);
    for (const w of unlinked) workspaces = workspaces.set(w.id, w);
    this.workspaces = workspaces;
    await this.options.proxies?.applied(prev, null);
  }

  private async patchNow(
    id: string,
    patch: NetworkPatch,
    unstage: () => Promise<void>,
  ): Promise<PatchView> {
    const prev = this.get(id);

    const next: Workspace = { ...prev, network: applyPatch(prev.network, patch) };
    if (patch.private_link_ids !== undefined) {
      // Resolved once, now: an id that does not resolve is not linked, and registering a
      // workspace under that id later must not grant it access the answer did not show.
      next.network.private_link_ids = resolveLinks(next, this.workspaces).map((w) => w.id);
    }
    const registry = this.with(id, next);

    try {
      await this.commit([{ prev, next }], registry, id);
    } catch (err) {
      await unstage();
      throw err;
    }
    this.workspaces = this.workspaces.set(id, next);
    await this.options.proxies?.applied(prev, next);
    return patchView(next, this.workspaces, patch.private_link_ids !== undefined);
  }

  private async outboundNow(id: string, ip: string | null): Promise<string | null> {
    const prev = this.get(id);
    if (prev.network.outbound_ip === ip) return ip;

    const next: Workspace = { ...prev, network: { ...prev.network, outbound_ip: ip } };
    await this.commit([{ prev, next }], this.with(id, next), id);
    this.workspaces = this.workspaces.set(id, next);
    return prev.network.outbound_ip;
  }

  /** Refuses what would clash with another workspace: its ip, its tap, its network. */
  private checkPlacement(id: string, input: WorkspaceInput): void {
    checkPlacement(id, input, this.workspaces.values(), {
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
  private linkersOf(id: string): WorkspaceChange[] {
    return [...this.workspaces.values()]
      .filter((w) => w.id !== id && w.interface !== null)
      .filter((w) => w.network.private_link_ids.includes(id))
      .map((w) => ({ prev: w, next: w }));
  }

  /**
   * Every other workspace that links `id`, with that link dropped: a deleted workspace's
   * links end with it, so one registered later under the same id inherits none of them.
   */
  private unlinkedFrom(id: string): Workspace[] {
    return [...this.workspaces.values()]
      .filter((w) => w.id !== id && w.network.private_link_ids.includes(id))
      .map((w) => {
        const private_link_ids = w.network.private_link_ids.filter((l) => l !== id);
        return { ...w, network: { ...w.network, private_link_ids } };
      });
  }

  /**
   * The registry as it will be once `id` is `workspace` (or gone, for null) and `also`: a
   * new immutable map sharing all but the changed paths with the current one.
   */
  private with(
    id: string,
    workspace: Workspace | null,
    also: Workspace[] = [],
  ): PersistentMap<Workspace> {
    let registry = workspace ? this.workspaces.set(id, workspace) : this.workspaces.delete(id);
    for (const w of also) registry = registry.set(w.id, w);
    return registry;
  }

  /** Applies and stores `changes`; `also` are workspaces `registry` changes besides them. */
  private async commit(
    changes: WorkspaceChange[],
    registry: ReadonlyMap<string, Workspace>,
    id: string,
    also: readonly Workspace[] = [],
  ): Promise<void> {
    const started = performance.now();
    // `registry` was derived from the state as it is now, before any await: what differs
    // between the two is exactly what this call changes, and what gets stored.
    const ids = new Set([...changes.map((c) => (c.next ?? c.prev)!.id), ...also.map((w) => w.id)]);
    // Only those ids, as they are now: copying thousands of workspaces per call showed in
    // a CPU profile at 5,000 (the durable layer rebuilds the whole map if it must revert).
    const before = new Map<string, Workspace>();
    for (const i of ids) {
      const ws = this.workspaces.get(i);
      if (ws) before.set(i, ws);
    }
    await this.options.enforcer.apply(changes, registry);
    await this.options.durable?.record(changes, before, registry, ids);

    const ms = Math.round(performance.now() - started);
    const fields = { workspace: id, changes: changes.length, ms };
    this.options.logger?.info(fields, 'desired state changed');
  }
}

function mustParseCidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new RangeError(`workspace network ${text} is not a CIDR`);
  return parsed.cidr;
}
