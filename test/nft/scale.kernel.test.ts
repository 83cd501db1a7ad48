/**
 * A host of 5,000 workspaces in one transaction: 10,000 regular chains with their rules,
 * 40,000 elements in concatenated and interval sets, verdict maps jumping to the chains.
 * It must commit as one batch and read back exactly.
 */
import t from 'tap';

import { canonicalExpr } from '../../src/nft/addon';
import { be16, concat, ifname, ipv4, u8 } from '../../src/nft/bytes';
import type { Element, Expr, Op, SetSpec } from '../../src/nft/types';
import { fixture, normalize } from './fixtures/netns';

const WORKSPACES = 5000;
const T = 'workspace_netd';
const at = { family: 'inet', table: T } as const;
const [IFNAME, IPADDR, PROTO, SERVICE] = [41, 7, 12, 13];
const cat = (...types: number[]) => types.reduce((acc, ty) => (acc << 6) | ty, 0);

/** The shared sets of the design (README), keyed by the workspace's tap. */
const specs: SetSpec[] = [
  { name: 'ifaces', keyType: IFNAME, keyLen: 16 },
  { name: 'src', keyType: cat(IFNAME, IPADDR), keyLen: 20, fields: [16, 4] },
  { name: 'out', keyType: IFNAME, keyLen: 16, dataType: 0xffffff00 },
  { name: 'in', keyType: IFNAME, keyLen: 16, dataType: 0xffffff00 },
  {
    name: 'egress_net',
    keyType: cat(IFNAME, IPADDR),
    keyLen: 20,
    fields: [16, 4],
    interval: true,
  },
  {
    name: 'egress_port',
    keyType: cat(IFNAME, PROTO, SERVICE),
    keyLen: 24,
    fields: [16, 1, 2],
  },
];

/** Workspace i's address, tap, and elements in each shared set. */
function workspace(i: number) {
  const ip = `10.${(i >> 8) & 0xff}.${i & 0xff}.2`;
  const tap = ifname(`t-${i.toString(36)}`);
  const range = (a: string, b: string): Element => ({
    key: concat(tap, ipv4(a)),
    keyEnd: concat(tap, ipv4(b)),
  });
  const elements: Record<string, Element[]> = {
    ifaces: [{ key: tap }],
    src: [{ key: concat(tap, ipv4(ip)) }],
    out: [{ key: tap, verdict: { kind: 'jump', chain: `w${i}_out` } }],
    in: [{ key: tap, verdict: { kind: 'jump', chain: `w${i}_in` } }],
    egress_net: [range(`100.${i >> 8}.${i & 0xff}.0`, `100.${i >> 8}.${i & 0xff}.127`),
      range(`172.${16 + (i >> 8)}.${i & 0xff}.9`, `172.${16 + (i >> 8)}.${i & 0xff}.9`)],
    egress_port: [
      { key: concat(tap, u8(6), be16(443)) },
      { key: concat(tap, u8(17), be16(i + 1)) },
    ],
  };
  return { tap, elements };
}

/** A forward rule sending packets through a verdict map keyed by an interface name. */
function vmap(key: 'iifname' | 'oifname', set: string): Op {
  const exprs: Expr[] = [
    { type: 'meta', key, dreg: 1 },
    { type: 'lookup', sreg: 1, set, dreg: 0 },
  ];
  return { op: 'add', kind: 'rule', ...at, chain: 'forward', exprs };
}

