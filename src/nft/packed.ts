/**
 * The packed form of a set's elements: one byte string per set, as the addon builds it on
 * its worker thread (native/packed_elements.h has the layout; keep the two in step). A
 * read-back of 285,000 elements then costs one ArrayBuffer per set on the main thread,
 * where an object per element cost seconds. Each element, little-endian:
 *
 *   u8 flags (the PACKED_* bits)
 *   key, keyEnd, data, each when flagged: u8 length, then the bytes
 *   verdict when flagged: i32 code (NF_* or NFT_*), u8 chain length, the chain's UTF-8
 *   timeout, expires, each when flagged: u64 ms
 *
 * Everything an audit compares (the flags under PACKED_TIMEOUT and the fields before the
 * times) is one run of bytes from the element's start to comparedEnd().
 */
import type { Element, Verdict } from './types';

export const PACKED_KEY = 1;
export const PACKED_KEY_END = 2;
export const PACKED_DATA = 4;
export const PACKED_VERDICT = 8;
/** NFT_SET_ELEM_INTERVAL_END: the element that closes a range in an rbtree set */
export const PACKED_INTERVAL_END = 16;
export const PACKED_TIMEOUT = 32;
export const PACKED_EXPIRES = 64;
/** The flags that count when two elements are compared. */
export const COMPARED_FLAGS = PACKED_TIMEOUT - 1;

/** One set's elements, packed. */
export interface PackedElements {
  bytes: Uint8Array;
  count: number;
}

/** Verdict codes: NF_ACCEPT, NF_DROP (linux/netfilter.h) and enum nft_verdicts. */
const CODES: Record<Verdict['kind'], number> = {
  accept: 1, drop: 0, continue: -1, jump: -3, goto: -4, return: -5,
};
/** What an element read back as `unknown` is packed with: one code the union cannot say. */
const NFT_BREAK = -2;
const NO_BYTES = new Uint8Array(0);
const KINDS = new Map(Object.entries(CODES).map(([k, c]) => [c, k as Verdict['kind']]));
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Where the compared part of the element that starts at `at` ends. */
export function comparedEnd(bytes: Uint8Array, at: number): number {
  const flags = bytes[at];
  let p = at + 1;
  if (flags & PACKED_KEY) p += 1 + bytes[p];
  if (flags & PACKED_KEY_END) p += 1 + bytes[p];
  if (flags & PACKED_DATA) p += 1 + bytes[p];
  if (flags & PACKED_VERDICT) p += 5 + bytes[p + 4];
  return p;
}

/** Where the element that starts at `at`, and whose compared part ends at `compared`, ends. */
export function elementEnd(bytes: Uint8Array, at: number, compared: number): number {
  const flags = bytes[at];
  return compared + (flags & PACKED_TIMEOUT ? 8 : 0) + (flags & PACKED_EXPIRES ? 8 : 0);
}

/** `elements` packed as the addon packs what it reads back. */
export function packElements(elements: Iterable<Element>): PackedElements {
  let bytes = new Uint8Array(4096);
  let [p, count] = [0, 0];
  const room = (n: number) => {
    if (p + n <= bytes.length) return;
    const grown = new Uint8Array(Math.max(bytes.length * 2, p + n));
    grown.set(bytes.subarray(0, p));
    bytes = grown;
  };
  const field = (b: Uint8Array) => {
    if (b.length > 255) throw new RangeError('packElements: a field is longer than 255 bytes');
    room(1 + b.length);
    bytes[p++] = b.length;
    bytes.set(b, p);
    p += b.length;
  };
  const u64 = (ms: number) => {
    room(8);
    new DataView(bytes.buffer).setBigUint64(p, BigInt(ms), true);
    p += 8;
  };

  for (const e of elements) {
    const start = p;
    room(1);
    p++;
    if (e.key) field(e.key);
    if (e.keyEnd) field(e.keyEnd);
    if (e.data) field(e.data);
    if (e.verdict || (e as Unpacked).unknown) {
      room(4);
      new DataView(bytes.buffer).setInt32(p, e.verdict ? CODES[e.verdict.kind] : NFT_BREAK, true);
      p += 4;
      field(e.verdict && 'chain' in e.verdict ? utf8.encode(e.verdict.chain) : NO_BYTES);
    }
    if (e.timeout !== undefined) u64(e.timeout);
    if (e.expires !== undefined) u64(e.expires);
    bytes[start] = flagsOf(e);
    count++;
  }
  return { bytes: bytes.subarray(0, p), count };
}

/**
 * The Elements of `packed`, their bytes views of its buffer. A verdict that the Verdict
 * union cannot say (NFT_BREAK, NF_QUEUE) reads as `unknown: true`, and the closing element
 * of a range as `intervalEnd: true` (see UnknownExpr in ./addon).
 */
export function unpackElements(packed: PackedElements): Element[] {
  const { bytes } = packed;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Element[] = [];
  let p = 0;
  const field = () => {
    const b = bytes.subarray(p + 1, p + 1 + bytes[p]);
    p += 1 + bytes[p];
    return b;
  };

  while (p < bytes.length) {
    const flags = bytes[p++];
    const e = {} as Unpacked;
    if (flags & PACKED_KEY) e.key = field();
    if (flags & PACKED_KEY_END) e.keyEnd = field();
    if (flags & PACKED_DATA) e.data = field();
    if (flags & PACKED_VERDICT) {
      const kind = KINDS.get(view.getInt32(p, true));
      p += 4;
      const chain = text.decode(field());
      if (kind === undefined) e.unknown = true;
      else e.verdict = kind === 'jump' || kind === 'goto' ? { kind, chain } : { kind };
    }
    if (flags & PACKED_TIMEOUT) (e.timeout = Number(view.getBigUint64(p, true)), (p += 8));
    if (flags & PACKED_EXPIRES) (e.expires = Number(view.getBigUint64(p, true)), (p += 8));
    if (flags & PACKED_INTERVAL_END) e.intervalEnd = true;
    out.push(e);
  }
  return out;
}

/** An element as read back, with the flags only a read-back carries. */
type Unpacked = Element & { intervalEnd?: boolean; unknown?: boolean };

/** The flags byte of `e`. */
function flagsOf(e: Unpacked): number {
  return (e.key ? PACKED_KEY : 0) | (e.keyEnd ? PACKED_KEY_END : 0) |
    (e.data ? PACKED_DATA : 0) | (e.verdict || e.unknown ? PACKED_VERDICT : 0) |
    (e.intervalEnd ? PACKED_INTERVAL_END : 0) | (e.timeout !== undefined ? PACKED_TIMEOUT : 0) |
    (e.expires !== undefined ? PACKED_EXPIRES : 0);
}
