/**
 * The audit over a real read-back: a table with elements of every set kind the daemon
 * uses (plain, concatenated, concatenated interval, a map with data, a verdict map, a
 * timeout set) is committed in a fresh namespace, read back packed, and compares equal
 * to what its operations build; one element taken out is found missing.
 */
import t from 'tap';

import { auditTable, expectedTable, keyed, tableDifferences } from '../../src/enforce/audit';
import { be16, concat, ifname, ipv4, le32, u8 } from '../../src/nft/bytes';
import type { Element, Op, SetSpec } from '../../src/nft/types';
import { fixture } from '../nft/fixtures/netns';

const T = 'workspace_netd';
const at = { family: 'inet', table: T } as const;
// nft's datatype numbers (src/datatype.h in nftables) and CONCAT_TYPE_BITS.
const [IFNAME, IPADDR, PROTO, SERVICE, MARK, VERDICT] = [41, 7, 12, 13, 19, 0xffffff00];
const cat = (...types: number[]) => types.reduce((acc, ty) => (acc << 6) | ty, 0);
const tap = (n: number) => ifname(`t-ws${n}`);

/** Every kind of set, each with elements. */
const sets: { spec: SetSpec; elements: Element[] }[] = [
  { spec: { name: 'ifaces', keyType: IFNAME, keyLen: 16 },
    elements: [{ key: tap(1) }, { key: tap(2) }] },
  { spec: { name: 'src', keyType: cat(IFNAME, IPADDR), keyLen: 20, fields: [16, 4] },
    elements: [{ key: concat(tap(1), ipv4('10.0.1.2')) }] },
  { spec: { name: 'egress_net', keyType: cat(IFNAME, IPADDR), keyLen: 20, fields: [16, 4],
    interval: true },
  elements: [
    { key: concat(tap(1), ipv4('10.9.0.0')), keyEnd: concat(tap(1), ipv4('10.9.0.255')) },
    { key: concat(tap(1), ipv4('192.0.2.7')), keyEnd: concat(tap(1), ipv4('192.0.2.7')) },
    { key: concat(tap(2), ipv4('0.0.0.0')), keyEnd: concat(tap(2), ipv4('255.255.255.255')) },
  ] },
  { spec: { name: 'egress_port', keyType: cat(IFNAME, PROTO, SERVICE), keyLen: 24,
    fields: [16, 1, 2] },
  elements: [
    { key: concat(tap(1), u8(6), be16(443)) }, { key: concat(tap(1), u8(17), be16(53)) },
  ] },
  { spec: { name: 'mark_of', keyType: IPADDR, keyLen: 4, dataType: MARK, dataLen: 4 },
    elements: [
      { key: ipv4('10.0.1.2'), data: le32(7) }, { key: ipv4('10.0.2.2'), data: le32(9) },
    ] },
  { spec: { name: 'out', keyType: IFNAME, keyLen: 16, dataType: VERDICT },
    elements: [
      { key: tap(1), verdict: { kind: 'goto', chain: 'ws1_out' } },
      { key: tap(2), verdict: { kind: 'jump', chain: 'ws1_out' } },
      { key: tap(3), verdict: { kind: 'drop' } },
      { key: tap(4), verdict: { kind: 'accept' } },
    ] },
  { spec: { name: 'learned', keyType: cat(IFNAME, IPADDR), keyLen: 20, fields: [16, 4],
    timeout: true },
  elements: [{ key: concat(tap(1), ipv4('93.184.216.34')), timeout: 60_000 }] },
];

/** The table, a chain the verdict map names, every set with its elements, a rule. */
const ops: Op[] = [
  { op: 'create', kind: 'table', ...{ family: 'inet' }, name: T },
  { op: 'create', kind: 'chain', ...at, name: 'ws1_out' },
  ...sets.flatMap(({ spec, elements }): Op[] => [
    { op: 'create', kind: 'set', ...at, set: spec },
    { op: 'add', kind: 'elements', ...at, set: spec.name, elements },
  ]),
  { op: 'add', kind: 'rule', ...at, chain: 'ws1_out', exprs: [
    { type: 'meta', key: 'iifname', dreg: 8 },
    { type: 'payload', base: 'network', offset: 16, len: 4, dreg: 12 },
    { type: 'lookup', sreg: 8, set: 'egress_net' },
    { type: 'immediate', dreg: 0, verdict: { kind: 'accept' } },
  ] },
];

t.test('a table of every set kind reads back equal to what its operations build', async (t) => {
  const f = fixture(t);
  t.same(await f.sock.commit(ops), { ok: true });
  const want = keyed(expectedTable(ops));
  t.same(await auditTable(want, await f.sock.readTable('inet', T)), []);
  t.same(tableDifferences(want, await f.sock.listTable('inet', T)), [], 'unpacked as well');

  const listed = await f.sock.listTable('inet', T);
  const learned = listed!.sets.find((s) => s.spec.name === 'learned');
  t.equal(learned?.elements.length, 1, 'the timeout set holds its element');
  t.equal(learned?.elements[0].timeout, 60_000);
  t.ok((learned?.elements[0].expires ?? 0) <= 60_000, 'with the time it has left');
});

t.test('an element taken out of any kind of set is found missing', async (t) => {
  const f = fixture(t);
  t.same(await f.sock.commit(ops), { ok: true });
  const want = keyed(expectedTable(ops));
  for (const { spec, elements } of sets.filter((s) => !s.spec.timeout)) {
    const one = { kind: 'elements' as const, ...at, set: spec.name, elements: [elements[0]] };
    const [gone, back]: Op[] = [{ op: 'delete', ...one }, { op: 'add', ...one }];
    t.same(await f.sock.commit([gone]), { ok: true });
    t.same(await auditTable(want, await f.sock.readTable('inet', T)),
      [`set ${spec.name}: 1 element(s) missing`], spec.name);
    t.same(await f.sock.commit([back]), { ok: true });
  }
  t.same(await auditTable(want, await f.sock.readTable('inet', T)), [], 'all back');
});
