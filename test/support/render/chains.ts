/**
 * Chains as `nft list` prints them: the base chain line with nft's priority names,
 * then one line per rule.
 */
import type { BaseChain, ChainState, Family } from '../../../src/nft/types';
import type { RuleDecompiler } from './exprs';

/** nft's standard priorities, in the order nft tries them. */
const STD_PRIOS: [string, number][] = [
  ['raw', -300], ['mangle', -150], ['dstnat', -100], ['filter', 0], ['security', 50],
  ['srcnat', 100],
];

/** How far from a standard priority nft still prints it by name with an offset. */
const REACH = 10;

/** Whether nft names this standard priority at this hook (dstnat and srcnat are NAT-only). */
function nameFits(name: string, hook: string, family: Family): boolean {
  if (family === 'netdev') return name === 'filter';
  if (name === 'dstnat') return hook === 'prerouting';
  if (name === 'srcnat') return hook === 'postrouting';
  return true;
}

/** A priority as nft prints it: `filter`, `raw + 5`, `security - 8`, or the number. */
export function formatPriority(prio: number, hook: string, family: Family): string {
  const near = STD_PRIOS.find(([, value]) => Math.abs(prio - value) <= REACH);
  if (!near || !nameFits(near[0], hook, family)) return String(prio);

  const offset = prio - near[1];
  if (offset === 0) return near[0];
  return `${near[0]} ${offset > 0 ? '+' : '-'} ${Math.abs(offset)}`;
}

/** The `type ... hook ... priority ...; policy ...;` line of a base chain. */
export function baseLine(base: BaseChain, family: Family): string {
  const prio = formatPriority(base.priority, base.hook, family);
  return `type ${base.type} hook ${base.hook} priority ${prio}; policy ${base.policy};`;
}

/** One chain block, indented one tab, without a trailing newline. */
export function renderChain(chain: ChainState, family: Family, rules: RuleDecompiler): string {
  const lines = [`\tchain ${chain.name} {`];
  if (chain.base) lines.push(`\t\t${baseLine(chain.base, family)}`);

  for (const rule of chain.rules) lines.push(`\t\t${rules.rule(rule.exprs)}`);
  lines.push('\t}');
  return lines.join('\n');
}
