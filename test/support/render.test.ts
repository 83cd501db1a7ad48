import t from 'tap';
import { be16, ifname, ipv4, le32, u8 } from '../../src/nft/bytes';
import type { Element, Expr, Family, Op, SetSpec } from '../../src/nft/types';
import { applyOps, normalize, renderOps, renderTable } from './render';
import { formatPriority } from './render/chains';
import { NFT_DATA_VERDICT, TYPE } from './render/datatypes';
import { cidr, cmp, ctEstablished, DESIGN_TEXT, designOps, isIpv4, lookup, meta, payload,
  verdict } from './render/fixture';

/** The rule lines of chain `c` in a table holding only the given rules. */
function rules(exprs: Expr[][], family: Family = 'inet', sets: SetSpec[] = []): string[] {
  const at = { family, table: 't' };
  const ops: Op[] = [{ op: 'add', kind: 'table', family, name: 't' },
    ...sets.map((set): Op => ({ op: 'add', kind: 'set', ...at, set })),
    { op: 'add', kind: 'chain', ...at, name: 'c' },
    ...exprs.map((e): Op => ({ op: 'add', kind: 'rule', ...at, chain: 'c', exprs: e }))];
  const chain = renderOps(ops).split('\tchain c {\n')[1];
  return chain.split('\n').filter((l) => l.startsWith('\t\t')).map((l) => l.trim());
}

/** The block of one set holding the given elements. */
function setBlock(spec: SetSpec, elements: Element[]): string {
  const at = { family: 'inet' as const, table: 't' };
  return renderOps([{ op: 'add', kind: 'table', family: 'inet', name: 't' },
    { op: 'add', kind: 'set', ...at, set: spec },
    { op: 'add', kind: 'elements', ...at, set: spec.name, elements }]);
}


t.test('the designed table renders as nft lists it', async (t) => {
  t.equal(renderOps(designOps('T')), DESIGN_TEXT);
});

t.test('a read-back table renders the same as the operations that built it', async (t) => {
  const ops = designOps('T');
  t.equal(renderTable(applyOps(ops)), renderOps(ops));
});

t.test('meta loads compared to names print as nft prints them', async (t) => {
  t.same(rules([
    [meta('iifname'), cmp('eq', ifname('tap1')), verdict({ kind: 'accept' })],
    [meta('oifname'), cmp('neq', ifname('')), verdict({ kind: 'drop' })],
    [meta('iifname'), cmp('eq', Buffer.from('tap')), verdict({ kind: 'accept' })],
    [meta('nfproto'), cmp('eq', u8(10)), verdict({ kind: 'accept' })],
    [meta('l4proto'), cmp('eq', u8(1)), verdict({ kind: 'accept' })],
    [meta('l4proto'), cmp('neq', u8(50)), verdict({ kind: 'accept' })],
    [meta('mark'), cmp('eq', le32(16)), verdict({ kind: 'accept' })],
  ]), [
    'iifname "tap1" accept',
    'oifname != "" drop',
    'iifname "tap*" accept',
    'meta nfproto ipv6 accept',
    'meta l4proto icmp accept',
    'meta l4proto != esp accept',
    'meta mark 0x00000010 accept',
  ]);
});

t.test('ip header fields need the nfproto dependency in inet, which nft hides', async (t) => {
  t.same(rules([
    [payload('network', 16, 4), cmp('eq', ipv4('1.2.3.4')), verdict({ kind: 'accept' })],
    [...isIpv4(), payload('network', 16, 4), cmp('eq', ipv4('1.2.3.4')),
      verdict({ kind: 'accept' })],
    [...isIpv4(), payload('network', 16, 2), cmp('eq', Uint8Array.of(10, 0))],
    [...isIpv4(), ...cidr(12, '10.0.0.0', 12, 'neq')],
    [...isIpv4(), verdict({ kind: 'accept' })],
    [...isIpv4(), payload('network', 9, 1), cmp('eq', u8(17))],
  ]), [
    '@nh,128,32 0x1020304 accept',
    'ip daddr 1.2.3.4 accept',
    'ip daddr 10.0.0.0/16',
    'ip saddr != 10.0.0.0/12',
    'meta nfproto ipv4 accept',
    'ip protocol udp',
  ]);
  const src: SetSpec = { name: 'src', keyType: (TYPE.ifname << 6) | TYPE.ipv4, keyLen: 20 };
  t.same(rules([[meta('iifname'), payload('network', 16, 4, 2), lookup('src', true)]], 'inet',
    [src]), ['iifname . @nh,128,32 != @src'], 'a concatenation without the dependency is raw');
  t.same(rules([[payload('network', 12, 4), cmp('eq', ipv4('10.0.0.1'))]], 'ip'),
    ['ip saddr 10.0.0.1'], 'the ip family needs no dependency');
});

