/**
 * A set's expected elements indexed for the audit: packed as the addon packs what it reads
 * back (src/nft/packed.ts), a 32-bit hash of each element's compared bytes finds its
 * candidates, and an exact comparison of the bytes decides. A set may hold 100,000s of
 * elements: looking each read-back element up in its packed bytes makes no string and no
 * object per element.
 */
import { COMPARED_FLAGS, comparedEnd, elementEnd, packElements } from '../nft/packed';
import type { Element } from '../nft/types';

/** The expected elements of one set, by hash. */
export class ElementIndex {
  private readonly bytes: Uint8Array;
  /** hash: the start of each element with it, in `bytes` */
  private readonly byHash = new Map<number, number | number[]>();
  /** how many distinct elements it holds */
  size = 0;

  constructor(elements: Iterable<Element>) {
    this.bytes = packElements(elements).bytes;
    for (let at = 0; at < this.bytes.length;) {
      const end = comparedEnd(this.bytes, at);
      this.add(at, end);
      at = elementEnd(this.bytes, at, end);
    }
  }

  /** True when an element equal to `e` in every field the kernel reports is held. */
  has(e: Element): boolean {
    const { bytes } = packElements([e]);
    return this.hasPacked(bytes, 0, comparedEnd(bytes, 0));
  }

  /**
   * True when the packed element whose compared part is `bytes[at..end)` is held: equal in
   * key, key end, data, verdict and flags; its timeout and the time it has left do not count.
   */
  hasPacked(bytes: Uint8Array, at: number, end: number): boolean {
    const found = this.byHash.get(hashPacked(bytes, at, end));
    if (found === undefined) return false;
    if (typeof found === 'number') return this.same(found, bytes, at, end);
    return found.some((c) => this.same(c, bytes, at, end));
  }

  private add(at: number, end: number): void {
    const h = hashPacked(this.bytes, at, end);
    const found = this.byHash.get(h);
    if (found === undefined) this.byHash.set(h, at);
    else if (typeof found !== 'number') {
      if (!found.some((c) => this.same(c, this.bytes, at, end))) found.push(at);
      else return;
    } else if (!this.same(found, this.bytes, at, end)) this.byHash.set(h, [found, at]);
    else return;
    this.size++;
  }

  /** The held element at `mine` equals `bytes[at..end)` in its compared part. */
  private same(mine: number, bytes: Uint8Array, at: number, end: number): boolean {
    const own = this.bytes;
    if (comparedEnd(own, mine) - mine !== end - at) return false;
    if ((own[mine] & COMPARED_FLAGS) !== (bytes[at] & COMPARED_FLAGS)) return false;
    for (let i = 1; i < end - at; i++) if (own[mine + i] !== bytes[at + i]) return false;
    return true;
  }
}

/** FNV-1a over an element's compared part: its compared flags, then its fields' bytes. */
function hashPacked(bytes: Uint8Array, at: number, end: number): number {
  let h = Math.imul(0x811c9dc5 ^ (bytes[at] & COMPARED_FLAGS), 0x01000193);
  for (let i = at + 1; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
