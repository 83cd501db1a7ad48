/**
 * The enforcer with dedicated outbound IPs, over fake netlink sockets: routes go first
 * and the nftables transaction last; a refusal on either side leaves neither applied;
 * a change of address ends the connections translated to the old one; start replaces
 * whatever rules and routes of the daemon a previous run left.
 */
import pino from 'pino';
import t from 'tap';
import { KernelEnforcer, type Netlink } from '../../src/enforce/kernel';
import { KernelError } from '../../src/enforce/types';
import type { Workspace } from '../../src/model/types';
import type { CommitResult, CtTuple, Op } from '../../src/nft/types';
import { OutboundRouter, describeRouteOp } from '../../src/outbound/router';
import { ROUTE_PROTOCOL, TABLE_BASE } from '../../src/outbound/routes';
import type { RouteNetlink } from '../../src/route/socket';
import type { RouteOp, RouteResult, RoutingState } from '../../src/route/types';
import { ws, ZONES } from './fixtures/zones';

const log = pino({ level: 'silent' });
const workspaceNet = { net: '10.0.0.0', len: 8 };

/** Both fake sockets, writing what they are sent to one event list. */
function kernel() {
  const events: string[] = [];
  const deleted: CtTuple[] = [];
  const state = {
    commits: [] as CommitResult[],
    routes: [] as RouteResult[],
    conntrack: [] as CtTuple[],
    dump: { rules: [], routes: [] } as RoutingState,
  };
  const nl: Netlink = {
    async commit(ops: Op[]) {
      events.push(`nft commit (${ops.length})`);
      return state.commits.shift() ?? { ok: true };
    },
    readTable: async () => null,
    ctList: async () => state.conntrack,
    async ctDelete(tuples: CtTuple[]) {
      deleted.push(...tuples);
      return tuples.length;
    },
  };
  const rt: RouteNetlink = {
    async apply(ops: RouteOp[]) {
      const result = state.routes.shift() ?? { ok: true };
      const sent = result.ok ? ops : ops.slice(0, result.index + 1);
      for (const op of sent) events.push(describeRouteOp(op));
      return result;
    },
    dump: async () => state.dump,
  };
  const o = { table: 'workspace_netd', uplink: 'up0', workspaceNet, runtimeApiPort: 9990,
    zones: ZONES };
  const enforcer = new KernelEnforcer(nl, o, log,
    new OutboundRouter(rt, { zones: ZONES, workspaceNet }, log));
  return { enforcer, events, deleted, state };
}

const reg = (...w: Workspace[]) => new Map(w.map((x) => [x.id, x]));
const plain = ws('ws_a', 1);
const us = ws('ws_a', 1, { outbound_ip: '198.18.0.50' });
const de = ws('ws_a', 1, { outbound_ip: '198.18.0.51' });

t.test('routes are sent before the nftables transaction', async (t) => {
  const k = kernel();
  await k.enforcer.start(new Map());
  await k.enforcer.apply([{ prev: null, next: plain }], reg(plain));
  k.events.length = 0;

  await k.enforcer.apply([{ prev: plain, next: us }], reg(us));
  t.same(k.events, [
    `add route default via 198.18.0.1 table ${TABLE_BASE}`,
    `add route throw 10.0.0.0/8 table ${TABLE_BASE}`,
    `add rule fwmark ${TABLE_BASE} lookup ${TABLE_BASE} priority 30500`,
    'nft commit (2)',
  ]);
});

t.test('a refused nftables transaction undoes the routes; nothing is kept', async (t) => {
  const k = kernel();
  await k.enforcer.start(new Map());
  await k.enforcer.apply([{ prev: null, next: plain }], reg(plain));
  k.events.length = 0;

  k.state.commits.push({ ok: false, index: 0, errno: 17, message: 'File exists' });
  await t.rejects(k.enforcer.apply([{ prev: plain, next: us }], reg(us)), KernelError);
  t.same(k.events.slice(3), [
    'nft commit (2)',
    `delete rule fwmark ${TABLE_BASE} lookup ${TABLE_BASE} priority 30500`,
    `delete route throw 10.0.0.0/8 table ${TABLE_BASE}`,
    `delete route default via 198.18.0.1 table ${TABLE_BASE}`,
  ]);

  k.events.length = 0;
  await k.enforcer.apply([{ prev: plain, next: us }], reg(us));
  t.equal(k.events.length, 4, 'the same plan again: the refused one was not recorded');
});

