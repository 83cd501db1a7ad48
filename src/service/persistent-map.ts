/**
 * An immutable map from strings, changed by making a new map that shares all but one path
 * with the old one (a hash array mapped trie: 32 branches a level, on a 32-bit hash of the
 * key). `set` and `delete` cost O(log32 n), a few small arrays, instead of a copy of the
 * whole map: the registry hands one to the enforcer on every change, and at thousands of
 * workspaces copying a Map per call showed in CPU profiles. A map once made never changes,
 * so a snapshot stays what it was however the registry moves on (policy/connections caches
 * by snapshot). Iteration order is the hashes' order, not insertion order.
 */

/** Bits of the hash a level consumes, and the mask of one level's fragment. */
const BITS = 5;
const MASK = (1 << BITS) - 1;

/** One key and its value. */
interface Leaf<V> {
  readonly kind: 'leaf';
  readonly hash: number;
  readonly key: string;
  readonly value: V;
}

/** Keys whose 32-bit hashes are equal: kept side by side, compared by key. */
interface Collision<V> {
  readonly kind: 'collision';
  readonly hash: number;
  readonly leaves: readonly Leaf<V>[];
}

/** A level of the trie: one child per set bit of `bitmap`, in bit order. */
interface Branch<V> {
  readonly kind: 'branch';
  readonly bitmap: number;
  readonly children: readonly Node<V>[];
}

type Node<V> = Leaf<V> | Collision<V> | Branch<V>;

/** An immutable string-keyed map; see the module comment. */
export class PersistentMap<V> implements ReadonlyMap<string, V> {
  private constructor(
    private readonly root: Node<V> | null,
    /** how many keys the map holds */
    readonly size: number,
  ) {}

  /** The empty map. */
  static empty<V>(): PersistentMap<V> {
    return new PersistentMap<V>(null, 0);
  }

  /** A map of `entries`; a later entry of a key replaces an earlier one. */
  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    let map = PersistentMap.empty<V>();
    for (const [key, value] of entries) map = map.set(key, value);
    return map;
  }

  /** The value of `key`, or undefined. */
  get(key: string): V | undefined {
    return this.find(key)?.value;
  }

  /** True when the map holds `key`. */
  has(key: string): boolean {
    return this.find(key) !== undefined;
  }

  /** This map with `key` set to `value`; this map itself when it already was. */
  set(key: string, value: V): PersistentMap<V> {
    const leaf: Leaf<V> = { kind: 'leaf', hash: hashOf(key), key, value };
    const grown = { added: false };
    const root = this.root === null ? leaf : setIn(this.root, 0, leaf, grown);
    if (root === this.root) return this;
    return new PersistentMap(root, this.root === null || grown.added ? this.size + 1 : this.size);
  }

  /** This map without `key`; this map itself when it did not hold it. */
  delete(key: string): PersistentMap<V> {
    if (this.root === null) return this;
    const root = deleteIn(this.root, 0, hashOf(key), key);
    if (root === this.root) return this;
    return new PersistentMap(root ?? null, this.size - 1);
  }

  /** Every key and value, in hash order. */
  *entries(): MapIterator<[string, V]> {
    if (this.root === null) return;
    // An explicit stack: one generator for the whole walk instead of one per level.
    const stack: Node<V>[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.kind === 'leaf') yield [node.key, node.value];
      else if (node.kind === 'collision') for (const l of node.leaves) yield [l.key, l.value];
      else for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
  }

  /** Every key, in hash order. */
  *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  /** Every value, in hash order. */
  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  /** Same as entries(). */
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  /** Calls `fn` for every entry, as Map.forEach does. */
  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown) {
    for (const [key, value] of this.entries()) fn.call(thisArg, value, key, this);
  }

  /** The leaf of `key`: one fragment of its hash a level, down to a leaf or collision. */
  private find(key: string): Leaf<V> | undefined {
    const hash = hashOf(key);
    let node = this.root;
    for (let shift = 0; node !== null; shift += BITS) {
      if (node.kind === 'leaf') return node.key === key ? node : undefined;
      if (node.kind === 'collision') return node.leaves.find((l) => l.key === key);
      const bit = 1 << ((hash >>> shift) & MASK);
      if ((node.bitmap & bit) === 0) return undefined;
      node = node.children[indexOf(node.bitmap, bit)];
    }
    return undefined;
  }
}

