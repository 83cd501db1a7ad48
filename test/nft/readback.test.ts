/**
 * The two shapes of a table read back (src/nft/readback.ts): a TableState made into a
 * read-back and unpacked again is the same table, and rules come in any slice asked for.
 */
import t from 'tap';
import { readBackOf, unpackTable } from '../../src/nft/readback';
import type { TableState } from '../../src/nft/types';

const b = (...bytes: number[]) => Uint8Array.from(bytes);
const accept = { type: 'immediate', dreg: 0, verdict: { kind: 'accept' } } as const;

const state: TableState = {
  family: 'inet', name: 'workspace_netd', flags: { owner: true },
  chains: [
    { name: 'forward', base: { type: 'filter', hook: 'forward', priority: 0, policy: 'drop' },
      rules: [{ handle: 1, exprs: [{ type: 'counter' }] }, { handle: 2, exprs: [accept] }] },
    { name: 'empty', rules: [] },
    { name: 'ws_a_out', rules: [{ handle: 3, exprs: [{ type: 'masq' }] }] },
  ],
  sets: [
    { spec: { name: 'out', keyType: 41, keyLen: 16, dataType: 0xffffff00 },
      elements: [{ key: b(1), verdict: { kind: 'goto', chain: 'ws_a_out' } }] },
    { spec: { name: 'none', keyType: 7, keyLen: 4 }, elements: [] },
  ],
};

t.test('a table made a read-back and unpacked is the same table', async (t) => {
  const read = readBackOf(state);
  t.same(read.chains.map((c) => c.ruleCount), [2, 0, 1]);
  t.same(read.sets.map((s) => s.count), [1, 0]);
  t.same(unpackTable(read), state);
});

t.test('rules come in the slices asked for, chains back to back', async (t) => {
  const read = readBackOf(state);
  t.same(read.rules(1, 3).map((r) => r.handle), [2, 3]);
  t.same(read.rules(3, 3), []);
});