t.test('transport ports name their protocol when l4proto was matched first', async (t) => {
  t.same(rules([
    [meta('l4proto'), cmp('eq', u8(6)), payload('transport', 2, 2), cmp('neq', be16(22))],
    [meta('l4proto'), cmp('eq', u8(17)), payload('transport', 0, 2), cmp('eq', be16(53))],
    [payload('transport', 2, 2), cmp('eq', be16(8080)), verdict({ kind: 'accept' })],
    [payload('transport', 4, 4), cmp('eq', Uint8Array.of(0, 0, 0, 1))],
  ]), ['tcp dport != 22', 'udp sport 53', 'th dport 8080 accept', '@th,32,32 0x1']);
});

t.test('ct keys print as names', async (t) => {
  const state = (mask: number): Expr[] => [{ type: 'ct', key: 'state', dreg: 1 },
    { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32(mask), xor: le32(0) },
    cmp('neq', le32(0))];
  t.same(rules([
    [...ctEstablished(), verdict({ kind: 'accept' })],
    [...state(0x9), verdict({ kind: 'drop' })],
    [...state(0x2)],
    [{ type: 'ct', key: 'direction', dreg: 1 }, cmp('eq', u8(1))],
    [{ type: 'ct', key: 'mark', dreg: 1 }, cmp('eq', le32(5))],
  ]), ['ct state established,related accept', 'ct state invalid,new drop', 'ct state established',
    'ct direction reply', 'ct mark 0x00000005']);
});

t.test('verdicts, counters, reject and nat statements', async (t) => {
  const imm = (dreg: number, data: Uint8Array): Expr => ({ type: 'immediate', dreg, data });
  const dnat: Expr[] = [imm(1, ipv4('10.0.0.2')), imm(2, be16(8080)),
    { type: 'nat', nat: 'dnat', family: 'ip', addrReg: 1, protoReg: 2 }];
  const snat: Expr[] = [imm(1, ipv4('1.2.3.4')),
    { type: 'nat', nat: 'snat', family: 'ip', addrReg: 1 }];
  t.same(rules([
    [verdict({ kind: 'jump', chain: 'x' })], [verdict({ kind: 'goto', chain: 'x' })],
    [verdict({ kind: 'continue' })], [verdict({ kind: 'return' })],
    [{ type: 'counter' }, verdict({ kind: 'drop' })],
    [{ type: 'reject', kind: 'icmpx', code: 'port-unreachable' }],
    [{ type: 'reject', kind: 'icmpx', code: 'no-route' }],
    [{ type: 'reject', kind: 'icmpx', code: 'host-unreachable' }],
    [{ type: 'reject', kind: 'tcp-reset' }],
    dnat, snat, [{ type: 'masq' }],
  ]), ['jump x', 'goto x', 'continue', 'return', 'counter packets 0 bytes 0 drop', 'reject',
    'reject with icmpx no-route', 'reject with icmpx host-unreachable', 'reject with tcp reset',
    'dnat ip to 10.0.0.2:8080', 'snat ip to 1.2.3.4', 'masquerade']);
  t.same(rules([snat], 'ip'), ['snat to 1.2.3.4'], 'the ip family names no address family');
});

t.test('lookups: sets, inverted sets, verdict maps and concatenations', async (t) => {
  const sets: SetSpec[] = [
    { name: 's', keyType: TYPE.ipv4, keyLen: 4 },
    { name: 'v', keyType: TYPE.ifname, keyLen: 16, dataType: NFT_DATA_VERDICT },
    { name: 'p', keyType: (TYPE.inetProto << 6) | TYPE.inetService, keyLen: 8,
      fields: [1, 2] },
  ];
  t.same(rules([
    [...isIpv4(), payload('network', 12, 4), lookup('s'), verdict({ kind: 'accept' })],
    [...isIpv4(), payload('network', 16, 4), lookup('s', true)],
    [meta('oifname'), lookup('v', false, 0)],
    [meta('l4proto'), payload('transport', 2, 2, 9), lookup('p', true)],
  ], 'inet', sets), ['ip saddr @s accept', 'ip daddr != @s', 'oifname vmap @v',
    'meta l4proto . th dport != @p']);
});

t.test('element lists wrap as nft wraps them for the key type', async (t) => {
  const ports = Array.from({ length: 7 }, (_, i) => ({ key: be16(i + 1) }));
  t.match(setBlock({ name: 'p', keyType: TYPE.inetService, keyLen: 2 }, ports),
    'elements = { 1, 2, 3, 4, 5,\n\t\t\t     6, 7 }');
  const addrs = ['1.1.1.1', '1.1.1.2', '1.1.1.3'].map((a) => ({ key: ipv4(a) }));
  t.match(setBlock({ name: 'a', keyType: TYPE.ipv4, keyLen: 4 }, addrs),
    'elements = { 1.1.1.1, 1.1.1.2,\n\t\t\t     1.1.1.3 }');
  const protos = [6, 17, 1, 50].map((p) => ({ key: u8(p) }));
  t.match(setBlock({ name: 'q', keyType: TYPE.inetProto, keyLen: 1 }, protos),
    'elements = { tcp, udp, icmp, esp }');
});

