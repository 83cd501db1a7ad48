/**
 * Commit and readback: every expression, set shape and chain kind the addon encodes is
 * committed in one transaction and read back equal; then flush and delete ops, and the
 * owner and persist table flags. Each test runs in its own network namespace.
 */
import t from 'tap';

import { canonicalExpr, NftSocket } from '../../src/nft/addon';
import { be16, concat, ifname, ipv4, le32, u8 } from '../../src/nft/bytes';
import type { BaseChain, Element, Expr, Op, SetSpec } from '../../src/nft/types';
import { fixture, normalize } from './fixtures/netns';

const T = 'workspace_netd';
const at = { family: 'inet', table: T } as const;

// nft's datatype numbers (src/datatype.h in nftables) and CONCAT_TYPE_BITS.
const IFNAME = 41;
const IPADDR = 7;
const PROTO = 12;
const SERVICE = 13;
const MARK = 19;
const VERDICT = 0xffffff00;
const cat = (...types: number[]) => types.reduce((acc, ty) => (acc << 6) | ty, 0);

const tap1 = ifname('t-ws1');
const tap2 = ifname('t-ws2');

/** The sets of the full table, each with its elements. */
const sets: { spec: SetSpec; elements: Element[] }[] = [
  {
    spec: { name: 'ifaces', keyType: IFNAME, keyLen: 16 },
    elements: [{ key: tap1 }, { key: tap2 }],
  },
  {
    spec: { name: 'src', keyType: cat(IFNAME, IPADDR), keyLen: 20, fields: [16, 4] },
    elements: [{ key: concat(tap1, ipv4('10.0.1.2')) }, { key: concat(tap2, ipv4('10.0.2.2')) }],
  },
  {
    spec: { name: 'out', keyType: IFNAME, keyLen: 16, dataType: VERDICT },
    elements: [
      { key: tap1, verdict: { kind: 'jump', chain: 'ws1_out' } },
      { key: tap2, verdict: { kind: 'goto', chain: 'refuse' } },
      { key: ifname('t-ws3'), verdict: { kind: 'drop' } },
      { key: ifname('t-ws4'), verdict: { kind: 'accept' } },
    ],
  },
  {
    spec: {
      name: 'egress_net',
      keyType: cat(IFNAME, IPADDR),
      keyLen: 20,
      fields: [16, 4],
      interval: true,
    },
    elements: [
      { key: concat(tap1, ipv4('10.9.0.0')), keyEnd: concat(tap1, ipv4('10.9.0.255')) },
      { key: concat(tap1, ipv4('192.0.2.7')), keyEnd: concat(tap1, ipv4('192.0.2.7')) },
    ],
  },
  {
    spec: {
      name: 'egress_port',
      keyType: cat(IFNAME, PROTO, SERVICE),
      keyLen: 24,
      fields: [16, 1, 2],
    },
    elements: [{ key: concat(tap1, u8(6), be16(443)) }, { key: concat(tap1, u8(17), be16(53)) }],
  },
  {
    spec: { name: 'mark_of', keyType: IPADDR, keyLen: 4, dataType: MARK, dataLen: 4 },
    elements: [{ key: ipv4('10.0.1.2'), data: le32(7) }],
  },
  {
    spec: { name: 'protos', keyType: PROTO, keyLen: 1, constant: true },
    elements: [{ key: u8(6) }, { key: u8(17) }],
  },
];

