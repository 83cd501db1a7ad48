import t from 'tap';
import { PersistentMap } from '../../src/service/persistent-map';

/** A small deterministic generator, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

t.test('set, get, has, delete and size behave as a Map does', async (t) => {
  const empty = PersistentMap.empty<number>();
  const one = empty.set('a', 1);
  const two = one.set('b', 2);

  t.equal(empty.size, 0);
  t.equal(one.size, 1);
  t.equal(two.size, 2);
  t.equal(two.get('a'), 1);
  t.equal(two.get('b'), 2);
  t.equal(two.get('c'), undefined);
  t.ok(two.has('b'));
  t.notOk(two.has('c'));
  t.equal(two.delete('a').size, 1);
  t.equal(two.delete('a').get('a'), undefined);
});

t.test('a map never changes once made', async (t) => {
  const before = PersistentMap.from([['a', 1], ['b', 2]]);
  const after = before.set('a', 10).delete('b').set('c', 3);

  t.same([...before].sort(), [['a', 1], ['b', 2]]);
  t.same([...after].sort(), [['a', 10], ['c', 3]]);
});

t.test('a change that changes nothing returns the same map', async (t) => {
  const value = { id: 'x' };
  const map = PersistentMap.from([['x', value]]);

  t.equal(map.set('x', value), map);
  t.equal(map.delete('missing'), map);
  t.equal(PersistentMap.empty().delete('x').size, 0);
});

t.test('a value that is undefined is held, and has() tells it from a missing key', async (t) => {
  const map = PersistentMap.empty<number | undefined>().set('u', undefined);
  t.ok(map.has('u'));
  t.equal(map.size, 1);
  t.notOk(map.has('v'));
});

t.test('keys whose hashes collide are kept apart', async (t) => {
  // Two words whose 32-bit FNV-1a hashes are equal (1582148253).
  let map = PersistentMap.empty<string>().set('costarring', 'c').set('liquid', 'l');
  t.equal(map.get('costarring'), 'c');
  t.equal(map.get('liquid'), 'l');
  t.equal(map.size, 2);

  map = map.set('liquid', 'L').set('other', 'o');
  t.equal(map.get('liquid'), 'L');
  t.equal(map.size, 3);
  map = map.delete('costarring');
  t.equal(map.get('costarring'), undefined);
  t.equal(map.get('liquid'), 'L');
  t.equal(map.size, 2);
});

t.test('thousands of random operations agree with a Map', async (t) => {
  const next = random(7);
  const model = new Map<string, number>();
  let map = PersistentMap.empty<number>();
  const kept: { map: PersistentMap<number>; model: Map<string, number> }[] = [];

  for (let step = 0; step < 20_000; step++) {
    const key = `ws_${Math.floor(next() * 3_000)}`;
    if (next() < 0.3) {
      model.delete(key);
      map = map.delete(key);
    } else {
      model.set(key, step);
      map = map.set(key, step);
    }
    if (step % 2_000 === 0) kept.push({ map, model: new Map(model) });
  }

  t.equal(map.size, model.size);
  t.same(new Map([...map].sort()), new Map([...model].sort()));
  for (const [key, value] of model) if (map.get(key) !== value) t.fail(`${key} differs`);
  // Every older map still holds exactly what the model held when it was made.
  for (const k of kept) t.same(new Map([...k.map].sort()), new Map([...k.model].sort()));
});

t.test('keys, values, entries and forEach walk the same entries', async (t) => {
  const map = PersistentMap.from([['a', 1], ['b', 2], ['c', 3]]);
  const seen: [string, number][] = [];
  map.forEach((value, key) => seen.push([key, value]));

  t.same(seen, [...map.entries()]);
  t.same([...map.keys()], seen.map(([k]) => k));
  t.same([...map.values()], seen.map(([, v]) => v));
  t.same(new Map(map), new Map(seen));
});
