/**
 * The audit: what the daemon's table should hold, built from the operations that create
 * it, compared with what the kernel reads back. Used at start (to prove the rebuild), by
 * the drift monitor after a foreign change, and periodically as a backstop.
 */
import { canonicalReg } from '../nft/addon';
import { comparedEnd, elementEnd, PACKED_KEY } from '../nft/packed';
import { readBackOf } from '../nft/readback';
import type {
  BaseChain, Element, Expr, Op, SetReadBack, SetSpec, TableReadBack, TableState,
} from '../nft/types';
import { ElementIndex } from './element-index';
import { RulePages } from './rule-pages';

/** How many differences a report names before it only counts the rest. */
const REPORT_LIMIT = 20;
const NFT_DATA_VERDICT = 0xffffff00;
/** How long one slice of auditTable may hold the event loop, in ms. */
const SLICE_MS = 5;
/** How many items (rules, elements) the comparison takes between its pauses. */
const YIELD_EVERY = 256;
/** Expression fields that name a register (see canonicalReg). */
const REGISTERS = new Set(['sreg', 'dreg', 'addrReg', 'protoReg']);
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * By timeout set, the keys (hex of their bytes) the daemon wrote into it and the kernel may
 * still hold, as of the read being compared; the elements of a set not named do not count.
 */
export type WrittenKeys = ReadonlyMap<string, ReadonlySet<string>>;

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
      for (const e of op.elements) {
        const k = bytesKey(e.key);
        held.delete(k);
        if (op.op !== 'delete') held.set(k, e);
      }
    } else {
      chains.get(op.chain)!.rules.push({ handle: 0, exprs: op.exprs });
    }
  }
  const t = need();
  for (const set of t.sets) set.elements = [...(elements.get(set.spec.name)?.values() ?? [])];
  return t;
}

/**
 * The expected table with what the comparison looks up already keyed: each chain's rule
 * keys and each set's element keys. Keying is most of an audit's work on the expected
 * side, so the enforcer keeps one between audits until it applies a change.
 */
export interface KeyedTable {
  state: TableState;
  /** chain name: its rules' keys, in order */
  rules: Map<string, string[]>;
  /** set name: its elements (none for a timeout set, whose elements do not count) */
  elements: Map<string, ElementIndex>;
}

/** `state` keyed for tableDifferences. */
export function keyed(state: TableState): KeyedTable {
  const rules = new Map(state.chains.map((c) => [c.name, c.rules.map((r) => ruleKey(r.exprs))]));
  const elements = new Map<string, ElementIndex>();
  for (const set of state.sets) {
    elements.set(set.spec.name, new ElementIndex(set.spec.timeout ? [] : set.elements));
  }
  return { state, rules, elements };
}

/**
 * What the kernel's table lacks or has beyond the expected one, in words for the log
 * ("chain forward: rules differ"); empty when they match. Rule handles, element order and
 * register aliases (canonicalReg) do not count, nor the elements of a timeout set, except
 * one whose key is not among what `written` says the daemon put in that set.
 */
export function tableDifferences(
  expected: TableState | KeyedTable,
  actual: TableState | TableReadBack | null,
  written?: WrittenKeys,
): string[] {
  const steps = compare(keyedOf(expected), actual && readBack(actual), written);
  for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
}

/**
 * tableDifferences in slices: it returns to the event loop (setImmediate) whenever a slice
 * has held it `sliceMs`, so that requests are served while a table of 100,000s of elements
 * and rules is compared. It reads only its arguments, which nothing changes meanwhile.
 */
export async function auditTable(
  expected: KeyedTable,
  actual: TableReadBack | null,
  sliceMs = SLICE_MS,
  written?: WrittenKeys,
): Promise<string[]> {
  const steps = compare(expected, actual, written);
  let sliceStarted = performance.now();
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return step.value;
    if (performance.now() - sliceStarted < sliceMs) continue;
    await new Promise((resolve) => setImmediate(resolve));
    sliceStarted = performance.now();
  }
}

/** `differences` cut to a log-sized list. */
export function summarize(differences: string[]): string[] {
  if (differences.length <= REPORT_LIMIT) return differences;
  const more = differences.length - REPORT_LIMIT;
  return [...differences.slice(0, REPORT_LIMIT), `and ${more} more`];
}

/** The comparison, yielding after every few hundred items so that a driver may pause it. */
function* compare(want: KeyedTable, actual: TableReadBack | null, written?: WrittenKeys):
  Generator<void, string[]> {
  const { family, name, flags } = want.state;
  if (actual === null) return [`table ${family} ${name} is missing`];
  const out: string[] = [];
  if (canon(flags) !== canon(actual.flags)) {
    out.push(`table flags are ${canon(actual.flags)}, expected ${canon(flags)}`);
  }

  const sameRules = yield* rulesMatch(want, actual);
  const chains = new Map(actual.chains.map((c) => [c.name, c]));
  yield;
  for (const [i, chain] of want.state.chains.entries()) {
    if (i % YIELD_EVERY === YIELD_EVERY - 1) yield;
    const have = chains.get(chain.name);
    chains.delete(chain.name);
    const rules = want.rules.get(chain.name)!;
    if (!have) out.push(`chain ${chain.name} is missing`);
    else if (baseKey(chain.base) !== baseKey(have.base)) out.push(`chain ${chain.name}: hook`);
    else if (!sameRules.has(chain.name)) {
      out.push(`chain ${chain.name}: rules differ (${have.ruleCount}, expected ` +
        `${rules.length})`);
    }
  }
  for (const name of chains.keys()) out.push(`chain ${name} is not the daemon's`);

  const sets = new Map(actual.sets.map((s) => [s.spec.name, s]));
  for (const { spec } of want.state.sets) {
    const have = sets.get(spec.name);
    sets.delete(spec.name);
    if (!have) out.push(`set ${spec.name} is missing`);
    else if (specKey(spec) !== specKey(have.spec)) out.push(`set ${spec.name}: type`);
    else if (!spec.timeout) {
      out.push(...yield* elementDifferences(spec.name, want.elements.get(spec.name)!, have));
    } else {
      // A timeout set is a cache filled at run time (learned DNS answers) that the kernel
      // empties by itself: its elements are not desired state, but one the daemon never
      // wrote opens what no policy asked for.
      const keys = written?.get(spec.name);
      if (keys) out.push(...yield* foreignElements(spec.name, keys, have));
    }
  }
  for (const name of sets.keys()) out.push(`set ${name} is not the daemon's`);
  return out;
}

