/**
 * The packed element format (src/nft/packed.ts, native/packed_elements.h): bytes laid out
 * as the addon writes them decode to the elements they say, every field of an element
 * survives a pack and unpack, and the compared part ends before the times.
 */
import t from 'tap';
import {
  comparedEnd, elementEnd, packElements, PACKED_DATA, PACKED_EXPIRES, PACKED_INTERVAL_END,
  PACKED_KEY, PACKED_KEY_END, PACKED_TIMEOUT, PACKED_VERDICT, unpackElements,
} from '../../src/nft/packed';
import type { Element } from '../../src/nft/types';

const b = (...bytes: number[]) => Uint8Array.from(bytes);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
/** a little-endian i32 or u64, as the addon writes them */
const le = (value: number, n: number) => Array.from({ length: n },
  (_, i) => Number((BigInt.asUintN(64, BigInt(value)) >> BigInt(8 * i)) & 0xffn));

t.test('bytes laid out as the addon writes them decode to their elements', async (t) => {
  const bytes = b(
    // an address: a key of 4 bytes
    PACKED_KEY, 4, 10, 0, 0, 1,
    // a range of a concatenated interval set: key and key end
    PACKED_KEY | PACKED_KEY_END, 2, 1, 2, 2, 1, 9,
    // a map element with data
    PACKED_KEY | PACKED_DATA, 1, 7, 4, 0, 0, 0, 42,
    // a verdict map element: goto (NFT_GOTO = -4) a chain
    PACKED_KEY | PACKED_VERDICT, 1, 3, ...le(-4, 4), 8, ...ascii('ws_a_out'),
    // accept (NF_ACCEPT = 1) names no chain
    PACKED_KEY | PACKED_VERDICT, 1, 4, ...le(1, 4), 0,
    // NFT_BREAK (-2) is no Verdict the union can say
    PACKED_KEY | PACKED_VERDICT, 1, 5, ...le(-2, 4), 0,
    // the closing element of an rbtree range
    PACKED_KEY | PACKED_INTERVAL_END, 1, 6,
    // a timeout set's element, with the time it has left
    PACKED_KEY | PACKED_TIMEOUT | PACKED_EXPIRES, 1, 8, ...le(60_000, 8), ...le(59_250, 8),
  );
  t.same(unpackElements({ bytes, count: 8 }), [
    { key: b(10, 0, 0, 1) },
    { key: b(1, 2), keyEnd: b(1, 9) },
    { key: b(7), data: b(0, 0, 0, 42) },
    { key: b(3), verdict: { kind: 'goto', chain: 'ws_a_out' } },
    { key: b(4), verdict: { kind: 'accept' } },
    { key: b(5), unknown: true },
    { key: b(6), intervalEnd: true },
    { key: b(8), timeout: 60_000, expires: 59_250 },
  ]);
});

t.test('every field survives a pack and an unpack', async (t) => {
  const elements = [
    { key: b(10, 0, 0, 0), keyEnd: b(10, 255, 255, 255) },
    { key: b(1, 2, 3, 4), data: b(0, 0, 0, 1) },
    { key: b(9), verdict: { kind: 'jump', chain: 'wś_ünïcode' } },
    { key: b(9, 9), verdict: { kind: 'drop' } },
    { key: b(5), timeout: 2 ** 40, expires: 1 },
    { key: b(6), intervalEnd: true },
    { key: b(7), unknown: true },
  ] as Element[];
  const packed = packElements(elements);
  t.equal(packed.count, elements.length);
  t.same(unpackElements(packed), elements);
});

t.test('the compared part ends before the times', async (t) => {
  const { bytes } = packElements([{ key: b(1, 2), timeout: 5, expires: 4 }, { key: b(3) }]);
  const compared = comparedEnd(bytes, 0);
  t.equal(compared, 1 + 1 + 2, 'flags, the key length and the key');
  const next = elementEnd(bytes, 0, compared);
  t.equal(next, compared + 16, 'two u64s of times');
  t.same(unpackElements({ bytes: bytes.subarray(next), count: 1 }), [{ key: b(3) }]);
});

t.test('a field too long for its length byte is refused', async (t) => {
  t.throws(() => packElements([{ key: new Uint8Array(256) }]), RangeError);
});
