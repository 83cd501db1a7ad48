/**
 * The audit's pages of read-back rules: a walk in order asks the addon for each rule once,
 * a page at a time, and a jump back asks again from there.
 */
import t from 'tap';
import { RulePages } from '../../src/enforce/rule-pages';
import type { TableReadBack } from '../../src/nft/types';

/** A read-back of 300 counter rules in two chains that records each rules() call. */
function readBack(calls: [number, number][]): TableReadBack {
  return {
    family: 'inet', name: 't', flags: {}, sets: [],
    chains: [{ name: 'a', ruleCount: 200 }, { name: 'b', ruleCount: 100 }],
    rules: (from, to) => {
      calls.push([from, to]);
      return Array.from({ length: to - from }, (_, i) => ({ handle: from + i, exprs: [] }));
    },
  };
}

t.test('a walk in order decodes each rule once, a page at a time', async (t) => {
  const calls: [number, number][] = [];
  const pages = new RulePages(readBack(calls));
  const handles = Array.from({ length: 300 }, (_, i) => pages.at(i).handle);
  t.same(handles, Array.from({ length: 300 }, (_, i) => i));
  t.same(calls, [[0, 128], [128, 256], [256, 300]]);
});

t.test('a rule before the page held asks again from there', async (t) => {
  const calls: [number, number][] = [];
  const pages = new RulePages(readBack(calls));
  pages.at(250);
  pages.at(10);
  t.same(calls, [[250, 300], [10, 138]]);
});