/**
 * The names of the kernel's chains whose rules are the expected ones. Rules are decoded
 * a page at a time, walked in the kernel's order so that each is decoded once.
 */
function* rulesMatch(want: KeyedTable, actual: TableReadBack): Generator<void, Set<string>> {
  const out = new Set<string>();
  const pages = new RulePages(actual);
  let from = 0;
  for (const chain of actual.chains) {
    const rules = want.rules.get(chain.name);
    const start = from;
    from += chain.ruleCount;
    if (rules === undefined || rules.length !== chain.ruleCount) continue;

    let same = true;
    for (let i = 0; same && i < rules.length; i++) {
      same = rules[i] === ruleKey(pages.at(start + i).exprs);
      if (i % YIELD_EVERY === YIELD_EVERY - 1) yield;
    }
    if (same) out.add(chain.name);
    yield;
  }
  return out;
}

/** Elements the kernel lacks, and holds beyond the expected, read from its packed bytes. */
function* elementDifferences(set: string, want: ElementIndex, have: SetReadBack):
  Generator<void, string[]> {
  // A kernel set reports each element once, so what matched counts what is there of want.
  let [matched, extra] = [0, 0];
  const bytes = have.elements;
  for (let at = 0, n = 0; at < bytes.length; n++) {
    const end = comparedEnd(bytes, at);
    if (want.hasPacked(bytes, at, end)) matched++;
    else extra++;
    at = elementEnd(bytes, at, end);
    if (n % YIELD_EVERY === YIELD_EVERY - 1) yield;
  }
  const missing = want.size - matched;

  const out: string[] = [];
  if (missing > 0) out.push(`set ${set}: ${missing} element(s) missing`);
  if (extra > 0) out.push(`set ${set}: ${extra} element(s) not the daemon's`);
  return out;
}

/** The elements of a timeout set whose key is not among `keys`, the daemon's. */
function* foreignElements(set: string, keys: ReadonlySet<string>, have: SetReadBack):
  Generator<void, string[]> {
  let foreign = 0;
  const bytes = have.elements;
  for (let at = 0, n = 0; at < bytes.length; n++) {
    const end = comparedEnd(bytes, at);
    if (!keys.has(packedKeyHex(bytes, at))) foreign++;
    at = elementEnd(bytes, at, end);
    if (n % YIELD_EVERY === YIELD_EVERY - 1) yield;
  }
  return foreign > 0 ? [`set ${set}: ${foreign} element(s) not the daemon's`] : [];
}

/** Hex of the key of the packed element at `at` (the key is its first field), '' for none. */
function packedKeyHex(bytes: Uint8Array, at: number): string {
  if (!(bytes[at] & PACKED_KEY)) return '';
  let out = '';
  for (let i = at + 2, end = at + 2 + bytes[at + 1]; i < end; i++) out += HEX[bytes[i]];
  return out;
}

/** `expected` keyed, unless it is already. */
function keyedOf(expected: TableState | KeyedTable): KeyedTable {
  return 'rules' in expected && expected.rules instanceof Map
    ? (expected as KeyedTable)
    : keyed(expected as TableState);
}

/** `actual` as the addon reads it back. */
function readBack(actual: TableState | TableReadBack): TableReadBack {
  return typeof (actual as TableReadBack).rules === 'function'
    ? (actual as TableReadBack)
    : readBackOf(actual as TableState);
}

/** Keys of rule lists already keyed: workspaces share most of them (compile/shared-rules). */
const ruleKeys = new WeakMap<Expr[], string>();

function ruleKey(exprs: Expr[]): string {
  const known = ruleKeys.get(exprs);
  if (known !== undefined) return known;
  let out = '';
  for (const expr of exprs) out += `${exprKey(expr)};`;
  if (Object.isFrozen(exprs)) ruleKeys.set(exprs, out);
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

/**
 * Bytes as a string to compare, one character a byte after one for the length (so that
 * fields side by side cannot run into each other), without a Buffer per call.
 */
function bytesKey(bytes: Uint8Array): string {
  let out = String.fromCharCode(bytes.length);
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
  return out;
}

/**
 * A canonical text of a value: object keys sorted, bytes as hex, and absent, undefined
 * and false fields alike (the kernel reports a flag only when it is on).
 */
function canon(value: unknown): string {
  if (value instanceof Uint8Array) return `x${bytesKey(value)}`;
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
