/**
 * Policy routing of dedicated outbound addresses, decided here and sent by RouteSocket.
 *
 * Each zone in use gets a routing table: `default via <zone host>`, and `throw <workspace
 * network>` so that traffic to other workspaces goes back to the main table. Each local
 * workspace with an applied zone gets one rule, `from <workspace ip> lookup <zone table>`,
 * between `local` (0) and `main` (32766). A zone's table exists while a rule uses it.
 * The nftables side (the outbound_ip map) gives the same packets the zone's address.
 *
 * TODO(#5): one rule per workspace is a list the kernel walks for every routed packet
 * (fib_rules_lookup); with thousands of workspaces holding addresses, a per-zone rule on a
 * packet mark set from the outbound_ip map would keep it to one rule per zone.
 */
import type { Zone } from '../config';
import type { WorkspaceChange } from '../enforce/types';
import type { Workspace } from '../model/types';
import type { FibRule, Route, RouteOp } from '../route/types';
import { appliedZone, type RoutableZone } from './pool';

/** Marks the daemon's rules and routes (RTPROT_*: a number linux/rtnetlink.h leaves free). */
export const ROUTE_PROTOCOL = 201;
/** The priority of the workspace rules: after `local` (0), before `main` (32766). */
export const RULE_PRIORITY = 30500;
/** A zone's table is TABLE_BASE plus the zone's index in the config's `zones`. */
export const TABLE_BASE = 30500;

/** What routing needs of the host. */
export interface RoutingOptions {
  zones: readonly Zone[];
  workspaceNet: { net: string; len: number };
}

/** One workspace's rule: its address and its zone's table. */
export interface WorkspaceRoute {
  src: string;
  table: number;
  zone: RoutableZone;
}

/** Rules and routes in the order they are sent, with the workspace each is for. */
export interface RoutingPlan {
  ops: RouteOp[];
  owners: (string | null)[];
  /** every workspace's rule once the plan is applied */
  next: Map<string, WorkspaceRoute>;
}

/** The rule `ws` needs, or null when its traffic keeps the uplink's address. */
export function workspaceRoute(ws: Workspace | null, o: RoutingOptions): WorkspaceRoute | null {
  const zone = appliedZone(ws, o.zones);
  if (ws === null || zone === null) return null;
  return { src: ws.ip, table: TABLE_BASE + o.zones.findIndex((z) => z.ip === zone.ip), zone };
}

/** `from <src>/32 lookup <table>`. */
export function ruleOf(r: WorkspaceRoute): FibRule {
  const { src, table } = r;
  return { priority: RULE_PRIORITY, src, srcLen: 32, table, protocol: ROUTE_PROTOCOL };
}

/** A zone table's routes: the zone's next hop, and the workspace network thrown back. */
export function tableRoutes(r: WorkspaceRoute, o: RoutingOptions): Route[] {
  const { net, len } = o.workspaceNet;
  const at = { table: r.table, protocol: ROUTE_PROTOCOL };
  return [
    { ...at, dst: '0.0.0.0', dstLen: 0, type: 'unicast', gateway: r.zone.host },
    { ...at, dst: net, dstLen: len, type: 'throw' },
  ];
}

/**
 * The ops that move `applied` to what `changes` need. Order keeps every step valid: new
 * tables first, then old rules out, new rules in, and tables no rule uses any more last.
 */
export function planRouting(
  applied: ReadonlyMap<string, WorkspaceRoute>,
  changes: WorkspaceChange[],
  o: RoutingOptions,
): RoutingPlan {
  const next = new Map(applied);
  for (const { prev, next: ws } of changes) {
    const id = (ws ?? prev)!.id;
    const r = workspaceRoute(ws, o);
    if (r) next.set(id, r);
    else next.delete(id);
  }

  const plan: RoutingPlan = { ops: [], owners: [], next };
  const push = (op: RouteOp, owner: string | null) => (plan.ops.push(op), plan.owners.push(owner));
  const before = tablesOf(applied);
  const after = tablesOf(next);

  for (const [table, [id, r]] of after) {
    if (before.has(table)) continue;
    for (const route of tableRoutes(r, o)) push({ op: 'add', kind: 'route', route }, id);
  }
  const moved = [...new Set([...applied.keys(), ...next.keys()])].filter(
    (id) => ruleKey(applied.get(id)) !== ruleKey(next.get(id)),
  );
  for (const id of moved) {
    const old = applied.get(id);
    if (old) push({ op: 'delete', kind: 'rule', rule: ruleOf(old) }, id);
  }
  for (const id of moved) {
    const now = next.get(id);
    if (now) push({ op: 'add', kind: 'rule', rule: ruleOf(now) }, id);
  }
  for (const [table, [id, r]] of before) {
    if (after.has(table)) continue;
    for (const route of tableRoutes(r, o)) push({ op: 'delete', kind: 'route', route }, id);
  }
  return plan;
}

/** The ops that undo the first `count` of `ops`, in reverse order. */
export function inverse(ops: RouteOp[], count = ops.length): RouteOp[] {
  return ops
    .slice(0, count)
    .reverse()
    .map((op) => ({ ...op, op: op.op === 'add' ? 'delete' : 'add' }) as RouteOp);
}

/** Each table in use, with one workspace (and its rule) that uses it. */
function tablesOf(
  routes: ReadonlyMap<string, WorkspaceRoute>,
): Map<number, [string, WorkspaceRoute]> {
  const tables = new Map<number, [string, WorkspaceRoute]>();
  for (const [id, r] of routes) if (!tables.has(r.table)) tables.set(r.table, [id, r]);
  return tables;
}

function ruleKey(r: WorkspaceRoute | undefined): string {
  return r ? `${r.src}>${r.table}` : '';
}
