/**
 * A hand-built table in the shape README.md designs (one workspace, `ws_a` on tap1),
 * as typed operations, for the renderer's unit and kernel tests.
 */
import { be16, concat, ifname, ipv4, le32, u8 } from '../../../src/nft/bytes';
import type { BaseChain, Element, Expr, Op, SetSpec, Verdict } from '../../../src/nft/types';
import { NFT_DATA_VERDICT, TYPE } from './datatypes';

const NFPROTO_IPV4 = 2;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED) */
const CT_ESTABLISHED_RELATED = 0x6;

/** A meta load into a register. */
export const meta = (key: Extract<Expr, { type: 'meta' }>['key'], dreg = 1): Expr =>
  ({ type: 'meta', key, dreg });
/** A payload load into a register. */
export const payload = (base: 'network' | 'transport', offset: number, len: number,
  dreg = 1): Expr => ({ type: 'payload', base, offset, len, dreg });
/** A comparison of register 1 (or `sreg`). */
export const cmp = (op: 'eq' | 'neq', data: Uint8Array, sreg = 1): Expr =>
  ({ type: 'cmp', sreg, op, data });
/** A verdict. */
export const verdict = (v: Verdict): Expr => ({ type: 'immediate', dreg: 0, verdict: v });
/** A set lookup from register 1. */
export const lookup = (set: string, invert = false, dreg?: number): Expr =>
  ({ type: 'lookup', sreg: 1, set, invert, dreg });
/** `meta nfproto ipv4`, the dependency an `ip` header field needs in an inet table. */
export const isIpv4 = (): Expr[] => [meta('nfproto'), cmp('eq', u8(NFPROTO_IPV4))];
/** An IPv4 CIDR match on a 4-byte address load: payload, mask, cmp. */
export function cidr(offset: 12 | 16, net: string, bits: number, op: 'eq' | 'neq'): Expr[] {
  const mask = le32(0).map((_, i) => Math.max(0, Math.min(8, bits - 8 * i)))
    .map((n) => (0xff << (8 - n)) & 0xff);
  return [payload('network', offset, 4),
    { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask, xor: new Uint8Array(4) },
    cmp(op, ipv4(net))];
}
/** `ct state established,related`. */
export const ctEstablished = (): Expr[] => [
  { type: 'ct', key: 'state', dreg: 1 },
  { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32(CT_ESTABLISHED_RELATED),
    xor: le32(0) },
  cmp('neq', le32(0)),
];

const IFACE_IP = (TYPE.ifname << 6) | TYPE.ipv4;
const IFACE_PORT = (((TYPE.ifname << 6) | TYPE.inetProto) << 6) | TYPE.inetService;

/** The shared sets and maps of the design, by name. */
export const SETS: Record<string, SetSpec> = {
  ifaces: { name: 'ifaces', keyType: TYPE.ifname, keyLen: 16, keyByteorder: 'host' },
  src: { name: 'src', keyType: IFACE_IP, keyLen: 20, fields: [16, 4] },
  out: {
    name: 'out', keyType: TYPE.ifname, keyLen: 16, keyByteorder: 'host',
    dataType: NFT_DATA_VERDICT,
  },
  in: {
    name: 'in', keyType: TYPE.ifname, keyLen: 16, keyByteorder: 'host',
    dataType: NFT_DATA_VERDICT,
  },
  egress_net: { name: 'egress_net', keyType: IFACE_IP, keyLen: 20, fields: [16, 4],
    interval: true },
  egress_port: { name: 'egress_port', keyType: IFACE_PORT, keyLen: 24, fields: [16, 1, 2] },
  in_port: { name: 'in_port', keyType: IFACE_PORT, keyLen: 24, fields: [16, 1, 2] },
  link_src: { name: 'link_src', keyType: IFACE_IP, keyLen: 20, fields: [16, 4] },
  host_svc: { name: 'host_svc', keyType: (IFACE_IP << 12) | (TYPE.inetProto << 6)
    | TYPE.inetService, keyLen: 28, fields: [16, 4, 1, 2] },
};

/** A key of tap . protocol . port. */
const tapPort = (tap: string, proto: number, port: number): Element =>
  ({ key: concat(ifname(tap), u8(proto), be16(port)) });
/** A key of tap . address range. */
const tapRange = (tap: string, lo: string, hi: string): Element =>
  ({ key: concat(ifname(tap), ipv4(lo)), keyEnd: concat(ifname(tap), ipv4(hi)) });

