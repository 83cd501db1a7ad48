/**
 * Sets and maps as `nft list` prints them: the declaration, flags and elements,
 * with nft's line wrapping of the element list.
 */
import type { Element, SetSpec, SetState, Verdict } from '../../../src/nft/types';
import { concatTypes, elementsPerLine, formatRange, formatValue, NFT_DATA_VERDICT, typeName,
  typeSize } from './datatypes';

/** The continuation nft starts each wrapped line of an element list with. */
const WRAP = ',\n\t\t\t     ';

/** A verdict as nft prints it: `accept`, `jump ws_a_out`. */
export function formatVerdict(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.chain}` : v.kind;
}

/** Field byte lengths of a set's key: the declared ones, else each type's size. */
function fieldLengths(spec: SetSpec, types: number[]): number[] {
  return spec.fields ?? types.map(typeSize);
}

/** Prints one key, field by field, with ranges where the element has a closing key. */
export function formatKey(spec: SetSpec, key: Uint8Array, keyEnd?: Uint8Array): string {
  const types = concatTypes(spec.keyType);
  const lens = fieldLengths(spec, types);
  const parts: string[] = [];

  let at = 0;
  types.forEach((type, i) => {
    const lo = key.subarray(at, at + lens[i]);
    parts.push(keyEnd ? formatRange(type, lo, keyEnd.subarray(at, at + lens[i]))
      : formatValue(type, lo));
    at += types.length > 1 ? Math.ceil(lens[i] / 4) * 4 : lens[i];
  });
  return parts.join(' . ');
}

/** Prints one element, with ` : value` in a map. */
function formatElement(spec: SetSpec, el: Element): string {
  const key = formatKey(spec, el.key, el.keyEnd);
  if (spec.dataType === undefined) return key;
  if (el.verdict) return `${key} : ${formatVerdict(el.verdict)}`;
  return `${key} : ${formatValue(spec.dataType, el.data ?? new Uint8Array())}`;
}

/** The element list, wrapped the way nft wraps it for the key's type. */
export function formatElements(spec: SetSpec, elements: Element[]): string {
  const perLine = concatTypes(spec.keyType).length > 1 ? 1 : elementsPerLine(spec.keyType);
  const texts = elements.map((el) => formatElement(spec, el));

  let out = '';
  texts.forEach((text, i) => {
    if (i > 0) out += i % perLine === 0 ? WRAP : ', ';
    out += text;
  });
  return `{ ${out} }`;
}

/** The `flags` line's words, in nft's order. */
function flagWords(spec: SetSpec): string[] {
  const words: string[] = [];
  if (spec.constant) words.push('constant');
  if (spec.interval) words.push('interval');
  if (spec.timeout) words.push('timeout');
  return words;
}

/** One set or map block, indented one tab, without a trailing newline. */
export function renderSet(set: SetState): string {
  const { spec } = set;
  const isMap = spec.dataType !== undefined;
  const dataName = spec.dataType === NFT_DATA_VERDICT ? 'verdict' : typeName(spec.dataType ?? 0);
  const lines = [`\t${isMap ? 'map' : 'set'} ${spec.name} {`];

  lines.push(`\t\ttype ${typeName(spec.keyType)}${isMap ? ` : ${dataName}` : ''}`);
  const flags = flagWords(spec);
  if (flags.length) lines.push(`\t\tflags ${flags.join(',')}`);
  if (set.elements.length) lines.push(`\t\telements = ${formatElements(spec, set.elements)}`);

  lines.push('\t}');
  return lines.join('\n');
}
