/**
 * The routing plan: a zone's table and its one fwmark rule appear with its first
 * workspace and go with its last; other workspaces change no routing at all; ops are
 * ordered so that every step is valid, and inverse() undoes a prefix of them newest first.
 */
import t from 'tap';
import type { WorkspaceChange } from '../../src/enforce/types';
import type { Workspace } from '../../src/model/types';
import {
  inverse, planRouting, RULE_PRIORITY, TABLE_BASE, zoneMark, type WorkspaceRoute,
} from '../../src/outbound/routes';
import type { RouteOp } from '../../src/route/types';
import { describeRouteOp } from '../../src/outbound/router';
import { ws, ZONES } from './fixtures/zones';

const o = { zones: ZONES, workspaceNet: { net: '10.0.0.0', len: 8 } };
const US = { outbound_ip: '198.18.0.50' };
const DE = { outbound_ip: '198.18.0.51' };
const [us, de] = [TABLE_BASE, TABLE_BASE + 1];
const rule = (table: number) => `rule fwmark ${table} lookup ${table} priority ${RULE_PRIORITY}`;

/** Plans `changes` from `applied` and returns the plan's ops, readable. */
function plan(applied: Map<string, WorkspaceRoute>, changes: WorkspaceChange[]) {
  const p = planRouting(applied, changes, o);
  return { ...p, text: p.ops.map(describeRouteOp) };
}

/** The applied state after moving `workspaces` from nothing. */
function after(...workspaces: Workspace[]): Map<string, WorkspaceRoute> {
  return planRouting(new Map(), workspaces.map((w) => ({ prev: null, next: w })), o).next;
}

t.test('a zone\'s mark is its table number, by its place in the pool', async (t) => {
  t.equal(zoneMark(ZONES[0], ZONES), us);
  t.equal(zoneMark(ZONES[1], ZONES), de);
});

t.test('the first workspace of a zone brings its table, then the zone\'s rule', async (t) => {
  const a = ws('ws_a', 1, US);
  const p = plan(new Map(), [{ prev: ws('ws_a', 1), next: a }]);
  t.same(p.text, [
    `add route default via 198.18.0.1 table ${us}`,
    `add route throw 10.0.0.0/8 table ${us}`,
    `add ${rule(us)}`,
  ]);
  t.same(p.owners, ['ws_a', 'ws_a', 'ws_a']);
  t.same([...p.next.keys()], ['ws_a']);
  t.same(p.ops[2], {
    op: 'add', kind: 'rule', rule: { priority: RULE_PRIORITY, src: '0.0.0.0', srcLen: 0,
      fwmark: us, fwmask: 0xffffffff, table: us, protocol: 201 },
  });
});

t.test('more workspaces on a zone in use change no routing: one rule per zone', async (t) => {
  const p = plan(after(ws('ws_a', 1, US)), [{ prev: ws('ws_b', 2), next: ws('ws_b', 2, US) }]);
  t.same(p.ops, []);
  const many = Array.from({ length: 200 }, (_, i) => ws(`ws_${i}`, i + 1, i % 2 ? US : DE));
  const fromNothing = plan(new Map(), many.map((w) => ({ prev: null, next: w })));
  t.equal(fromNothing.text.filter((x) => x.startsWith('add rule')).length, 2, '200 workspaces');
});

t.test('moving the last workspace of a zone: new zone in, old zone out', async (t) => {
  const move = { prev: ws('ws_a', 1, US), next: ws('ws_a', 1, DE) };
  const p = plan(after(ws('ws_a', 1, US)), [move]);
  t.same(p.text, [
    `add route default via 198.18.0.254 table ${de}`,
    `add route throw 10.0.0.0/8 table ${de}`,
    `add ${rule(de)}`,
    `delete ${rule(us)}`,
    `delete route throw 10.0.0.0/8 table ${us}`,
    `delete route default via 198.18.0.1 table ${us}`,
  ]);
});

t.test('releasing keeps the zone while another workspace uses it', async (t) => {
  const applied = after(ws('ws_a', 1, US), ws('ws_b', 2, US));
  const p = plan(applied, [{ prev: ws('ws_a', 1, US), next: ws('ws_a', 1) }]);
  t.same(p.ops, []);
  const last = plan(p.next, [{ prev: ws('ws_b', 2, US), next: null }]);
  t.same(last.text, [
    `delete ${rule(us)}`,
    `delete route throw 10.0.0.0/8 table ${us}`,
    `delete route default via 198.18.0.1 table ${us}`,
  ], 'the last one takes the rule, then the table');
  t.same(last.owners, ['ws_b', 'ws_b', 'ws_b']);
});

t.test('no routing in custom mode, for a remote workspace, or for a hostless zone', async (t) => {
  const a = ws('ws_a', 1, US);
  const applied = after(a);
  const toCustom = ws('ws_a', 1, { ...US, outbound_mode: 'custom' });
  const custom = plan(applied, [{ prev: a, next: toCustom }]);
  t.equal(custom.ops.length, 3, 'custom mode: rule and table go');
  t.equal(plan(new Map(), [{ prev: null, next: { ...a, interface: null } }]).ops.length, 0);
  t.equal(plan(new Map(), [{ prev: null, next: ws('ws_c', 3, { outbound_ip: '198.18.0.52' }) }])
    .ops.length, 0);
});

t.test('an unrelated change or a new workspace ip plans nothing', async (t) => {
  const a = ws('ws_a', 1, US);
  const applied = after(a);
  const ports = ws('ws_a', 1, { ...US, ingress_ports: [80] });
  t.same(plan(applied, [{ prev: a, next: ports }]).ops, []);
  const moved = { ...a, ip: '10.0.9.2' };
  const p = plan(applied, [{ prev: a, next: moved }]);
  t.same(p.ops, [], 'the mark follows the address in nftables');
  t.equal(p.next.get('ws_a')?.src, '10.0.9.2');
});

t.test('inverse undoes a prefix, newest first, add and delete swapped', async (t) => {
  const p = plan(new Map(), [{ prev: null, next: ws('ws_a', 1, US) }]);
  const undo = inverse(p.ops, 2);
  t.same(undo.map(describeRouteOp), [
    `delete route throw 10.0.0.0/8 table ${us}`,
    `delete route default via 198.18.0.1 table ${us}`,
  ]);
  t.same(inverse(inverse(p.ops)).map((op: RouteOp) => op.op), ['add', 'add', 'add']);
});