t.test('interval sets print prefixes, ranges and single values; flags in nft order', async (t) => {
  const range = (lo: string, hi: string) => ({ key: ipv4(lo), keyEnd: ipv4(hi) });
  const text = setBlock({ name: 'n', keyType: TYPE.ipv4, keyLen: 4, interval: true,
    constant: true }, [range('10.0.0.0', '10.255.255.255'), range('0.0.0.0', '255.255.255.255'),
    range('192.168.1.1', '192.168.1.1'), range('3.0.0.0', '3.0.0.5')]);
  t.match(text, '\t\tflags constant,interval\n');
  t.match(text, 'elements = { 10.0.0.0/8, 0.0.0.0/0,\n\t\t\t     192.168.1.1, 3.0.0.0-3.0.0.5 }');
  const ports = setBlock({ name: 'r', keyType: TYPE.inetService, keyLen: 2, interval: true },
    [{ key: be16(1000), keyEnd: be16(2000) }]);
  t.match(ports, 'elements = { 1000-2000 }');
});

t.test('a map with data values and an empty set', async (t) => {
  const map = setBlock({ name: 'm', keyType: TYPE.ipv4, keyLen: 4, dataType: TYPE.ipv4,
    dataLen: 4 }, [{ key: ipv4('1.1.1.1'), data: ipv4('2.2.2.2') }]);
  t.match(map, '\tmap m {\n\t\ttype ipv4_addr : ipv4_addr\n\t\telements = { 1.1.1.1 : 2.2.2.2 }');
  t.match(setBlock({ name: 'e', keyType: TYPE.ifname, keyLen: 16 }, []),
    '\tset e {\n\t\ttype ifname\n\t}\n');
});

t.test('priorities print by name within 10 of a standard one that fits the hook', async (t) => {
  const cases: [number, string, string][] = [
    [-300, 'prerouting', 'raw'], [-295, 'input', 'raw + 5'], [5, 'prerouting', 'filter + 5'],
    [42, 'output', 'security - 8'], [-100, 'prerouting', 'dstnat'], [-90, 'output', '-90'],
    [-110, 'prerouting', 'dstnat - 10'], [90, 'postrouting', 'srcnat - 10'],
    [100, 'input', '100'], [-100, 'forward', '-100'], [-95, 'forward', '-95'],
    [-150, 'output', 'mangle'], [25, 'prerouting', '25'], [-1000, 'forward', '-1000'],
  ];
  for (const [prio, hook, text] of cases) t.equal(formatPriority(prio, hook, 'inet'), text);
});

t.test('operations flush chains and delete elements, chains and sets', async (t) => {
  const at = { family: 'inet' as const, table: 't' };
  const ops: Op[] = [...designOps('t'),
    { op: 'flush', kind: 'chain', ...at, name: 'ws_a_in' },
    { op: 'delete', kind: 'elements', ...at, set: 'ifaces', elements: [{ key: ifname('tap2') }] },
    { op: 'delete', kind: 'set', ...at, name: 'host_svc' },
    { op: 'delete', kind: 'chain', ...at, name: 'output' }];
  const state = applyOps(ops);
  t.same(state.chains.find((c) => c.name === 'ws_a_in')?.rules, []);
  t.same(state.sets.find((s) => s.spec.name === 'ifaces')?.elements, [{ key: ifname('tap1') }]);
  t.notOk(state.sets.some((s) => s.spec.name === 'host_svc'));
  t.notOk(state.chains.some((c) => c.name === 'output'));
  t.throws(() => applyOps([{ op: 'add', kind: 'chain', ...at, name: 'c' }]));
});

t.test('an owner table prints its flags first', async (t) => {
  t.equal(renderOps([{ op: 'add', kind: 'table', family: 'inet', name: 'o',
    flags: { owner: true } }]), 'table inet o {\n\tflags owner\n}\n');
});

t.test('normalize ignores handles, owners, counters, element order and wrapping', async (t) => {
  const live = 'table inet t { # progname node\n\tflags owner\n\n\tset s {\n' +
    '\t\telements = { "b" . 2,\n\t\t\t     "a" . 1 }\n\t}\n\n\tchain c { # handle 3\n' +
    '\t\tcounter packets 12 bytes 3400 accept # handle 4\n\t}\n}\n';
  const ours = 'table inet t {\n\tflags owner\n\tset s {\n\t\telements = { "a" . 1, "b" . 2 }\n' +
    '\t}\n\tchain c {\n\t\tcounter packets 0 bytes 0 accept\n\t}\n}\n';
  t.equal(normalize(live), normalize(ours));
  t.equal(normalize(ours).split('\n')[3], 'elements = { "a" . 1, "b" . 2 }');
  t.not(normalize(ours), normalize(ours.replace('accept', 'drop')));
});
