/**
 * An immutable map from strings, changed by making a new map that shares all but one path
 * with the old one: Immutable.js's Map (a hash array mapped trie), seen through the
 * ReadonlyMap interface the enforcer and the policy code take. `set` and `delete` cost
 * O(log32 n) instead of a copy of the whole map: the registry hands one to the enforcer on
 * every change, and at thousands of workspaces copying a Map per call showed in CPU
 * profiles. A map once made never changes, so a snapshot stays what it was however the
 * registry moves on (policy/connections caches by snapshot). Iteration order is not
 * insertion order.
 */
import { Map as ImmutableMap } from 'immutable';

/** An immutable string-keyed map; see the module comment. */
export class PersistentMap<V> implements ReadonlyMap<string, V> {
  private constructor(private readonly inner: ImmutableMap<string, V>) {}

  /** The map with no entries. */
  static empty<V>(): PersistentMap<V> {
    return new PersistentMap(ImmutableMap<string, V>());
  }

  /** A map of the entries, a later entry for a key replacing an earlier one. */
  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    return new PersistentMap(ImmutableMap<string, V>().withMutations((m) => {
      for (const [key, value] of entries) m.set(key, value);
    }));
  }

  get size(): number {
    return this.inner.size;
  }

  get(key: string): V | undefined {
    return this.inner.get(key);
  }

  has(key: string): boolean {
    return this.inner.has(key);
  }

  /** This map with `key` set to `value`; the same map when it already held that value. */
  set(key: string, value: V): PersistentMap<V> {
    const next = this.inner.set(key, value);
    return next === this.inner ? this : new PersistentMap(next);
  }

  /** This map without `key`; the same map when it had none. */
  delete(key: string): PersistentMap<V> {
    const next = this.inner.delete(key);
    return next === this.inner ? this : new PersistentMap(next);
  }

  entries(): MapIterator<[string, V]> {
    return this.inner.entries() as MapIterator<[string, V]>;
  }

  keys(): MapIterator<string> {
    return this.inner.keys() as MapIterator<string>;
  }

  values(): MapIterator<V> {
    return this.inner.values() as MapIterator<V>;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown) {
    for (const [key, value] of this.inner) fn.call(thisArg, value, key, this);
  }
}