/** `node` with `leaf` in it; `node` itself when nothing changed. Sets `grown.added`. */
function setIn<V>(
  node: Node<V>,
  shift: number,
  leaf: Leaf<V>,
  grown: { added: boolean },
): Node<V> {
  if (node.kind === 'leaf') {
    if (node.key === leaf.key) return node.value === leaf.value ? node : leaf;
    grown.added = true;
    if (node.hash !== leaf.hash) return fork(node, leaf, shift);
    return { kind: 'collision', hash: leaf.hash, leaves: [node, leaf] };
  }

  if (node.kind === 'collision') {
    if (node.hash !== leaf.hash) {
      grown.added = true;
      return fork(node, leaf, shift);
    }
    const at = node.leaves.findIndex((l) => l.key === leaf.key);
    if (at >= 0 && node.leaves[at].value === leaf.value) return node;
    if (at < 0) grown.added = true;
    const leaves = at < 0 ? [...node.leaves, leaf]
      : node.leaves.map((l, i) => (i === at ? leaf : l));
    return { kind: 'collision', hash: node.hash, leaves };
  }

  const bit = 1 << ((leaf.hash >>> shift) & MASK);
  const at = indexOf(node.bitmap, bit);
  if ((node.bitmap & bit) === 0) {
    grown.added = true;
    const children = [...node.children.slice(0, at), leaf, ...node.children.slice(at)];
    return { kind: 'branch', bitmap: node.bitmap | bit, children };
  }
  const child = setIn(node.children[at], shift + BITS, leaf, grown);
  if (child === node.children[at]) return node;
  const children = node.children.slice();
  children[at] = child;
  return { kind: 'branch', bitmap: node.bitmap, children };
}

/**
 * `node` without `key`: undefined when nothing is left, `node` itself when it did not
 * hold the key. A branch left with one leaf (or collision) becomes that child, so the
 * trie stays as shallow as its hashes need.
 */
function deleteIn<V>(
  node: Node<V>,
  shift: number,
  hash: number,
  key: string,
): Node<V> | undefined {
  if (node.kind === 'leaf') return node.key === key ? undefined : node;

  if (node.kind === 'collision') {
    if (node.hash !== hash || !node.leaves.some((l) => l.key === key)) return node;
    const leaves = node.leaves.filter((l) => l.key !== key);
    return leaves.length === 1 ? leaves[0] : { kind: 'collision', hash, leaves };
  }

  const bit = 1 << ((hash >>> shift) & MASK);
  if ((node.bitmap & bit) === 0) return node;
  const at = indexOf(node.bitmap, bit);
  const child = deleteIn(node.children[at], shift + BITS, hash, key);
  if (child === node.children[at]) return node;

  if (child === undefined) {
    if (node.children.length === 1) return undefined;
    const children = [...node.children.slice(0, at), ...node.children.slice(at + 1)];
    if (children.length === 1 && children[0].kind !== 'branch') return children[0];
    return { kind: 'branch', bitmap: node.bitmap & ~bit, children };
  }
  if (node.children.length === 1 && child.kind !== 'branch') return child;
  const children = node.children.slice();
  children[at] = child;
  return { kind: 'branch', bitmap: node.bitmap, children };
}

/**
 * A branch over two nodes with different hashes, as deep as their hashes agree. They
 * differ in some bit of 32, so the fragments part at a shift of 30 at the latest.
 */
function fork<V>(a: Node<V> & { hash: number }, b: Node<V> & { hash: number }, shift: number):
  Branch<V> {
  const fa = (a.hash >>> shift) & MASK;
  const fb = (b.hash >>> shift) & MASK;
  if (fa === fb) return { kind: 'branch', bitmap: 1 << fa, children: [fork(a, b, shift + BITS)] };
  return { kind: 'branch', bitmap: (1 << fa) | (1 << fb), children: fa < fb ? [a, b] : [b, a] };
}

/** Where the child of `bit` sits: how many children come before it. */
function indexOf(bitmap: number, bit: number): number {
  let x = bitmap & (bit - 1);
  // Population count of a 32-bit word (Hacker's Delight, figure 5-2).
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** FNV-1a, 32 bits, over the key's UTF-16 code units. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
