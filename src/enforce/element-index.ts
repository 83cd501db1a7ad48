/**
 * A set's expected elements indexed for the audit: a 32-bit hash of each element's fields
 * finds its candidates, and an exact comparison of the bytes decides. A set may hold
 * 100,000s of elements: looking each read-back element up this way makes no string and
 * no object per element, where keying them by text made one of each.
 */
import type { Element } from '../nft/types';

/** The expected elements of one set, by hash. */
export class ElementIndex {
  private readonly byHash = new Map<number, Element | Element[]>();
  /** how many distinct elements it holds */
  size = 0;

  constructor(elements: Iterable<Element>) {
    for (const e of elements) this.add(e);
  }

  /** True when an element equal to `e` in every field the kernel reports is held. */
  has(e: Element): boolean {
    const found = this.byHash.get(hashElement(e));
    if (found === undefined) return false;
    if (!Array.isArray(found)) return sameElement(found, e);
    return found.some((c) => sameElement(c, e));
  }

  private add(e: Element): void {
    const h = hashElement(e);
    const found = this.byHash.get(h);
    if (found === undefined) this.byHash.set(h, e);
    else if (Array.isArray(found)) {
      if (!found.some((c) => sameElement(c, e))) found.push(e);
      else return;
    } else if (!sameElement(found, e)) this.byHash.set(h, [found, e]);
    else return;
    this.size++;
  }
}

type Read = Element & { intervalEnd?: boolean; unknown?: boolean };

/** FNV-1a over the fields sameElement compares. */
function hashElement(e: Read): number {
  let h = 0x811c9dc5;
  const bytes = (b: Uint8Array | undefined, tag: number) => {
    h = Math.imul(h ^ (b ? b.length + tag : 0), 0x01000193);
    if (b) for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  };
  bytes(e.key, 0x100);
  bytes(e.keyEnd, 0x200);
  bytes(e.data, 0x300);
  if (e.verdict) {
    const text = 'chain' in e.verdict ? `${e.verdict.kind}:${e.verdict.chain}` : e.verdict.kind;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  h = Math.imul(h ^ ((e.intervalEnd ? 1 : 0) | (e.unknown ? 2 : 0)), 0x01000193);
  return h >>> 0;
}

/** Equal in key, key end, data, verdict and flags; the time left does not count. */
function sameElement(x: Read, y: Read): boolean {
  return sameBytes(x.key, y.key) && sameBytes(x.keyEnd, y.keyEnd) &&
    sameBytes(x.data, y.data) && sameVerdict(x.verdict, y.verdict) &&
    !x.intervalEnd === !y.intervalEnd && !x.unknown === !y.unknown;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameVerdict(a: Element['verdict'], b: Element['verdict']): boolean {
  if (a === b) return true;
  if (!a || !b || a.kind !== b.kind) return false;
  return ('chain' in a ? a.chain : '') === ('chain' in b ? b.chain : '');
}
