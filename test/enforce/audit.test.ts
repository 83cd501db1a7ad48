/**
 * The audit's comparison: the table the daemon's operations build against what the
 * kernel reads back, and which differences count (and which, like register aliases,
 * rule handles and element order, do not); in slices, it finds the same and lets the
 * event loop run between them.
 */
import t from 'tap';
import {
  auditTable, expectedTable, keyed, summarize, tableDifferences,
} from '../../src/enforce/audit';
import { skeleton } from '../../src/compile/layout';
import { readBackOf } from '../../src/nft/readback';
import type { TableState } from '../../src/nft/types';
import { concat, ifname, ipv4 } from '../../src/nft/bytes';

const layout = {
  table: 'workspace_netd', uplink: 'up0', workspaceNet: { net: '10.0.0.0', len: 8 },
};
const key = (n: number) => Uint8Array.from([n, 0, 0, 0]);
const address = (n: number) => Uint8Array.from([10, n >> 16, (n >> 8) & 255, n & 255]);

/** The skeleton and one workspace chain, as the daemon's operations build them. */
function built(): TableState {
  const ops = skeleton(layout);
  ops.push({ op: 'create', kind: 'chain', family: 'inet', table: layout.table, name: 'ws_a_out' });
  return expectedTable(ops);
}

/** A deep copy, as a readback is a separate object. */
const copy = (s: TableState): TableState => structuredClone(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

t.test('a table compared with its own readback has no differences', async (t) => {
  t.same(tableDifferences(built(), copy(built())), []);
});

t.test('a missing table, chain, rule or set is named', async (t) => {
  const want = built();
  t.same(tableDifferences(want, null), ['table inet workspace_netd is missing']);

  const have = copy(want);
  have.chains = have.chains.filter((c) => c.name !== 'refuse');
  have.chains.find((c) => c.name === 'forward')!.rules.pop();
  have.sets = have.sets.filter((s) => s.spec.name !== 'src');
  const found = tableDifferences(want, have);
  t.ok(found.includes('chain refuse is missing'));
  t.ok(found.some((d) => d.startsWith('chain forward: rules differ')));
  t.ok(found.includes('set src is missing'));
});

t.test('what someone else added is named too', async (t) => {
  const want = built();
  const have = copy(want);
  have.chains.push({ name: 'extra', rules: [] });
  have.chains.find((c) => c.name === 'input')!.rules.unshift({ handle: 99, exprs: [
    { type: 'immediate', dreg: 0, verdict: { kind: 'accept' } }] });
  have.sets.find((s) => s.spec.name === 'ifaces')!.elements.push({ key: key(1) });
  have.flags = { owner: true };

  const found = tableDifferences(want, have);
  t.ok(found.includes('chain extra is not the daemon\'s'));
  t.ok(found.some((d) => d.startsWith('chain input: rules differ')));
  t.ok(found.includes('set ifaces: 1 element(s) not the daemon\'s'));
  t.ok(found.some((d) => d.startsWith('table flags')));
});

t.test('register aliases, false flags, handles and element order do not count', async (t) => {
  const want = built();
  const have = copy(want);
  for (const chain of have.chains) {
    chain.rules = chain.rules.map((r, i) => ({ handle: 1000 + i, exprs: r.exprs.map((e) => {
      if (e.type === 'lookup' && e.invert === undefined) return { ...e, invert: false };
      if ('sreg' in e && e.sreg === 1) return { ...e, sreg: 8 };
      return e;
    }) }));
  }
  const ifaces = want.sets.find((s) => s.spec.name === 'ifaces')!;
  ifaces.elements.push({ key: key(1) }, { key: key(2) });
  have.sets.find((s) => s.spec.name === 'ifaces')!.elements.push({ key: key(2) }, { key: key(1) });
  t.same(tableDifferences(want, have), []);
});

t.test('the elements of a timeout set are a cache, not desired state', async (t) => {
  const want = built();
  const spec = { name: 'learned', keyType: 7, keyLen: 4, timeout: true };
  want.sets.push({ spec, elements: [] });
  const have = copy(want);
  have.sets.find((s) => s.spec.name === 'learned')!.elements.push({ key: key(9) });
  t.same(tableDifferences(want, have), []);
});

t.test('an element of a timeout set whose key the daemon did not write is a difference',
  async (t) => {
    const want = built();
    const have = copy(want);
    const learned = concat(ifname('t-a'), ipv4('198.18.2.20'));
    const foreign = concat(ifname('t-a'), ipv4('198.18.2.10'));
    const set = have.sets.find((s) => s.spec.name === 'egress_learned')!;
    set.elements.push({ key: learned, timeout: 60_000 });
    const written = new Map([['egress_learned', new Set([hex(learned)])]]);
    t.same(tableDifferences(want, have, written), [], 'a learned one is none');

    set.elements.push({ key: foreign, timeout: 3_600_000 });
    t.same(tableDifferences(want, have, written),
      ['set egress_learned: 1 element(s) not the daemon\'s']);
    t.same(await auditTable(keyed(want), readBackOf(have), 0, written),
      ['set egress_learned: 1 element(s) not the daemon\'s'], 'in slices too');
    t.same(tableDifferences(want, have), [], 'without what the daemon wrote, as before');
  });

/** `want` with `n` more chains of 5 rules and a set of `n` elements, as a large table has. */
function large(want: TableState, n: number): TableState {
  const rule = want.chains.find((c) => c.name === 'forward')!.rules[0];
  for (let i = 0; i < n; i++) {
    want.chains.push({ name: `ws_${i}_out`, rules: Array.from({ length: 5 }, () => rule) });
  }
  const spec = { name: 'many', keyType: 7, keyLen: 4 };
  want.sets.push({ spec, elements: Array.from({ length: n }, (_, i) => ({ key: address(i) })) });
  return want;
}

t.test('in slices, the comparison finds what it finds at once', async (t) => {
  const want = large(built(), 3000);
  const have = copy(want);
  have.chains.find((c) => c.name === 'ws_2999_out')!.rules.pop();
  have.chains.push({ name: 'extra', rules: [] });
  have.sets.find((s) => s.spec.name === 'many')!.elements.splice(7, 2, { key: address(1e6) });
  have.sets.find((s) => s.spec.name === 'ifaces')!.elements.push({ key: key(1) });

  const whole = tableDifferences(want, have);
  t.same(whole, [
    'chain ws_2999_out: rules differ (4, expected 5)',
    'chain extra is not the daemon\'s',
    'set ifaces: 1 element(s) not the daemon\'s',
    'set many: 2 element(s) missing',
    'set many: 1 element(s) not the daemon\'s',
  ]);
  t.same(await auditTable(keyed(want), readBackOf(have), 0), whole);
  t.same(await auditTable(keyed(want), readBackOf(copy(want)), 0), []);
  t.same(await auditTable(keyed(want), null), ['table inet workspace_netd is missing']);
});

t.test('a sliced comparison lets timers run between its slices', async (t) => {
  const want = large(built(), 5000);
  const have = readBackOf(copy(want));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const started = performance.now();
  const found = await auditTable(keyed(want), have, 1);
  const ms = performance.now() - started;
  clearInterval(timer);
  t.same(found, []);
  t.ok(ticks >= 2, `timers ran ${ticks} times in ${ms.toFixed(0)} ms`);
});

t.test('a long report is cut, counting the rest', async (t) => {
  const many = Array.from({ length: 25 }, (_, i) => `d${i}`);
  t.same(summarize(many).length, 21);
  t.equal(summarize(many)[20], 'and 5 more');
});
