/**
 * Refused transactions: the kernel error points at the op that caused it (also when that
 * op was split over several messages), and the table is left exactly as it was.
 */
import { constants } from 'node:os';
import t from 'tap';

import type { NftSocket } from '../../src/nft/addon';
import { concat, ifname, ipv4 } from '../../src/nft/bytes';
import type { Op } from '../../src/nft/types';
import { fixture, normalize } from './fixtures/netns';

const T = 'workspace_netd';
const at = { family: 'inet', table: T } as const;
const IFNAME = 41;
const IFNAME_IPADDR = (41 << 6) | 7;
const tap1 = ifname('t-ws1');

/** A small table to fail against: two sets, one with a range, and a chain with a rule. */
const base: Op[] = [
  { op: 'add', kind: 'table', family: 'inet', name: T },
  { op: 'add', kind: 'set', ...at, set: { name: 'ifaces', keyType: IFNAME, keyLen: 16 } },
  {
    op: 'add',
    kind: 'set',
    ...at,
    set: {
      name: 'egress_net',
      keyType: IFNAME_IPADDR,
      keyLen: 20,
      fields: [16, 4],
      interval: true,
    },
  },
  { op: 'add', kind: 'chain', ...at, name: 'ws1_out' },
  {
    op: 'add',
    kind: 'rule',
    ...at,
    chain: 'ws1_out',
    exprs: [{ type: 'immediate', dreg: 0, verdict: { kind: 'accept' } }],
  },
  {
    op: 'add',
    kind: 'elements',
    ...at,
    set: 'egress_net',
    elements: [{ key: concat(tap1, ipv4('10.9.0.0')), keyEnd: concat(tap1, ipv4('10.9.0.255')) }],
  },
  { op: 'add', kind: 'elements', ...at, set: 'ifaces', elements: [{ key: tap1 }] },
];

/** Commits base and returns the state the kernel then holds. */
async function prepare(sock: NftSocket): Promise<unknown> {
  const result = await sock.commit(base);
  if (!result.ok) {
    throw new Error(`base table refused: ${JSON.stringify(result)}`);
  }
  return normalize(await sock.listTable('inet', T));
}

t.test('an element op on a missing set fails at its own index and changes nothing', async (t) => {
  const { sock } = fixture(t);
  const before = await prepare(sock);

  const result = await sock.commit([
    { op: 'add', kind: 'chain', ...at, name: 'ws2_out' },
    { op: 'add', kind: 'rule', ...at, chain: 'ws2_out', exprs: [{ type: 'counter' }] },
    { op: 'add', kind: 'elements', ...at, set: 'ifaces', elements: [{ key: ifname('t-ws2') }] },
    { op: 'add', kind: 'set', ...at, set: { name: 'more', keyType: IFNAME, keyLen: 16 } },
    { op: 'add', kind: 'elements', ...at, set: 'more', elements: [{ key: ifname('t-ws2') }] },
    { op: 'add', kind: 'elements', ...at, set: 'nope', elements: [{ key: ifname('t-ws2') }] },
    { op: 'add', kind: 'chain', ...at, name: 'ws2_in' },
  ]);

  t.same(result, {
    ok: false,
    index: 5,
    errno: constants.errno.ENOENT,
    message: 'No such file or directory',
  });
  t.strictSame(normalize(await sock.listTable('inet', T)), before);
});

t.test('an overlapping range fails at its op and changes nothing', async (t) => {
  const { sock } = fixture(t);
  const before = await prepare(sock);

  const result = await sock.commit([
    { op: 'add', kind: 'elements', ...at, set: 'ifaces', elements: [{ key: ifname('t-ws2') }] },
    {
      op: 'add',
      kind: 'elements',
      ...at,
      set: 'egress_net',
      elements: [
        { key: concat(tap1, ipv4('10.9.0.128')), keyEnd: concat(tap1, ipv4('10.9.1.0')) },
      ],
    },
  ]);

  // nft_add_set_elem reports a range overlapping one the set holds as EEXIST.
  t.same(result, { ok: false, index: 1, errno: constants.errno.EEXIST, message: 'File exists' });
  t.strictSame(normalize(await sock.listTable('inet', T)), before);
});

t.test('an error in a later message of a split op maps to that op', async (t) => {
  const { sock } = fixture(t);
  const before = await prepare(sock);

  // 3,000 elements of 28 bytes each need two messages (element.cc keeps each under
  // 60 KiB); the last key is too short for the set, so the second message fails.
  const elements = Array.from({ length: 3000 }, (_, i) => ({ key: ifname(`x${i}`) }));
  elements[2999] = { key: ipv4('10.0.0.1') };
  const result = await sock.commit([
    { op: 'add', kind: 'chain', ...at, name: 'ws2_out' },
    { op: 'add', kind: 'elements', ...at, set: 'ifaces', elements },
    { op: 'add', kind: 'chain', ...at, name: 'ws2_in' },
  ]);

  const einval = constants.errno.EINVAL;
  t.same(result, { ok: false, index: 1, errno: einval, message: 'Invalid argument' });
  t.strictSame(normalize(await sock.listTable('inet', T)), before);
});

t.test('a refused batch leaves the socket usable for the next one', async (t) => {
  const { sock } = fixture(t);
  await prepare(sock);

  const refused = await sock.commit([{ op: 'delete', kind: 'chain', ...at, name: 'nope' }]);
  t.match(refused, { ok: false, index: 0, errno: constants.errno.ENOENT });

  const next = await sock.commit([{ op: 'add', kind: 'chain', ...at, name: 'ws2_out' }]);
  t.same(next, { ok: true });
  t.ok((await sock.listTable('inet', T))?.chains.some((c) => c.name === 'ws2_out'));
});

t.test('create refuses an object that exists, where add adopts it', async (t) => {
  const { sock } = fixture(t);
  const before = await prepare(sock);
  const eexist = { ok: false, errno: constants.errno.EEXIST, message: 'File exists' };

  t.same(await sock.commit([{ op: 'add', kind: 'chain', ...at, name: 'ws1_out' }]), { ok: true });
  t.same(await sock.commit([{ op: 'create', kind: 'chain', ...at, name: 'ws1_out' }]), {
    ...eexist, index: 0,
  });
  t.same(await sock.commit([{ op: 'create', kind: 'table', family: 'inet', name: T }]), {
    ...eexist, index: 0,
  });
  const existing: Op = {
    op: 'create', kind: 'elements', ...at, set: 'ifaces', elements: [{ key: tap1 }],
  };
  t.same(await sock.commit([existing]), { ...eexist, index: 0 });
  const rule = { op: 'create', kind: 'rule', ...at, chain: 'ws1_out', exprs: [] };
  await t.rejects(sock.commit([rule as never]), TypeError, 'a rule cannot be created');
  t.strictSame(normalize(await sock.listTable('inet', T)), before);
});