/** Elements of each set for workspace ws_a on tap1 (and a neighbour on tap2). */
export const ELEMENTS: Record<string, Element[]> = {
  ifaces: [{ key: ifname('tap1') }, { key: ifname('tap2') }],
  src: [{ key: concat(ifname('tap1'), ipv4('10.0.0.2')) },
    { key: concat(ifname('tap2'), ipv4('10.0.0.3')) }],
  out: [{ key: ifname('tap1'), verdict: { kind: 'jump', chain: 'ws_a_out' } }],
  in: [{ key: ifname('tap1'), verdict: { kind: 'jump', chain: 'ws_a_in' } }],
  egress_net: [tapRange('tap1', '1.1.1.0', '1.1.1.255'), tapRange('tap1', '8.8.8.8', '8.8.8.8'),
    tapRange('tap1', '9.9.9.1', '9.9.9.5')],
  egress_port: [tapPort('tap1', IPPROTO_TCP, 443), tapPort('tap1', IPPROTO_UDP, 53)],
  in_port: [tapPort('tap1', IPPROTO_TCP, 22)],
  link_src: [{ key: concat(ifname('tap1'), ipv4('10.0.0.3')) }],
  host_svc: [
    { key: concat(ifname('tap1'), ipv4('10.0.0.1'), u8(IPPROTO_UDP), be16(53)) },
    { key: concat(ifname('tap1'), ipv4('10.0.0.1'), u8(IPPROTO_TCP), be16(53)) },
  ],
};

/** tap . ip daddr . l4proto . th dport, loaded into the 4-byte registers a concat uses. */
const tapDaddrPort = (): Expr[] => [meta('iifname', 1), payload('network', 16, 4, 2),
  meta('l4proto', 13), payload('transport', 2, 2, 14)];

const accept: Verdict = { kind: 'accept' };
const drop: Verdict = { kind: 'drop' };
const refuse: Verdict = { kind: 'goto', chain: 'refuse' };

/** Each chain's rules, in order. */
export const RULES: Record<string, Expr[][]> = {
  guard: [
    [meta('iifname'), lookup('ifaces'), meta('nfproto'), cmp('neq', u8(NFPROTO_IPV4)),
      verdict(drop)],
    [meta('iifname'), lookup('ifaces'), ...isIpv4(), meta('iifname'),
      payload('network', 12, 4, 2), lookup('src', true), verdict(drop)],
  ],
  forward: [
    [...ctEstablished(), verdict(accept)],
    [meta('iifname'), lookup('out', false, 0)],
    [meta('oifname'), lookup('in', false, 0)],
  ],
  input: [
    [meta('iifname'), lookup('ifaces'), ...ctEstablished(), verdict(accept)],
    [...isIpv4(), ...tapDaddrPort(), lookup('host_svc'), verdict(accept)],
    [meta('iifname'), lookup('ifaces'), verdict(drop)],
  ],
  output: [
    [...ctEstablished(), verdict(accept)],
    [meta('oifname'), lookup('in', false, 0)],
  ],
  postrouting: [
    [meta('oifname'), cmp('eq', ifname('up0')), ...isIpv4(), ...cidr(12, '10.0.0.0', 8, 'eq'),
      ...cidr(16, '10.0.0.0', 8, 'neq'), { type: 'masq' }],
  ],
  ws_a_out: [
    [...isIpv4(), ...cidr(16, '10.0.0.0', 8, 'eq'), verdict({ kind: 'return' })],
    [...isIpv4(), meta('iifname'), payload('network', 16, 4, 2), lookup('egress_net', true),
      verdict(refuse)],
    [meta('iifname'), meta('l4proto', 2), payload('transport', 2, 2, 13),
      lookup('egress_port', true), verdict(refuse)],
    [{ type: 'counter' }, verdict(accept)],
  ],
  ws_a_in: [
    [meta('iifname'), cmp('eq', ifname('')), meta('oifname'), meta('l4proto', 2),
      payload('transport', 2, 2, 13), lookup('in_port'), verdict(accept)],
    [...isIpv4(), meta('oifname'), payload('network', 12, 4, 2), lookup('link_src'),
      meta('l4proto'), cmp('eq', u8(IPPROTO_TCP)), payload('transport', 2, 2),
      cmp('eq', be16(8080)), verdict(accept)],
    [verdict(drop)],
  ],
  refuse: [
    [meta('l4proto'), cmp('eq', u8(IPPROTO_TCP)), { type: 'reject', kind: 'tcp-reset' }],
    [{ type: 'reject', kind: 'icmpx', code: 'admin-prohibited' }],
  ],
};

