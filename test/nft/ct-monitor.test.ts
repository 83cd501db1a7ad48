/**
 * The conntrack monitor's decoding, without a kernel: the addon's packed records
 * (native/ct_tuple.h: PackTuple) as events, and the sysctl that says whether events come.
 */
import t from 'tap';

import { conntrackEvents, unpack } from '../../src/nft/ct-monitor';

/** One record as PackTuple writes it. */
function record(kind: number, proto: number, ports: [number, number], icmp = [0, 0, 0]) {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  b.set([kind, proto, icmp[1], icmp[2]], 0);
  b.set([10, 0, 1, 2], 4);
  b.set([198, 18, 0, 10], 8);
  b.set([198, 18, 0, 2], 12);
  v.setUint16(16, ports[0]);
  v.setUint16(18, ports[1]);
  v.setUint16(20, icmp[0]);
  return b;
}

t.test('records become events with dotted quads and host-order ports', async (t) => {
  const batch = new Uint8Array(48);
  batch.set(record(1, 6, [40000, 443]), 0);
  batch.set(record(2, 1, [0, 0], [513, 8, 0]), 24);
  t.same(unpack(batch), [
    { type: 'new', tuple: { proto: 6, src: '10.0.1.2', dst: '198.18.0.10', sport: 40000,
      dport: 443, replyDst: '198.18.0.2' } },
    { type: 'destroy', tuple: { proto: 1, src: '10.0.1.2', dst: '198.18.0.10', sport: 0,
      dport: 0, replyDst: '198.18.0.2', icmp: { id: 513, type: 8, code: 0 } } },
  ]);
  t.same(unpack(new Uint8Array(0)), []);
});

t.test('events are off only when the sysctl says 0, or conntrack is not there', async (t) => {
  t.equal(conntrackEvents(() => '2\n'), true);
  t.equal(conntrackEvents(() => '1\n'), true);
  t.equal(conntrackEvents(() => '0\n'), false);
  t.equal(conntrackEvents(() => {
    throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  }), false);
});