t.test('a refused route undoes the ones before it; nftables is never asked', async (t) => {
  const k = kernel();
  await k.enforcer.start(new Map());
  k.events.length = 0;

  k.state.routes.push({
    ok: false, index: 0, errno: 101, message: 'Network is unreachable',
    detail: 'Nexthop has invalid gateway',
  });
  k.state.routes.push({ ok: true });
  const err = await k.enforcer.apply([{ prev: null, next: us }], reg(us)).catch((e) => e);
  t.type(err, KernelError);
  t.equal(err.operation, `add route default via 198.18.0.1 table ${TABLE_BASE}`);
  t.equal(err.workspace, 'ws_a');
  t.match(err.reason, /unreachable \(Nexthop has invalid gateway\)/);
  t.match(err.hint, /198\.18\.0\.1 must be on a network this host is directly on/);
  t.same(k.events, [`add route default via 198.18.0.1 table ${TABLE_BASE}`], 'nothing else');
});

t.test('a new address ends the connections translated to the old one', async (t) => {
  const k = kernel();
  await k.enforcer.start(new Map());
  await k.enforcer.apply([{ prev: null, next: us }], reg(us));

  const flow = { proto: 6, src: '10.0.1.2', dst: '198.18.1.10', sport: 40000, dport: 80 };
  const old = { ...flow, replyDst: '198.18.0.50' };
  const fresh = { ...flow, sport: 40001, replyDst: '198.18.0.51' };
  const dns = { ...flow, proto: 17, dst: '10.0.1.1', dport: 53, replyDst: '10.0.1.2' };
  const other = { ...flow, src: '10.0.2.2', replyDst: '198.18.0.50' };
  k.state.conntrack = [old, fresh, dns, other];

  await k.enforcer.apply([{ prev: us, next: de }], reg(de));
  t.same(k.deleted, [old]);

  k.deleted.length = 0;
  k.state.conntrack = [old, fresh, { ...flow, sport: 40002, replyDst: '198.18.0.2' }];
  await k.enforcer.apply([{ prev: de, next: plain }], reg(plain));
  t.same(k.deleted, [fresh], 'released: only what left with the zone address');
});

t.test('start deletes what a previous run left and keeps what others made', async (t) => {
  const k = kernel();
  // A per-workspace rule, as an earlier version made them, is stale too.
  const stale = { priority: 30500, src: '10.0.7.2', srcLen: 32, table: TABLE_BASE + 1,
    protocol: ROUTE_PROTOCOL, action: 1 };
  const foreign = { ...stale, protocol: 4 };
  const staleRoute = { table: TABLE_BASE + 1, dst: '0.0.0.0', dstLen: 0, type: 'unicast' as const,
    gateway: '198.18.0.254', protocol: ROUTE_PROTOCOL };
  k.state.dump = { rules: [stale, foreign], routes: [staleRoute, { ...staleRoute, protocol: 2 }] };

  await k.enforcer.start(reg(us));
  t.match(k.events.pop(), /^nft commit/, 'the table last');
  // This fake kernel holds no table: the start closes it first (src/compile/closed.ts).
  t.match(k.events.shift(), /^nft commit/, 'the closed table first');
  t.same(k.events, [
    `delete rule from 10.0.7.2/32 lookup ${TABLE_BASE + 1} priority 30500`,
    `delete route default via 198.18.0.254 table ${TABLE_BASE + 1}`,
    `add route default via 198.18.0.1 table ${TABLE_BASE}`,
    `add route throw 10.0.0.0/8 table ${TABLE_BASE}`,
    `add rule fwmark ${TABLE_BASE} lookup ${TABLE_BASE} priority 30500`,
  ]);
});