type Base = BaseChain;
const filter = (hook: Base['hook'], priority = 0): Base =>
  ({ type: 'filter', hook, priority, policy: 'accept' });

/** Base chains of the design; the rest are regular chains. */
const BASES: Record<string, Base | undefined> = {
  guard: filter('prerouting', -300), forward: filter('forward'), input: filter('input'),
  output: filter('output'), postrouting: { type: 'nat', hook: 'postrouting', priority: 100,
    policy: 'accept' },
};

/** Every operation that builds the design's table, in the order a first commit sends them. */
export function designOps(table = 'workspace_netd', skip: (chain: string, i: number) => boolean
  = () => false): Op[] {
  const at = { family: 'inet' as const, table };
  const ops: Op[] = [{ op: 'add', kind: 'table', family: 'inet', name: table }];

  for (const set of Object.values(SETS)) ops.push({ op: 'add', kind: 'set', ...at, set });
  for (const name of Object.keys(RULES)) {
    ops.push({ op: 'add', kind: 'chain', ...at, name, base: BASES[name] });
  }
  for (const [set, elements] of Object.entries(ELEMENTS)) {
    ops.push({ op: 'add', kind: 'elements', ...at, set, elements });
  }
  for (const [chain, rules] of Object.entries(RULES)) {
    rules.forEach((exprs, i) => {
      if (!skip(chain, i)) ops.push({ op: 'add', kind: 'rule', ...at, chain, exprs });
    });
  }
  return ops;
}

/** The golden listing of designOps('T'): what `nft list table inet T` prints for it. */
export const DESIGN_TEXT = `table inet T {
	set ifaces {
		type ifname
		elements = { "tap1",
			     "tap2" }
	}

	set src {
		type ifname . ipv4_addr
		elements = { "tap1" . 10.0.0.2,
			     "tap2" . 10.0.0.3 }
	}

	map out {
		type ifname : verdict
		elements = { "tap1" : jump ws_a_out }
	}

	map in {
		type ifname : verdict
		elements = { "tap1" : jump ws_a_in }
	}

	set egress_net {
		type ifname . ipv4_addr
		flags interval
		elements = { "tap1" . 1.1.1.0/24,
			     "tap1" . 8.8.8.8,
			     "tap1" . 9.9.9.1-9.9.9.5 }
	}

	set egress_port {
		type ifname . inet_proto . inet_service
		elements = { "tap1" . tcp . 443,
			     "tap1" . udp . 53 }
	}

	set in_port {
		type ifname . inet_proto . inet_service
		elements = { "tap1" . tcp . 22 }
	}

	set link_src {
		type ifname . ipv4_addr
		elements = { "tap1" . 10.0.0.3 }
	}

	set host_svc {
		type ifname . ipv4_addr . inet_proto . inet_service
		elements = { "tap1" . 10.0.0.1 . udp . 53,
			     "tap1" . 10.0.0.1 . tcp . 53 }
	}

	chain guard {
		type filter hook prerouting priority raw; policy accept;
		iifname @ifaces meta nfproto != ipv4 drop
		iifname @ifaces iifname . ip saddr != @src drop
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		iifname vmap @out
		oifname vmap @in
	}

	chain input {
		type filter hook input priority filter; policy accept;
		iifname @ifaces ct state established,related accept
		iifname . ip daddr . meta l4proto . th dport @host_svc accept
		iifname @ifaces drop
	}

	chain output {
		type filter hook output priority filter; policy accept;
		ct state established,related accept
		oifname vmap @in
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "up0" ip saddr 10.0.0.0/8 ip daddr != 10.0.0.0/8 masquerade
	}

	chain ws_a_out {
		ip daddr 10.0.0.0/8 return
		iifname . ip daddr != @egress_net goto refuse
		iifname . meta l4proto . th dport != @egress_port goto refuse
		counter packets 0 bytes 0 accept
	}

	chain ws_a_in {
		iifname "" oifname . meta l4proto . th dport @in_port accept
		oifname . ip saddr @link_src tcp dport 8080 accept
		drop
	}

	chain refuse {
		meta l4proto tcp reject with tcp reset
		reject with icmpx admin-prohibited
	}
}
`;
