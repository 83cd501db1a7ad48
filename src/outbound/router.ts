/**
 * Sends routing plans (./routes) to the kernel and remembers what it applied. rtnetlink
 * has no transactions, so a plan that the kernel refuses part way is undone op by op,
 * and a refusal comes back as a KernelError naming the op, the workspace and a hint.
 */
import type { Logger } from 'pino';
import { KernelError, type WorkspaceChange } from '../enforce/types';
import type { Workspace } from '../model/types';
import type { RouteNetlink } from '../route/socket';
import type { FibRule, Route, RouteOp } from '../route/types';
import {
  inverse, planRouting, ROUTE_PROTOCOL, ruleOf, tableRoutes, workspaceRoute, zonesOf,
  type RoutingOptions, type RoutingPlan, type WorkspaceRoute,
} from './routes';

/**
 * The daemon's policy routing: one rule and one table per zone in use. It remembers what
 * it applied, and audit() puts back what someone removed (or removes what someone added
 * with the daemon's protocol), as the drift monitor does for the nftables table.
 */
export class OutboundRouter {
  private applied = new Map<string, WorkspaceRoute>();

  constructor(
    private readonly rt: RouteNetlink,
    private readonly o: RoutingOptions,
    private readonly log: Logger,
  ) {}

  /** The plan that moves the kernel to `changes`; nothing is sent yet. */
  plan(changes: WorkspaceChange[]): RoutingPlan {
    return planRouting(this.applied, changes, this.o);
  }

  /**
   * The plan that makes the daemon's rules and routes exactly `registry`'s: the kernel's
   * are read back (a previous run leaves them in place) and compared by value.
   */
  async reconcile(registry: ReadonlyMap<string, Workspace>): Promise<RoutingPlan> {
    const next = new Map<string, WorkspaceRoute>();
    for (const ws of registry.values()) {
      const r = workspaceRoute(ws, this.o);
      if (r) next.set(ws.id, r);
    }
    const ops = await this.converge(next);
    return { ops, owners: ops.map(() => null), next };
  }

  /**
   * Compares the kernel's rules and routes of the daemon's protocol with what it last
   * applied, and repairs the difference; returns what differed (empty: nothing did).
   * The caller serializes it with apply(), so no plan is half sent while it reads.
   */
  async audit(): Promise<string[]> {
    const started = performance.now();
    const ops = await this.converge(this.applied);
    if (ops.length === 0) return [];

    const differences = ops.map((op) => describeDrift(op));
    await this.apply({ ops, owners: ops.map(() => null), next: this.applied });
    const ms = Math.round(performance.now() - started);
    this.log.warn({ differences, ms }, 'routes repaired');
    return differences;
  }

  /** The ops that turn the kernel's rules and routes of the daemon into `next`'s. */
  private async converge(next: ReadonlyMap<string, WorkspaceRoute>): Promise<RouteOp[]> {
    const zones = [...zonesOf(next).values()].map(([, r]) => r);
    const rules = zones.map(ruleOf);
    const routes = zones.flatMap((r) => tableRoutes(r, this.o));

    const state = await this.rt.dump();
    const oldRules = state.rules.filter((r) => r.protocol === ROUTE_PROTOCOL);
    const oldRoutes = state.routes.filter(
      (r) => r.protocol === ROUTE_PROTOCOL && r.type !== 'other',
    );
    const has = <T>(list: T[], key: (x: T) => string) => new Set(list.map(key));
    const [haveRules, wantRules] = [has(oldRules, ruleId), has(rules, ruleId)];
    const [haveRoutes, wantRoutes] = [has(oldRoutes, routeId), has(routes, routeId)];

    return [
      ...oldRules.filter((r) => !wantRules.has(ruleId(r))).map((r) => del('rule', r)),
      ...oldRoutes.filter((r) => !wantRoutes.has(routeId(r))).map((r) => del('route', r)),
      ...routes.filter((r) => !haveRoutes.has(routeId(r))).map((route) => add('route', route)),
      ...rules.filter((r) => !haveRules.has(ruleId(r))).map((rule) => add('rule', rule)),
    ];
  }

