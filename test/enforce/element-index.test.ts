/**
 * The audit's index of expected set elements: found by value (not identity) in every
 * field the kernel reports, the time left aside; equal elements are held once.
 */
import t from 'tap';
import { ElementIndex } from '../../src/enforce/element-index';
import type { Element } from '../../src/nft/types';

const b = (...bytes: number[]) => Uint8Array.from(bytes);

t.test('an element is found by its bytes, verdict and flags', async (t) => {
  const index = new ElementIndex([
    { key: b(10, 0, 0, 1) },
    { key: b(10, 0, 0, 0), keyEnd: b(10, 255, 255, 255) },
    { key: b(1, 2), verdict: { kind: 'goto', chain: 'ws_a_out' } },
    { key: b(9), data: b(1, 1, 1, 1) },
  ]);
  const found = (e: Element) => index.has(e);
  t.ok(found({ key: b(10, 0, 0, 1), expires: 5 } as Element), 'the time left does not count');
  t.ok(found({ key: b(10, 0, 0, 0), keyEnd: b(10, 255, 255, 255) }));
  t.ok(found({ key: b(1, 2), verdict: { kind: 'goto', chain: 'ws_a_out' } }));
  t.notOk(found({ key: b(1, 2), verdict: { kind: 'goto', chain: 'ws_b_out' } }));
  t.notOk(found({ key: b(10, 0, 0, 0) }), 'a key end is part of it');
  t.notOk(found({ key: b(9), data: b(1, 1, 1, 2) }));
  t.notOk(found({ key: b(10, 0, 0, 1), intervalEnd: true } as Element), 'so are flags');
});

t.test('equal elements are held once', async (t) => {
  const index = new ElementIndex([{ key: b(1) }, { key: b(1) }, { key: b(2) }]);
  t.equal(index.size, 2);
});
