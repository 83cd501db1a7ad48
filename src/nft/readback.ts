/**
 * The two shapes of a table read back: the TableReadBack the addon returns (elements
 * packed, rules decoded on demand) and the TableState that tests and tools read, with an
 * object for everything. The audit reads the first; each converts to the other.
 */
import { packElements, unpackElements } from './packed';
import type { TableReadBack, TableState } from './types';

/** Every object of `read`: its elements unpacked and all its rules decoded at once. */
export function unpackTable(read: TableReadBack): TableState {
  const rules = read.rules(0, read.chains.reduce((n, c) => n + c.ruleCount, 0));
  let at = 0;
  const chains = read.chains.map(({ ruleCount, ...chain }) => {
    at += ruleCount;
    return { ...chain, rules: rules.slice(at - ruleCount, at) };
  });
  const sets = read.sets.map(({ spec, count, elements }) => ({
    spec,
    elements: unpackElements({ bytes: elements, count }),
  }));
  return { family: read.family, name: read.name, flags: read.flags, chains, sets };
}

/** `state` as the addon would read it back (for tests, and enforcers over a fake kernel). */
export function readBackOf(state: TableState): TableReadBack {
  const rules = state.chains.flatMap((c) => c.rules);
  return {
    family: state.family,
    name: state.name,
    flags: state.flags,
    chains: state.chains.map(({ rules: r, ...chain }) => ({ ...chain, ruleCount: r.length })),
    sets: state.sets.map(({ spec, elements }) => {
      const packed = packElements(elements);
      return { spec, count: packed.count, elements: packed.bytes };
    }),
    rules: (from, to) => rules.slice(from, to),
  };
}
