/**
 * Rule lists that workspaces compile to alike, held once. A workspace's chains differ from
 * another's mostly in which egress set they name and which checks its policy switches on,
 * so 5,000 workspaces make a few hundred distinct lists: sharing them keeps one tree of
 * expression objects per list instead of one per workspace, and lets the audit key each
 * list once (README: Performance, memory). The lists are frozen: nothing may change a rule
 * that other workspaces hold too.
 */
import type { Expr } from '../nft/types';

/** Beyond this many distinct lists the cache starts again (a bound, never reached here). */
const MAX_LISTS = 4096;

const lists = new Map<string, Expr[][]>();

/**
 * The rule list for `key`, built by `build` the first time. `key` must name everything the
 * list depends on: two workspaces with the same key get the same object.
 */
export function sharedRules(key: string, build: () => Expr[][]): Expr[][] {
  const held = lists.get(key);
  if (held) return held;

  const rules = build();
  for (const rule of rules) Object.freeze(rule);
  Object.freeze(rules);
  if (lists.size >= MAX_LISTS) lists.clear();
  lists.set(key, rules);
  return rules;
}
