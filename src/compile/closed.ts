/**
 * The closed table: what the daemon commits first when its table is missing, at a start or
 * in a repair. The full table takes seconds to insert at thousands of workspaces, and until
 * it is in nothing stands between a workspace and the network; the closed table takes a few
 * milliseconds and drops everything a workspace sends and everything sent to it. The full
 * table then replaces it in one transaction, as it replaces any old table (README: Durability).
 */
import type { Expr, Op, TableFlags } from '../nft/types';
import { drop, inCidr, ipDaddr, ipSaddr, isIpv4, lookup, meta } from './expr';
import { ifname } from '../nft/bytes';
import {
  CHAINS, FAMILY, IFACES_SPEC, SETS, cleared, namedLike, type LayoutOptions,
} from './layout';

/**
 * The closed table's operations: `create table` (refused with EEXIST when a table of that
 * name exists, which is then left to the rebuild), the `ifaces` set holding `taps`, and
 * three base chains that drop by interface: from a tap at prerouting (before conntrack, so
 * nothing is tracked), and to a tap at forward and output; by name prefix (`tap_prefix`),
 * also for taps nobody registered; and by address, anything from the workspace network at
 * prerouting and to it at forward and output, which holds where the taps are not known (a
 * start that could not read its state).
 */
export function closedTable(o: LayoutOptions, taps: Iterable<string>, flags?: TableFlags): Op[] {
  const t = { family: FAMILY, table: o.table };
  const elements = [...taps].map((tap) => ({ key: ifname(tap) }));
  const ops: Op[] = [
    { op: 'create', kind: 'table', family: FAMILY, name: o.table, ...(flags ? { flags } : {}) },
    { op: 'create', kind: 'set', ...t, set: IFACES_SPEC },
  ];
  if (elements.length > 0) {
    ops.push({ op: 'create', kind: 'elements', ...t, set: SETS.ifaces, elements });
  }
  const chains = [
    { name: CHAINS.guard, hook: 'prerouting', priority: -300, dir: 'iifname' },
    { name: CHAINS.forward, hook: 'forward', priority: 0, dir: 'oifname' },
    { name: CHAINS.output, hook: 'output', priority: 0, dir: 'oifname' },
  ] as const;
  const { net, len } = o.workspaceNet;
  for (const { name, hook, priority, dir } of chains) {
    const base = { type: 'filter', hook, priority, policy: 'accept' } as const;
    ops.push({ op: 'create', kind: 'chain', ...t, name, base });
    const rules = [
      ...dropRules(dir, o.tapPrefix),
      [...isIpv4(), ...inCidr(dir === 'iifname' ? ipSaddr : ipDaddr, net, len), drop()],
    ];
    for (const exprs of rules) ops.push({ op: 'add', kind: 'rule', ...t, chain: name, exprs });
  }
  return ops;
}

/**
 * The batch that closes the table: `missing`, the closed table alone (refused with EEXIST
 * at its first operation when a table exists); `differs`, the closed table in place of
 * the one there, in one transaction.
 */
export function closing(o: LayoutOptions, taps: Iterable<string>, flags: TableFlags | undefined,
  when: 'missing' | 'differs'): Op[] {
  return [...(when === 'differs' ? cleared(o.table) : []), ...closedTable(o, taps, flags)];
}

/** `DIR @ifaces drop`, and `DIR "PREFIX*" drop` for taps not registered yet. */
function dropRules(dir: 'iifname' | 'oifname', prefix: string | null | undefined): Expr[][] {
  const rules = [[...lookup([meta(dir)], SETS.ifaces), drop()]];
  if (prefix) rules.push([...namedLike(dir, prefix), drop()]);
  return rules;
}
