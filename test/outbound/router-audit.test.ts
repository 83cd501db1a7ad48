/**
 * The route audit: the daemon's rules and routes are compared with what it applied, and
 * what someone removed (or added with the daemon's protocol) is repaired and logged;
 * others' rules and routes are left alone. The fake kernel keeps state like rtnetlink.
 */
import pino from 'pino';
import t from 'tap';
import { KernelEnforcer, type Netlink } from '../../src/enforce/kernel';
import { DriftMonitor } from '../../src/enforce/drift';
import { OutboundRouter, describeRouteOp } from '../../src/outbound/router';
import { ROUTE_PROTOCOL, TABLE_BASE } from '../../src/outbound/routes';
import type { RouteNetlink } from '../../src/route/socket';
import type { RouteOp, RuleState, RouteState } from '../../src/route/types';
import { ws, ZONES } from './fixtures/zones';

const workspaceNet = { net: '10.0.0.0', len: 8 };

/** rtnetlink in memory: add refuses a duplicate, delete refuses a missing object. */
function fakeRoutes() {
  const rules: RuleState[] = [];
  const routes: RouteState[] = [];
  const key = (x: object) => JSON.stringify(x, Object.keys(x).sort());
  const rt: RouteNetlink = {
    async apply(ops: RouteOp[]) {
      for (const [index, op] of ops.entries()) {
        const list: object[] = op.kind === 'rule' ? rules : routes;
        const obj = op.kind === 'rule' ? { ...op.rule, action: 1 } : op.route;
        const at = list.findIndex((x) => key(x) === key(obj));
        if (op.op === 'add' && at >= 0) return { ok: false, index, errno: 17, message: 'exists' };
        if (op.op === 'delete' && at < 0) return { ok: false, index, errno: 2, message: 'none' };
        if (op.op === 'add') list.push(obj);
        else list.splice(at, 1);
      }
      return { ok: true };
    },
    dump: async () => ({ rules: [...rules], routes: [...routes] }),
  };
  return { rt, rules, routes };
}

function setup() {
  // The fake nftables side reads back no table: only the route lines matter here.
  const lines: { msg: string; differences?: string[] }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const kernel = fakeRoutes();
  const nl: Netlink = {
    commit: async () => ({ ok: true }),
    readTable: async () => null,
    ctList: async () => [],
    ctDelete: async () => 0,
  };
  const o = { table: 'workspace_netd', uplink: 'up0', workspaceNet, runtimeApiPort: 9990,
    zones: ZONES };
  const router = new OutboundRouter(kernel.rt, { zones: ZONES, workspaceNet }, log);
  const enforcer = new KernelEnforcer(nl, o, log, router);
  return { enforcer, kernel, lines };
}

const us = ws('ws_a', 1, { outbound_ip: '198.18.0.50' });
const us2 = ws('ws_b', 2, { outbound_ip: '198.18.0.50' });

t.test('nothing to repair: no op and no log line', async (t) => {
  const k = setup();
  await k.enforcer.start(new Map([[us.id, us], [us2.id, us2]]));
  t.equal(k.kernel.rules.length, 1, 'two workspaces of one zone: one rule');
  t.equal(k.kernel.routes.length, 2);
  t.same(await k.enforcer.auditRoutes(), []);
  t.same(k.lines.filter((l) => l.msg.startsWith('route')), []);
});

t.test('a deleted rule and a flushed table come back, and the repair is logged', async (t) => {
  const k = setup();
  await k.enforcer.start(new Map([[us.id, us]]));
  const before = { rules: [...k.kernel.rules], routes: [...k.kernel.routes] };

  k.kernel.rules.length = 0;
  k.kernel.routes.length = 0;
  const found = await k.enforcer.auditRoutes();
  t.same(found, [
    `missing route default via 198.18.0.1 table ${TABLE_BASE}`,
    `missing route throw 10.0.0.0/8 table ${TABLE_BASE}`,
    `missing rule fwmark ${TABLE_BASE} lookup ${TABLE_BASE} priority 30500`,
  ]);
  t.same(k.kernel.rules, before.rules);
  t.same(k.kernel.routes, before.routes);
  const repaired = k.lines.filter((l) => l.msg.startsWith('route'));
  t.same(repaired.map((l) => [l.msg, l.differences?.length]), [['routes repaired', 3]]);
  t.same(await k.enforcer.auditRoutes(), [], 'repaired for good');
});

t.test('a rule of the daemon\'s protocol it did not make is removed; others stay', async (t) => {
  const k = setup();
  await k.enforcer.start(new Map([[us.id, us]]));
  const extra = { priority: 30500, src: '10.0.9.2', srcLen: 32, table: TABLE_BASE + 1,
    protocol: ROUTE_PROTOCOL, action: 1 };
  const foreign = { ...extra, protocol: 4 };
  k.kernel.rules.push(extra, foreign);

  const found = await k.enforcer.auditRoutes();
  t.same(found, [`unexpected rule from 10.0.9.2/32 lookup ${TABLE_BASE + 1} priority 30500`]);
  t.same(k.kernel.rules.map((r) => r.protocol), [ROUTE_PROTOCOL, 4]);
});

t.test('the audit follows applied changes: a released zone is not put back', async (t) => {
  const k = setup();
  await k.enforcer.start(new Map([[us.id, us]]));
  const plain = ws('ws_a', 1);
  await k.enforcer.apply([{ prev: us, next: plain }], new Map([[plain.id, plain]]));
  t.same(k.kernel.rules, []);
  t.same(await k.enforcer.auditRoutes(), []);
  t.same(k.kernel.routes, []);
});

t.test('the drift monitor runs the route audit on its own, shorter period', async (t) => {
  const k = setup();
  await k.enforcer.start(new Map([[us.id, us]]));
  const drift = new DriftMonitor(k.enforcer, {
    table: 'workspace_netd', ownPortId: 1, openMonitor: () => ({ close() {} }),
    routeAuditIntervalMs: 20, log: pino({ level: 'silent' }),
  });
  drift.start();
  t.teardown(() => drift.close());

  k.kernel.rules.length = 0;
  const deadline = Date.now() + 2000;
  while (k.kernel.rules.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  t.same(k.kernel.rules.map((r) => describeRouteOp({ op: 'add', kind: 'rule', rule: r })),
    [`add rule fwmark ${TABLE_BASE} lookup ${TABLE_BASE} priority 30500`]);
});
