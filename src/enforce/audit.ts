/**
 * The audit: what the daemon's table should hold, built from the operations that create
 * it, compared with what the kernel reads back. Used at start (to prove the rebuild), by
 * the drift monitor after a foreign change, and periodically as a backstop.
 */
import { canonicalReg } from '../nft/addon';
import type { BaseChain, Element, Expr, Op, SetSpec, TableState } from '../nft/types';

/** How many differences a report names before it only counts the rest. */
const REPORT_LIMIT = 20;
const NFT_DATA_VERDICT = 0xffffff00;
/** Expression fields that name a register (see canonicalReg). */
const REGISTERS = new Set(['sreg', 'dreg', 'addrReg', 'protoReg']);

/** The table that `ops` build when applied in order to an empty namespace. */
export function expectedTable(ops: readonly Op[]): TableState {
  let table: TableState | null = null;
  const need = (): TableState => {
    if (!table) throw new Error('audit: an operation comes before its table');
    return table;
  };
  // Chains by name and each set's elements by key: a table of 5,000 workspaces has 10,000
  // chains and sets of 100,000 elements, which searching per operation makes quadratic.
  let chains = new Map<string, TableState['chains'][number]>();
  let elements = new Map<string, Map<string, Element>>();

  for (const op of ops) {
    if (op.kind === 'table') {
      const fresh = { family: op.family, name: op.name, flags: {}, chains: [], sets: [] };
      table = op.op === 'delete' ? null : { ...fresh, flags: op.flags ?? {} };
      [chains, elements] = [new Map(), new Map()];
      continue;
    }
    const t = need();
    if (op.kind === 'chain') {
      const chain = chains.get(op.name);
      if (op.op === 'delete') {
        t.chains = t.chains.filter((c) => c.name !== op.name);
        chains.delete(op.name);
      } else if (op.op === 'flush') chain!.rules = [];
      else if (!chain) {
        const created = { name: op.name, base: op.base, rules: [] };
        t.chains.push(created);
        chains.set(op.name, created);
      }
    } else if (op.kind === 'set') {
      if (op.op === 'delete') {
        t.sets = t.sets.filter((s) => s.spec.name !== op.name);
        elements.delete(op.name);
      } else if (!t.sets.some((s) => s.spec.name === op.set.name)) {
        t.sets.push({ spec: op.set, elements: [] });
        elements.set(op.set.name, new Map());
      }
    } else if (op.kind === 'elements') {
      const held = elements.get(op.set)!;
      // Deleted then set: an element added again moves to the end, as it would in a list.
      for (const e of op.elements) held.delete(hex(e.key));
      if (op.op !== 'delete') for (const e of op.elements) held.set(hex(e.key), e);
    } else {
      chains.get(op.chain)!.rules.push({ handle: 0, exprs: op.exprs });
    }
  }
  const t = need();
  for (const set of t.sets) set.elements = [...(elements.get(set.spec.name)?.values() ?? [])];
  return t;
}

/**
 * What the kernel's table lacks or has beyond the expected one, in words for the log
 * ("chain forward: rules differ"); empty when they match. Rule handles, element order,
 * register aliases (canonicalReg) and the elements of timeout sets do not count.
 */
export function tableDifferences(expected: TableState, actual: TableState | null): string[] {
  if (actual === null) return [`table ${expected.family} ${expected.name} is missing`];
  const out: string[] = [];
  if (canon(expected.flags) !== canon(actual.flags)) {
    out.push(`table flags are ${canon(actual.flags)}, expected ${canon(expected.flags)}`);
  }

  const chains = new Map(actual.chains.map((c) => [c.name, c]));
  for (const want of expected.chains) {
    const have = chains.get(want.name);
    chains.delete(want.name);
    if (!have) out.push(`chain ${want.name} is missing`);
    else if (baseKey(want.base) !== baseKey(have.base)) out.push(`chain ${want.name}: hook`);
    else if (!sameRules(want.rules, have.rules)) {
      out.push(`chain ${want.name}: rules differ (${have.rules.length}, expected ` +
        `${want.rules.length})`);
    }
  }
  for (const name of chains.keys()) out.push(`chain ${name} is not the daemon's`);

  const sets = new Map(actual.sets.map((s) => [s.spec.name, s]));
  for (const want of expected.sets) {
    const have = sets.get(want.spec.name);
    sets.delete(want.spec.name);
    if (!have) out.push(`set ${want.spec.name} is missing`);
    else if (specKey(want.spec) !== specKey(have.spec)) out.push(`set ${want.spec.name}: type`);
    else if (!want.spec.timeout) {
      // A timeout set is a cache filled at run time (learned DNS answers) that the kernel
      // empties by itself: its elements are not desired state, only its shape is.
      out.push(...elementDifferences(want.spec.name, want.elements, have.elements));
    }
  }
  for (const name of sets.keys()) out.push(`set ${name} is not the daemon's`);
  return out;
}

