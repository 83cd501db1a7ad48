/**
 * The smallest transaction that moves one workspace's share of the table from what was
 * committed to what is desired. Order matters inside a batch: a chain must exist before a
 * verdict map element jumps to it, and must lose its last reference before it is deleted.
 */
import type { Element, Expr, Op } from '../nft/types';
import type { CompiledWorkspace } from './workspace';
import { FAMILY } from './layout';

const EMPTY = (id: string): CompiledWorkspace => ({ id, chains: new Map(), elements: new Map() });

/** Operations that turn `prev` into `next` in `table` (either may be null: absent). */
export function diffWorkspace(
  table: string,
  prev: CompiledWorkspace | null,
  next: CompiledWorkspace | null,
): Op[] {
  const id = (next ?? prev)?.id ?? '';
  const a = prev ?? EMPTY(id);
  const b = next ?? EMPTY(id);
  const family = FAMILY;
  const ops: Op[] = [];

  const added = [...b.chains.keys()].filter((n) => !a.chains.has(n));
  const removed = [...a.chains.keys()].filter((n) => !b.chains.has(n));
  const changed = [...b.chains.keys()].filter(
    (n) => a.chains.has(n) && !sameRules(a.chains.get(n)!, b.chains.get(n)!),
  );

  for (const name of added) ops.push({ op: 'create', kind: 'chain', family, table, name });
  for (const [set, els] of elementDelta(b, a)) {
    ops.push({ op: 'delete', kind: 'elements', family, table, set, elements: els });
  }
  for (const [set, els] of elementDelta(a, b)) {
    ops.push({ op: 'create', kind: 'elements', family, table, set, elements: els });
  }
  for (const name of changed) ops.push({ op: 'flush', kind: 'chain', family, table, name });
  for (const name of [...added, ...changed]) {
    for (const exprs of b.chains.get(name)!) {
      ops.push({ op: 'add', kind: 'rule', family, table, chain: name, exprs });
    }
  }
  for (const name of removed) {
    ops.push({ op: 'flush', kind: 'chain', family, table, name });
    ops.push({ op: 'delete', kind: 'chain', family, table, name });
  }
  return ops;
}

/** Elements in `to` that `from` lacks, by set. */
function elementDelta(from: CompiledWorkspace, to: CompiledWorkspace): [string, Element[]][] {
  const out: [string, Element[]][] = [];
  for (const [set, els] of to.elements) {
    // A set `from` has nothing in (every set of a cold build) needs no identities.
    if (!from.elements.get(set)?.length) {
      if (els.length > 0) out.push([set, els]);
      continue;
    }
    const have = new Set(from.elements.get(set)!.map(elementId));
    const missing = els.filter((e) => !have.has(elementId(e)));
    if (missing.length > 0) out.push([set, missing]);
  }
  return out;
}

/** An element's identity: its keys and its value. */
export function elementId(e: Element): string {
  const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : '');
  const v = e.verdict ? JSON.stringify(e.verdict) : '';
  return `${hex(e.key)}-${hex(e.keyEnd)}-${hex(e.data)}-${v}`;
}

function sameRules(a: Expr[][], b: Expr[][]): boolean {
  // Shared lists (src/compile/shared-rules.ts) are the same object when they are equal.
  if (a === b) return true;
  return JSON.stringify(a, bytesAsHex) === JSON.stringify(b, bytesAsHex);
}

function bytesAsHex(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
}