  /** Sends the plan; on a refusal undoes what it sent and throws a KernelError. */
  async apply(plan: RoutingPlan): Promise<void> {
    if (plan.ops.length === 0) return;
    const result = await this.rt.apply(plan.ops);
    if (result.ok) return;

    await this.undo(plan, result.index);
    const op = plan.ops[result.index];
    const reason = result.detail ? `${result.message} (${result.detail})` : result.message;
    throw new KernelError(
      describeRouteOp(op), plan.owners[result.index] ?? null, result.errno, reason,
      routeHint(result.errno, op),
    );
  }

  /** Undoes the first `count` ops of a sent plan (all by default), newest first. */
  async undo(plan: RoutingPlan, count = plan.ops.length): Promise<void> {
    const ops = inverse(plan.ops, count);
    if (ops.length === 0) return;
    try {
      const result = await this.rt.apply(ops);
      if (result.ok) return;
      const op = describeRouteOp(ops[result.index]);
      this.log.error({ op, errno: result.errno }, 'undoing outbound routes failed');
    } catch (err) {
      this.log.error({ err }, 'undoing outbound routes failed');
    }
  }

  /** Records a plan as applied, once the nftables side committed too. */
  keep(plan: RoutingPlan): void {
    this.applied = plan.next;
  }
}

/** "add rule fwmark 30500 lookup 30500 priority 30500", "delete route default via ...". */
export function describeRouteOp(op: RouteOp): string {
  if (op.kind === 'rule') {
    const r = op.rule;
    const from = r.srcLen === 0 ? '' : ` from ${r.src}/${r.srcLen}`;
    const mark = r.fwmark === undefined ? '' : ` fwmark ${r.fwmark}`;
    return `${op.op} rule${from}${mark} lookup ${r.table} priority ${r.priority}`;
  }
  const r = op.route;
  const dst = r.dstLen === 0 ? 'default' : `${r.dst}/${r.dstLen}`;
  const what = r.type === 'throw' ? `throw ${dst}` : `${dst} via ${r.gateway}`;
  return `${op.op} route ${what} table ${r.table}`;
}

function routeHint(errno: number, op: RouteOp): string | undefined {
  switch (errno) {
    case 1: // EPERM
      return 'the daemon needs CAP_NET_ADMIN';
    case 17: // EEXIST
      return 'a rule or route like it exists already, not made by the daemon: remove it';
    case 101: // ENETUNREACH
    case 22: // EINVAL
      return op.kind === 'route' && op.route.gateway
        ? `zone host ${op.route.gateway} must be on a network this host is directly on`
        : undefined;
    default:
      return undefined;
  }
}

/** What an audit repair says it found: the op's object, missing or not the daemon's. */
function describeDrift(op: RouteOp): string {
  const what = describeRouteOp({ ...op, op: 'add' }).slice('add '.length);
  return op.op === 'add' ? `missing ${what}` : `unexpected ${what}`;
}

function ruleId(r: FibRule): string {
  const mark = r.fwmark === undefined ? '' : `${r.fwmark}/${r.fwmask ?? 0xffffffff}`;
  return `${r.priority} ${r.src}/${r.srcLen} ${mark} ${r.table}`;
}

function routeId(r: Omit<Route, 'type'> & { type: string }): string {
  return `${r.table} ${r.type} ${r.dst}/${r.dstLen} ${r.gateway ?? ''}`;
}

function add(kind: 'rule', x: FibRule): RouteOp;
function add(kind: 'route', x: Route): RouteOp;
function add(kind: 'rule' | 'route', x: FibRule | Route): RouteOp {
  return kind === 'rule'
    ? { op: 'add', kind, rule: x as FibRule }
    : { op: 'add', kind, route: x as Route };
}

function del(kind: 'rule' | 'route', x: object): RouteOp {
  if (kind === 'rule') {
    const { priority, src, srcLen, fwmark, fwmask, table, protocol } = x as FibRule;
    const mark = fwmark === undefined ? {} : { fwmark, fwmask };
    return { op: 'delete', kind, rule: { priority, src, srcLen, ...mark, table, protocol } };
  }
  const { table, dst, dstLen, type, gateway, protocol } = x as Route;
  const via = gateway === undefined ? {} : { gateway };
  return { op: 'delete', kind, route: { table, dst, dstLen, type, protocol, ...via } };
}