/** `differences` cut to a log-sized list. */
export function summarize(differences: string[]): string[] {
  if (differences.length <= REPORT_LIMIT) return differences;
  const more = differences.length - REPORT_LIMIT;
  return [...differences.slice(0, REPORT_LIMIT), `and ${more} more`];
}

/** Elements the kernel lacks, and holds beyond the expected, by a sorted walk of both. */
function elementDifferences(set: string, want: Element[], have: Element[]): string[] {
  // Sorting by bytes allocates nothing per element: a set may hold 100,000s of them.
  const a = [...want].sort(compareElements);
  const b = [...have].sort(compareElements);
  let [missing, extra, i, j] = [0, 0, 0, 0];
  while (i < a.length || j < b.length) {
    const order = i >= a.length ? 1 : j >= b.length ? -1 : compareElements(a[i], b[j]);
    if (order === 0) (i++, j++);
    else if (order < 0) (missing++, i++);
    else (extra++, j++);
  }

  const out: string[] = [];
  if (missing > 0) out.push(`set ${set}: ${missing} element(s) missing`);
  if (extra > 0) out.push(`set ${set}: ${extra} element(s) not the daemon's`);
  return out;
}

function sameRules(want: { exprs: Expr[] }[], have: { exprs: Expr[] }[]): boolean {
  if (want.length !== have.length) return false;
  return want.every((rule, i) => ruleKey(rule.exprs) === ruleKey(have[i].exprs));
}

function ruleKey(exprs: Expr[]): string {
  let out = '';
  for (const expr of exprs) out += `${exprKey(expr)};`;
  return out;
}

/** One expression as canon() would write it after canonicalExpr(), without the copies. */
function exprKey(expr: Expr): string {
  const record = expr as unknown as Record<string, unknown>;
  let out = '';
  for (const key of Object.keys(record).sort()) {
    const value = record[key];
    if (value === undefined || value === false) continue;
    if (typeof value === 'number') {
      out += `${key}:${REGISTERS.has(key) ? canonicalReg(value) : value},`;
    } else if (typeof value === 'string') out += `${key}:${value},`;
    else out += `${key}:${canon(value)},`;
  }
  return out;
}

function baseKey(base: BaseChain | undefined): string {
  return base ? canon(base) : 'regular';
}

/** A spec as the kernel keeps it: a verdict map has no data length of its own. */
function specKey(spec: SetSpec): string {
  const { dataLen, ...rest } = spec;
  return canon(spec.dataType === NFT_DATA_VERDICT ? rest : { ...rest, dataLen });
}

/** A total order of elements by every field the kernel reports. */
function compareElements(x: Element, y: Element): number {
  const flags = (e: Element) => {
    const read = e as Element & { intervalEnd?: boolean; unknown?: boolean };
    return (read.intervalEnd ? 1 : 0) + (read.unknown ? 2 : 0);
  };
  return compareBytes(x.key, y.key) || compareBytes(x.keyEnd, y.keyEnd) ||
    compareBytes(x.data, y.data) || compareVerdicts(x.verdict, y.verdict) ||
    flags(x) - flags(y);
}

function compareBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): number {
  if (a === b) return 0;
  if (!a || !b) return a ? 1 : -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function compareVerdicts(a: Element['verdict'], b: Element['verdict']): number {
  if (a === b) return 0;
  if (!a || !b) return a ? 1 : -1;
  const chain = (v: NonNullable<Element['verdict']>) => ('chain' in v ? v.chain : '');
  return a.kind.localeCompare(b.kind) || chain(a).localeCompare(chain(b));
}

/**
 * A canonical text of a value: object keys sorted, bytes as hex, and absent, undefined
 * and false fields alike (the kernel reports a flag only when it is on).
 */
function canon(value: unknown): string {
  if (value instanceof Uint8Array) return `x${hex(value)}`;
  if (Array.isArray(value)) return `[${value.map(canon).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);

  const record = value as Record<string, unknown>;
  let out = '{';
  for (const key of Object.keys(record).sort()) {
    const field = record[key];
    if (field !== undefined && field !== false) out += `${key}:${canon(field)},`;
  }
  return `${out}}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