/** The rules of one workspace's two chains. */
function rules(i: number): { chain: string; exprs: Expr[] }[] {
  const refuse: Expr = { type: 'immediate', dreg: 0, verdict: { kind: 'goto', chain: 'refuse' } };
  return [
    {
      chain: `w${i}_out`,
      exprs: [
        { type: 'meta', key: 'iifname', dreg: 8 },
        { type: 'payload', base: 'network', offset: 16, len: 4, dreg: 12 },
        { type: 'lookup', sreg: 8, set: 'egress_net', invert: true },
        refuse,
      ],
    },
    {
      chain: `w${i}_out`,
      exprs: [
        { type: 'meta', key: 'iifname', dreg: 8 },
        { type: 'meta', key: 'l4proto', dreg: 12 },
        { type: 'payload', base: 'transport', offset: 2, len: 2, dreg: 13 },
        { type: 'lookup', sreg: 8, set: 'egress_port', invert: true },
        refuse,
      ],
    },
    { chain: `w${i}_out`, exprs: [{ type: 'immediate', dreg: 0, verdict: { kind: 'accept' } }] },
    { chain: `w${i}_in`, exprs: [{ type: 'immediate', dreg: 0, verdict: { kind: 'drop' } }] },
  ];
}

t.test('5,000 workspaces commit as one batch and read back exactly', async (t) => {
  const { sock } = fixture(t);
  const ids = Array.from({ length: WORKSPACES }, (_, i) => i);
  const per = ids.map(workspace);
  const elementsOf = (set: string) => per.flatMap((w) => w.elements[set]);

  const ops: Op[] = [
    { op: 'add', kind: 'table', family: 'inet', name: T },
    ...specs.map((set): Op => ({ op: 'add', kind: 'set', ...at, set })),
    { op: 'add', kind: 'chain', ...at, name: 'refuse' },
    ...ids.flatMap((i): Op[] => [
      { op: 'add', kind: 'chain', ...at, name: `w${i}_out` },
      { op: 'add', kind: 'chain', ...at, name: `w${i}_in` },
    ]),
    {
      op: 'add',
      kind: 'chain',
      ...at,
      name: 'forward',
      base: { type: 'filter', hook: 'forward', priority: 0, policy: 'drop' },
    },
    { op: 'add', kind: 'rule', ...at, chain: 'refuse',
      exprs: [{ type: 'reject', kind: 'icmpx', code: 'admin-prohibited' }] },
    ...ids.flatMap((i) => rules(i).map((r): Op => ({ op: 'add', kind: 'rule', ...at, ...r }))),
    ...specs.map((s): Op => ({
      op: 'add', kind: 'elements', ...at, set: s.name, elements: elementsOf(s.name),
    })),
    vmap('iifname', 'out'),
    vmap('oifname', 'in'),
  ];
  const elementCount = specs.reduce((n, s) => n + elementsOf(s.name).length, 0);

  const started = process.hrtime.bigint();
  const result = await sock.commit(ops);
  const commitMs = Number(process.hrtime.bigint() - started) / 1e6;
  t.same(result, { ok: true });
  t.comment(`${WORKSPACES} workspaces: ${ops.length} ops, ${elementCount} elements, ` +
    `commit ${commitMs.toFixed(0)} ms`);

  const readStarted = process.hrtime.bigint();
  const state = await sock.listTable('inet', T);
  const readMs = Number(process.hrtime.bigint() - readStarted) / 1e6;
  t.comment(`readback ${readMs.toFixed(0)} ms`);

  // Compare as JSON: a deep diff of 10,000 chains would bury a mismatch anyway.
  const chainOps = ops.filter((o) => o.kind === 'chain');
  const ruleOps = ops.filter((o): o is Op & { kind: 'rule' } => o.kind === 'rule');
  const want = normalize({
    family: 'inet',
    name: T,
    flags: {},
    chains: chainOps.map((c) => ({
      name: c.name,
      ...('base' in c && c.base ? { base: c.base } : {}),
      rules: ruleOps
        .filter((r) => r.chain === c.name)
        .map((r) => ({ handle: 0, exprs: r.exprs.map(canonicalExpr) })),
    })),
    sets: specs.map((spec) => ({ spec, elements: elementsOf(spec.name) })),
  });
  const json = (v: unknown) =>
    JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));
  t.equal(state?.chains.length, 2 * WORKSPACES + 2);
  t.same(state?.sets.map((s) => s.elements.length), specs.map((s) => elementsOf(s.name).length));
  t.ok(json(normalize(state)) === json(want), 'the kernel holds exactly what was committed');
});
