/**
 * The routing plan: a zone's table appears with its first workspace and goes with its
 * last; each workspace has one rule; ops are ordered so that every step is valid, and
 * inverse() undoes a prefix of them newest first.
 */
import t from 'tap';
import type { WorkspaceChange } from '../../src/enforce/types';
import type { Workspace } from '../../src/model/types';
import {
  inverse, planRouting, RULE_PRIORITY, TABLE_BASE, type WorkspaceRoute,
} from '../../src/outbound/routes';
import type { RouteOp } from '../../src/route/types';
import { describeRouteOp } from '../../src/outbound/router';
import { ws, ZONES } from './fixtures/zones';

const o = { zones: ZONES, workspaceNet: { net: '10.0.0.0', len: 8 } };
const US = { outbound_ip: '198.18.0.50' };
const DE = { outbound_ip: '198.18.0.51' };

/** Plans `changes` from `applied` and returns the plan's ops, readable. */
function plan(applied: Map<string, WorkspaceRoute>, changes: WorkspaceChange[]) {
  const p = planRouting(applied, changes, o);
  return { ...p, text: p.ops.map(describeRouteOp) };
}

/** The applied state after moving `workspaces` from nothing. */
function after(...workspaces: Workspace[]): Map<string, WorkspaceRoute> {
  return planRouting(new Map(), workspaces.map((w) => ({ prev: null, next: w })), o).next;
}

t.test('the first workspace of a zone brings its table, then its rule', async (t) => {
  const a = ws('ws_a', 1, US);
  const p = plan(new Map(), [{ prev: ws('ws_a', 1), next: a }]);
  t.same(p.text, [
    `add route default via 198.18.0.1 table ${TABLE_BASE}`,
    `add route throw 10.0.0.0/8 table ${TABLE_BASE}`,
    `add rule from 10.0.1.2/32 lookup ${TABLE_BASE} priority ${RULE_PRIORITY}`,
  ]);
  t.same(p.owners, ['ws_a', 'ws_a', 'ws_a']);
  t.same([...p.next.keys()], ['ws_a']);
});

t.test('a second workspace on the same zone shares the table: one rule', async (t) => {
  const p = plan(after(ws('ws_a', 1, US)), [{ prev: ws('ws_b', 2), next: ws('ws_b', 2, US) }]);
  t.same(p.text, [`add rule from 10.0.2.2/32 lookup ${TABLE_BASE} priority ${RULE_PRIORITY}`]);
});

t.test('moving the last workspace of a zone: new table, rule swapped, old gone', async (t) => {
  const move = { prev: ws('ws_a', 1, US), next: ws('ws_a', 1, DE) };
  const p = plan(after(ws('ws_a', 1, US)), [move]);
  const [us, de] = [TABLE_BASE, TABLE_BASE + 1];
  t.same(p.text, [
    `add route default via 198.18.0.254 table ${de}`,
    `add route throw 10.0.0.0/8 table ${de}`,
    `delete rule from 10.0.1.2/32 lookup ${us} priority ${RULE_PRIORITY}`,
    `add rule from 10.0.1.2/32 lookup ${de} priority ${RULE_PRIORITY}`,
    `delete route default via 198.18.0.1 table ${us}`,
    `delete route throw 10.0.0.0/8 table ${us}`,
  ]);
});

t.test('releasing keeps the table while another workspace uses it', async (t) => {
  const applied = after(ws('ws_a', 1, US), ws('ws_b', 2, US));
  const p = plan(applied, [{ prev: ws('ws_a', 1, US), next: ws('ws_a', 1) }]);
  t.same(p.text, [`delete rule from 10.0.1.2/32 lookup ${TABLE_BASE} priority ${RULE_PRIORITY}`]);
  const last = plan(p.next, [{ prev: ws('ws_b', 2, US), next: null }]);
  t.equal(last.text.length, 3, 'the last one takes the table with it');
  t.match(last.text[2], /^delete route throw/);
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

t.test('an unrelated change plans nothing; an ip change swaps the rule', async (t) => {
  const a = ws('ws_a', 1, US);
  const applied = after(a);
  const ports = ws('ws_a', 1, { ...US, ingress_ports: [80] });
  t.same(plan(applied, [{ prev: a, next: ports }]).ops, []);
  const moved = { ...a, ip: '10.0.9.2' };
  t.same(plan(applied, [{ prev: a, next: moved }]).text, [
    `delete rule from 10.0.1.2/32 lookup ${TABLE_BASE} priority ${RULE_PRIORITY}`,
    `add rule from 10.0.9.2/32 lookup ${TABLE_BASE} priority ${RULE_PRIORITY}`,
  ]);
});

t.test('inverse undoes a prefix, newest first, add and delete swapped', async (t) => {
  const p = plan(new Map(), [{ prev: null, next: ws('ws_a', 1, US) }]);
  const undo = inverse(p.ops, 2);
  t.same(undo.map(describeRouteOp), [
    `delete route throw 10.0.0.0/8 table ${TABLE_BASE}`,
    `delete route default via 198.18.0.1 table ${TABLE_BASE}`,
  ]);
  t.same(inverse(inverse(p.ops)).map((op: RouteOp) => op.op), ['add', 'add', 'add']);
});
