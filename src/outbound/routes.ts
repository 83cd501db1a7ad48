/**
 * Policy routing of dedicated outbound addresses, decided here and sent by RouteSocket.
 *
 * Each zone in use gets a routing table: `default via <zone host>`, and `throw <workspace
 * network>` so that traffic to other workspaces goes back to the main table, and one rule,
 * `fwmark <zone mark> lookup <zone table>`, between `local` (0) and `main` (32766). The
 * nftables side marks the packets (the outbound_mark map, in prerouting) and gives them the
 * zone's address (the outbound_ip map), so the kernel walks one rule per zone in use for
 * every routed packet, however many workspaces hold an address. A zone's table and rule
 * exist while a workspace uses the zone.
 */
import type { Zone } from '../config';
import type { WorkspaceChange } from '../enforce/types';
import type { Workspace } from '../model/types';
import type { FibRule, Route, RouteOp } from '../route/types';
import { appliedZone, type RoutableZone } from './pool';

/** Marks the daemon's rules and routes (RTPROT_*: a number linux/rtnetlink.h leaves free). */
export const ROUTE_PROTOCOL = 201;
/** The priority of the zone rules: after `local` (0), before `main` (32766). */
export const RULE_PRIORITY = 30500;
/**
 * A zone's table is TABLE_BASE plus the zone's index in the config's `zones`; its packet
 * mark is the same number, so `ip rule` reads `fwmark 0x7724 lookup 30500` at a glance.
 */
export const TABLE_BASE = 30500;

/** What routing needs of the host. */
export interface RoutingOptions {
  zones: readonly Zone[];
  workspaceNet: { net: string; len: number };
}

/** Where one workspace's traffic is routed: its zone's table (and mark). */
export interface WorkspaceRoute {
  src: string;
  table: number;
  zone: RoutableZone;
}

/** Rules and routes in the order they are sent, with the workspace each is for. */
export interface RoutingPlan {
  ops: RouteOp[];
  owners: (string | null)[];
  /** every workspace's route once the plan is applied */
  next: Map<string, WorkspaceRoute>;
}

/** The packet mark (and table number) of `zone`, one of `zones`. */
export function zoneMark(zone: Zone, zones: readonly Zone[]): number {
  return TABLE_BASE + zones.findIndex((z) => z.ip === zone.ip);
}

/** The route `ws` needs, or null when its traffic keeps the uplink's address. */
export function workspaceRoute(ws: Workspace | null, o: RoutingOptions): WorkspaceRoute | null {
  const zone = appliedZone(ws, o.zones);
  if (ws === null || zone === null) return null;
  return { src: ws.ip, table: zoneMark(zone, o.zones), zone };
}

/** `fwmark <table>/0xffffffff lookup <table>`: the zone's one rule. */
export function ruleOf(r: WorkspaceRoute): FibRule {
  const { table } = r;
  const all = { src: '0.0.0.0', srcLen: 0 };
  return { priority: RULE_PRIORITY, ...all, fwmark: table, fwmask: 0xffffffff, table,
    protocol: ROUTE_PROTOCOL };
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

/** The ops that build one zone's routing: its routes, then the rule that uses them. */
export function zoneOps(r: WorkspaceRoute, o: RoutingOptions): RouteOp[] {
  return [
    ...tableRoutes(r, o).map((route): RouteOp => ({ op: 'add', kind: 'route', route })),
    { op: 'add', kind: 'rule', rule: ruleOf(r) },
  ];
}

/**
 * The ops that move `applied` to what `changes` need. Only a zone's first workspace and
 * its last one change routing; moving between zones in use changes only nftables maps.
 * Order keeps every step valid: new zones (routes, then rule) first, then zones no
 * workspace uses any more (rule, then routes).
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
  const before = zonesOf(applied);
  const after = zonesOf(next);
  for (const [table, [id, r]] of after) {
    if (before.has(table)) continue;
    for (const op of zoneOps(r, o)) (plan.ops.push(op), plan.owners.push(id));
  }
  for (const [table, [id, r]] of before) {
    if (after.has(table)) continue;
    for (const op of inverse(zoneOps(r, o))) (plan.ops.push(op), plan.owners.push(id));
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

/** Each zone table in use, with one workspace (and its route) that uses it. */
export function zonesOf(
  routes: ReadonlyMap<string, WorkspaceRoute>,
): Map<number, [string, WorkspaceRoute]> {
  const tables = new Map<number, [string, WorkspaceRoute]>();
  for (const [id, r] of routes) if (!tables.has(r.table)) tables.set(r.table, [id, r]);
  return tables;
}
