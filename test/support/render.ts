/**
 * Test support: renders the daemon's typed nftables operations, or a table read back
 * from the kernel, in the notation `nft list table` prints (as nft 1.0.6 prints it),
 * so compiled rulesets can be kept as readable golden files and compared with nft.
 */
import type { ChainState, Op, SetState, TableFlags, TableState } from '../../src/nft/types';
import { renderChain } from './render/chains';
import { RuleDecompiler } from './render/exprs';
import { renderSet } from './render/sets';

export { normalize } from './render/normalize';

/** The table that a list of operations builds, as `nft list table` would print it. */
export function renderOps(ops: Op[]): string {
  return renderTable(applyOps(ops));
}

/** A read-back table as `nft list table FAMILY NAME` prints it: sets first, then chains. */
export function renderTable(state: TableState): string {
  const specs = new Map(state.sets.map((s) => [s.spec.name, s.spec]));
  const rules = new RuleDecompiler(state.family, specs);
  const blocks = [
    ...state.sets.map(renderSet),
    ...state.chains.map((c) => renderChain(c, state.family, rules)),
  ];

  const lines = [`table ${state.family} ${state.name} {`];
  const flags = tableFlags(state.flags);
  if (flags) lines.push(`\tflags ${flags}`, ...(blocks.length ? [''] : []));
  if (blocks.length) lines.push(blocks.join('\n\n'));
  return [...lines, '}', ''].join('\n');
}

function tableFlags(flags: TableFlags): string {
  return [flags.owner && 'owner', flags.persist && 'persist'].filter(Boolean).join(',');
}

/**
 * Applies operations in order to an empty table: adds, flushes and deletes of chains,
 * sets, elements and rules. Throws when an operation names an object that is absent.
 */
export function applyOps(ops: Op[]): TableState {
  let table: TableState | undefined;
  const need = (): TableState => {
    if (!table) throw new Error('operation before the table was added');
    return table;
  };
  const chain = (name: string): ChainState => find(need().chains, (c) => c.name === name, name);
  const set = (name: string): SetState => find(need().sets, (s) => s.spec.name === name, name);
  let handle = 0;

  for (const op of ops) {
    if (op.kind === 'table') {
      const empty = { family: op.family, name: op.name, chains: [], sets: [] };
      table = op.op !== 'delete' ? table ?? { ...empty, flags: op.flags ?? {} } : undefined;
    } else if (op.kind === 'chain') {
      const t = need();
      if (op.op !== 'delete' && op.op !== 'flush' && !t.chains.some((c) => c.name === op.name)) {
        t.chains.push({ name: op.name, base: op.base, rules: [] });
      } else if (op.op === 'flush') chain(op.name).rules = [];
      else if (op.op === 'delete') t.chains = t.chains.filter((c) => c.name !== op.name);
    } else if (op.kind === 'set') {
      const t = need();
      if (op.op !== 'delete') {
        if (!t.sets.some((s) => s.spec.name === op.set.name)) {
          t.sets.push({ spec: op.set, elements: [] });
        }
      } else t.sets = t.sets.filter((s) => s.spec.name !== op.name);
    } else if (op.kind === 'elements') {
      const s = set(op.set);
      const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
      s.elements = s.elements.filter((e) => !op.elements.some((o) => same(o.key, e.key)));
      if (op.op !== 'delete') s.elements.push(...op.elements);
    } else {
      chain(op.chain).rules.push({ handle: ++handle, exprs: op.exprs });
    }
  }
  return need();
}

function find<T>(items: T[], pred: (item: T) => boolean, name: string): T {
  const item = items.find(pred);
  if (!item) throw new Error(`no such object: ${name}`);
  return item;
}