/** Chains in creation order, each with the expressions of its rules. */
const chains: { name: string; base?: BaseChain; rules: Expr[][] }[] = [
  {
    name: 'refuse',
    rules: [
      [
        { type: 'meta', key: 'l4proto', dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'eq', data: u8(6) },
        { type: 'reject', kind: 'tcp-reset' },
      ],
      [{ type: 'counter' }, { type: 'reject', kind: 'icmpx', code: 'admin-prohibited' }],
    ],
  },
  {
    name: 'ws1_out',
    rules: [
      [
        { type: 'payload', base: 'network', offset: 16, len: 4, dreg: 1 },
        { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: ipv4('255.255.0.0'), xor: le32(0) },
        { type: 'cmp', sreg: 1, op: 'eq', data: ipv4('10.0.0.0') },
        { type: 'immediate', dreg: 0, verdict: { kind: 'return' } },
      ],
      [
        { type: 'meta', key: 'iifname', dreg: 8 },
        { type: 'payload', base: 'network', offset: 16, len: 4, dreg: 12 },
        { type: 'lookup', sreg: 8, set: 'egress_net', invert: true },
        { type: 'immediate', dreg: 0, verdict: { kind: 'goto', chain: 'refuse' } },
      ],
      [
        { type: 'meta', key: 'iifname', dreg: 8 },
        { type: 'meta', key: 'l4proto', dreg: 12 },
        { type: 'payload', base: 'transport', offset: 2, len: 2, dreg: 13 },
        { type: 'lookup', sreg: 8, set: 'egress_port' },
        { type: 'counter' },
        { type: 'immediate', dreg: 0, verdict: { kind: 'accept' } },
      ],
      [
        { type: 'payload', base: 'network', offset: 16, len: 4, dreg: 1 },
        { type: 'lookup', sreg: 1, set: 'mark_of', dreg: 2 },
        { type: 'cmp', sreg: 2, op: 'gte', data: le32(5) },
        { type: 'immediate', dreg: 0, verdict: { kind: 'continue' } },
      ],
      [
        // `meta mark set ip saddr map @mark_of`: a meta with a source register
        { type: 'payload', base: 'network', offset: 12, len: 4, dreg: 1 },
        { type: 'lookup', sreg: 1, set: 'mark_of', dreg: 1 },
        { type: 'meta', key: 'mark', sreg: 1 },
      ],
      [
        { type: 'meta', key: 'mark', dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'lt', data: le32(3) },
        { type: 'meta', key: 'iif', dreg: 2 },
        { type: 'cmp', sreg: 2, op: 'lte', data: le32(9) },
        { type: 'meta', key: 'oif', dreg: 3 },
        { type: 'cmp', sreg: 3, op: 'gt', data: le32(1) },
        { type: 'meta', key: 'oifname', dreg: 4 },
        { type: 'cmp', sreg: 4, op: 'neq', data: ifname('up0') },
        { type: 'immediate', dreg: 0, verdict: { kind: 'drop' } },
      ],
      [
        { type: 'meta', key: 'l4proto', dreg: 1 },
        { type: 'lookup', sreg: 1, set: 'protos' },
        { type: 'ct', key: 'direction', dreg: 2 },
        { type: 'cmp', sreg: 2, op: 'eq', data: u8(0) },
        { type: 'ct', key: 'status', dreg: 3 },
        { type: 'ct', key: 'mark', dreg: 4 },
        { type: 'immediate', dreg: 1, data: le32(42) },
        { type: 'immediate', dreg: 0, verdict: { kind: 'jump', chain: 'refuse' } },
      ],
    ],
  },
  {
    name: 'guard',
    base: { type: 'filter', hook: 'prerouting', priority: -300, policy: 'accept' },
    rules: [
      [
        { type: 'meta', key: 'iifname', dreg: 1 },
        { type: 'lookup', sreg: 1, set: 'ifaces' },
        { type: 'meta', key: 'nfproto', dreg: 2 },
        { type: 'cmp', sreg: 2, op: 'neq', data: u8(2) },
        { type: 'immediate', dreg: 0, verdict: { kind: 'drop' } },
      ],
    ],
  },
  {
    name: 'forward',
    base: { type: 'filter', hook: 'forward', priority: 0, policy: 'drop' },
    rules: [
      [
        { type: 'ct', key: 'state', dreg: 1 },
        { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32(6), xor: le32(0) },
        { type: 'cmp', sreg: 1, op: 'neq', data: le32(0) },
        { type: 'immediate', dreg: 0, verdict: { kind: 'accept' } },
      ],
      [
        { type: 'meta', key: 'iifname', dreg: 1 },
        { type: 'lookup', sreg: 1, set: 'out', dreg: 0 },
      ],
    ],
  },
  {
    name: 'prerouting',
    base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' },
    rules: [
      [
        { type: 'immediate', dreg: 1, data: ipv4('10.0.1.2') },
        { type: 'immediate', dreg: 2, data: be16(8080) },
        { type: 'nat', nat: 'dnat', family: 'ip', addrReg: 1, protoReg: 2 },
      ],
    ],
  },
  {
    name: 'postrouting',
    base: { type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' },
    rules: [
      [
        { type: 'meta', key: 'oifname', dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'eq', data: ifname('up0') },
        { type: 'masq' },
      ],
      [
        { type: 'immediate', dreg: 1, data: ipv4('198.18.0.50') },
        { type: 'nat', nat: 'snat', family: 'ip', addrReg: 1 },
      ],
    ],
  },
];

/** The ops that build the full table: table, sets, chains, elements, rules. */
function fullTable(): Op[] {
  return [
    { op: 'add', kind: 'table', family: 'inet', name: T },
    ...sets.map((s): Op => ({ op: 'add', kind: 'set', ...at, set: s.spec })),
    ...chains.map((c): Op => ({ op: 'add', kind: 'chain', ...at, name: c.name, base: c.base })),
    ...sets.map(
      (s): Op => ({ op: 'add', kind: 'elements', ...at, set: s.spec.name, elements: s.elements }),
    ),
    ...chains.flatMap((c) =>
      c.rules.map((exprs): Op => ({ op: 'add', kind: 'rule', ...at, chain: c.name, exprs })),
    ),
  ];
}

/** What the kernel should hold after fullTable(), in normalize()'s form. */
function expected(): unknown {
  return normalize({
    family: 'inet',
    name: T,
    flags: {},
    chains: chains.map((c) => ({
      name: c.name,
      ...(c.base ? { base: c.base } : {}),
      rules: c.rules.map((exprs, handle) => ({ handle, exprs: exprs.map(canonicalExpr) })),
    })),
    sets: sets.map((s) => ({ spec: s.spec, elements: s.elements })),
  });
}

t.test('every expression, set shape and chain kind reads back as committed', async (t) => {
  const { sock, exec } = fixture(t);

  t.same(await sock.commit(fullTable()), { ok: true });
  const state = await sock.listTable('inet', T);
  t.strictSame(normalize(state), expected());
  t.match(exec(['nft', 'list', 'ruleset']), /iifname vmap @out/);
});

t.test('flush and delete ops change only what they name', async (t) => {
  const { sock } = fixture(t);
  t.same(await sock.commit(fullTable()), { ok: true });

  const result = await sock.commit([
    { op: 'flush', kind: 'chain', ...at, name: 'ws1_out' },
    { op: 'delete', kind: 'elements', ...at, set: 'out', elements: [{ key: tap1 }] },
    { op: 'delete', kind: 'chain', ...at, name: 'ws1_out' },
    { op: 'delete', kind: 'elements', ...at, set: 'egress_net', elements: [sets[3].elements[0]] },
    { op: 'delete', kind: 'set', ...at, name: 'mark_of' },
  ]);
  t.same(result, { ok: true });

  const state = await sock.listTable('inet', T);
  t.same(
    state?.chains.map((c) => c.name),
    ['refuse', 'guard', 'forward', 'prerouting', 'postrouting'],
  );
  t.same(
    state?.sets.map((s) => [s.spec.name, s.elements.length]),
    [['ifaces', 2], ['src', 2], ['out', 3], ['egress_net', 1], ['egress_port', 2], ['protos', 2]],
  );

  const drop: Op = { op: 'delete', kind: 'table', family: 'inet', name: T };
  t.same(await sock.commit([drop]), { ok: true });
  t.equal(await sock.listTable('inet', T), null);
});

t.test('an owned table goes with its socket unless it persists', async (t) => {
  const { sock, ns } = fixture(t);
  const owner = NftSocket.open({ netns: `/run/netns/${ns}` });
  const add = (name: string, persist: boolean): Op => ({
    op: 'add', kind: 'table', family: 'inet', name, flags: { owner: true, persist },
  });

  t.same(await owner.commit([add('owned', false), add('kept', true)]), { ok: true });
  t.same((await sock.listTable('inet', 'owned'))?.flags, { owner: true });
  t.same((await sock.listTable('inet', 'kept'))?.flags, { owner: true, persist: true });

  // Only the owner may change an owned table (nf_tables_api.c, nft_table_is_orphan).
  const chain: Op = { op: 'add', kind: 'chain', family: 'inet', table: 'owned', name: 'c' };
  const foreign = await sock.commit([chain]);
  t.match(foreign, { ok: false, index: 0, errno: 1 });

  owner.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(await sock.listTable('inet', 'owned'), null);
  t.same((await sock.listTable('inet', 'kept'))?.flags, { persist: true });
});

t.test('expressions outside the Expr union read back flagged unknown', async (t) => {
  const { sock, exec } = fixture(t);
  const ops: Op[] = [
    { op: 'add', kind: 'table', family: 'inet', name: T },
    { op: 'add', kind: 'chain', ...at, name: 'c' },
  ];
  t.same(await sock.commit(ops), { ok: true });

  // nft (not the addon) writes a meta key and an expression the daemon never uses.
  exec(['nft', 'add', 'rule', 'inet', T, 'c', 'meta', 'length', '100', 'log', 'accept']);
  const state = await sock.listTable('inet', T);
  t.strictSame(state?.chains[0].rules.map((r) => r.exprs), [
    [
      { type: 'meta', unknown: true },
      { type: 'cmp', sreg: 1, op: 'eq', data: le32(100) },
      { type: 'log', unknown: true },
      { type: 'immediate', dreg: 0, verdict: { kind: 'accept' } },
    ],
  ]);
});
