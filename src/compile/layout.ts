/**
 * The daemon's table: its shared sets and maps, its base chains and their fixed rules.
 * Everything per workspace hangs off these as elements and as two chains (see README).
 */
import type { BaseChain, Expr, Family, Op, SetSpec } from '../nft/types';
import {
  accept, ctEstablished, drop, goTo, inCidr, ipDaddr, ipSaddr, isIpv4, lookup, match, meta,
  thDport, vmap, IPPROTO_TCP, NFPROTO_IPV4, Loader, REG_1,
} from './expr';
import { u8, ifname } from '../nft/bytes';

/** The table's address family: inet sees IPv4 and IPv6, so IPv6 can be dropped too. */
export const FAMILY: Family = 'inet';

/** nft datatype numbers (nftables src/datatype.h) and NFT_DATA_VERDICT. */
const T = { ipv4: 7, proto: 12, service: 13, mark: 19, ifname: 41 } as const;
const NFT_DATA_VERDICT = 0xffffff00;

function concatType(...types: number[]): number {
  return types.reduce((acc, t) => (acc << 6) | t, 0);
}

/** The shared sets and maps, by name. */
export const SETS = {
  ifaces: 'ifaces',
  src: 'src',
  /** every local workspace's address: only its own tap may send from it */
  wsIp: 'ws_ip',
  /** addresses of registered workspaces on other hosts: their daemons decide inbound */
  remoteIp: 'remote_ip',
  out: 'out',
  in: 'in',
  /** addresses the daemon's DNS learned for egress names; elements time out (src/dns) */
  egressLearned: 'egress_learned',
  egressPort: 'egress_port',
  inPort: 'in_port',
  linkSrc: 'link_src',
  hostSvc: 'host_svc',
  outboundIp: 'outbound_ip',
  /** workspace ip : its zone's packet mark, which selects the zone's routing table */
  outboundMark: 'outbound_mark',
  /** tap : jump <id>_relay, for workspaces whose internet goes through their own proxy */
  proxied: 'proxied',
} as const;

/**
 * A workspace's egress CIDRs are ranges in one of EGRESS_SHARDS interval sets, `egress_net_<k>`,
 * k chosen by its id. The kernel fills an interval set of concatenated keys (pipapo) at a cost
 * per element that grows with the set, so one set of every workspace's ranges is quadratic to
 * build: 100,000 ranges took 3.4 s of kernel time against 0.75 s for the same ranges in 64
 * sets (`nft -f`, 5,000 workspaces of 20 CIDRs; README: Performance). A packet still meets
 * one lookup, in the set its workspace's chain names.
 */
export const EGRESS_SHARDS = 64;

/** The egress set that holds a workspace's ranges: FNV-1a of its id, modulo the shards. */
export function egressNetSet(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return `egress_net_${(h >>> 0) % EGRESS_SHARDS}`;
}

/** The fixed chains. Workspace chains are `<id>_out` and `<id>_in`. */
export const CHAINS = {
  guard: 'guard',
  forward: 'forward',
  input: 'input',
  output: 'output',
  postrouting: 'postrouting',
  refuse: 'refuse',
  /** nat prerouting: a custom-proxy workspace's allowed TCP is DNATed to the relay */
  redirect: 'redirect',
  /** mangle prerouting: a workspace with a dedicated address gets its zone's mark */
  zoneMark: 'zone_mark',
} as const;

/** The chain that decides what a workspace may send. */
export const outChain = (id: string): string => `${id}_out`;
/** The chain that decides what may reach a workspace. */
export const inChain = (id: string): string => `${id}_in`;

/** Field loaders of the concatenated keys, in key order. */
export const KEYS = {
  ifaceSrc: [meta('iifname'), ipSaddr],
  ifaceDst: [meta('iifname'), ipDaddr],
  egressPort: [meta('iifname'), meta('l4proto'), thDport],
  inPort: [meta('oifname'), meta('l4proto'), thDport],
  linkSrc: [meta('oifname'), ipSaddr],
  hostSvc: [meta('iifname'), ipDaddr, meta('l4proto'), thDport],
} satisfies Record<string, Loader[]>;

/** The local workspaces' taps; the closed table (closed.ts) holds it too. */
export const IFACES_SPEC: SetSpec = {
  name: SETS.ifaces, keyType: T.ifname, keyLen: 16, keyByteorder: 'host',
};

function setSpecs(): SetSpec[] {
  return [
    IFACES_SPEC,
    { name: SETS.src, keyType: concatType(T.ifname, T.ipv4), keyLen: 20, fields: [16, 4] },
    { name: SETS.wsIp, keyType: T.ipv4, keyLen: 4 },
    { name: SETS.remoteIp, keyType: T.ipv4, keyLen: 4 },
    {
      name: SETS.out, keyType: T.ifname, keyLen: 16, keyByteorder: 'host',
      dataType: NFT_DATA_VERDICT, dataLen: 0,
    },
    {
      name: SETS.in, keyType: T.ifname, keyLen: 16, keyByteorder: 'host',
      dataType: NFT_DATA_VERDICT, dataLen: 0,
    },
    ...Array.from({ length: EGRESS_SHARDS }, (_, k) => ({
      name: `egress_net_${k}`, keyType: concatType(T.ifname, T.ipv4), keyLen: 20,
      fields: [16, 4], interval: true,
    })),
    {
      name: SETS.egressLearned, keyType: concatType(T.ifname, T.ipv4), keyLen: 20,
      fields: [16, 4], timeout: true,
    },
    {
      name: SETS.egressPort, keyType: concatType(T.ifname, T.proto, T.service), keyLen: 24,
      fields: [16, 1, 2],
    },
    {
      name: SETS.inPort, keyType: concatType(T.ifname, T.proto, T.service), keyLen: 24,
      fields: [16, 1, 2],
    },
    { name: SETS.linkSrc, keyType: concatType(T.ifname, T.ipv4), keyLen: 20, fields: [16, 4] },
    {
      name: SETS.hostSvc, keyType: concatType(T.ifname, T.ipv4, T.proto, T.service),
      keyLen: 28, fields: [16, 4, 1, 2],
    },
    // workspace ip : dedicated outbound ip (src/outbound); the snat rule's map
    { name: SETS.outboundIp, keyType: T.ipv4, keyLen: 4, dataType: T.ipv4, dataLen: 4 },
    {
      name: SETS.outboundMark, keyType: T.ipv4, keyLen: 4, dataType: T.mark, dataLen: 4,
      dataByteorder: 'host',
    },
    {
      name: SETS.proxied, keyType: T.ifname, keyLen: 16, keyByteorder: 'host',
      dataType: NFT_DATA_VERDICT, dataLen: 0,
    },
  ];
}

/** What the skeleton needs to know of the host. */
export interface LayoutOptions {
  table: string;
  uplink: string;
  /** the workspace network, e.g. { net: '10.0.0.0', len: 8 } */
  workspaceNet: { net: string; len: number };
  /** interfaces named with this prefix are workspace taps: unregistered ones are dropped */
  tapPrefix?: string | null;
}

/**
 * `add table` without flags, then `delete table`: the head of a batch that builds the table
 * from nothing whether or not one exists. The flagless `add` changes nothing on a table
 * that exists, so there is always one to delete, and the kernel refuses it (EPERM) when
 * another socket owns the table. No read comes first.
 */
export function cleared(table: string): Op[] {
  return [
    { op: 'add', kind: 'table', family: FAMILY, name: table },
    { op: 'delete', kind: 'table', family: FAMILY, name: table },
  ];
}

/** The operations that build the empty table: sets, base chains, fixed rules. */
export function skeleton(o: LayoutOptions): Op[] {
  const t = { family: FAMILY, table: o.table };
  const ops: Op[] = [{ op: 'create', kind: 'table', family: FAMILY, name: o.table }];
  for (const set of setSpecs()) ops.push({ op: 'create', kind: 'set', ...t, set });

  const chain = (name: string, base?: BaseChain) =>
    ops.push({ op: 'create', kind: 'chain', ...t, name, base });
  chain(CHAINS.refuse);
  chain(CHAINS.guard, { type: 'filter', hook: 'prerouting', priority: -300, policy: 'accept' });
  chain(CHAINS.forward, { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' });
  chain(CHAINS.input, { type: 'filter', hook: 'input', priority: 0, policy: 'accept' });
  chain(CHAINS.output, { type: 'filter', hook: 'output', priority: 0, policy: 'accept' });
  chain(CHAINS.postrouting, { type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' });
  // dstnat priority: after conntrack (-200) and guard, before routing decides input or forward.
  chain(CHAINS.redirect, { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' });
  // mangle priority: after conntrack, before routing reads the mark (src/outbound/routes).
  chain(CHAINS.zoneMark, { type: 'filter', hook: 'prerouting', priority: -150,
    policy: 'accept' });

  for (const [name, rules] of Object.entries(fixedRules(o))) {
    for (const exprs of rules) ops.push({ op: 'add', kind: 'rule', ...t, chain: name, exprs });
  }
  return ops;
}

/** `iifname "PREFIX*" iifname != @ifaces drop`: a tap nobody registered is dark. */
function unregisteredTaps(prefix: string | null | undefined): Expr[][] {
  if (!prefix) return [];
  return [[...namedLike('iifname', prefix), ...lookup([meta('iifname')], SETS.ifaces, true),
    drop()]];
}

/** `DIR "PREFIX*"`: a cmp shorter than the loaded name compares only the prefix. */
export function namedLike(dir: 'iifname' | 'oifname', prefix: string): Expr[] {
  return match(meta(dir), 'eq', Uint8Array.from(Buffer.from(prefix, 'ascii')));
}

function fixedRules(o: LayoutOptions): Record<string, Expr[][]> {
  const tap = meta('iifname');
  const fromTap = lookup([tap], SETS.ifaces);
  const { net, len } = o.workspaceNet;
  return {
    // A tap is an IPv4 link with one address: everything else is dropped before conntrack.
    [CHAINS.guard]: [
      ...unregisteredTaps(o.tapPrefix),
      [...fromTap, ...match(meta('nfproto'), 'neq', u8(NFPROTO_IPV4)), drop()],
      [...fromTap, ...isIpv4(), ...lookup(KEYS.ifaceSrc, SETS.src, true), drop()],
      // A workspace's address arriving through any other interface is forged.
      [
        ...isIpv4(), ...lookup([ipSaddr], SETS.wsIp),
        ...lookup(KEYS.ifaceSrc, SETS.src, true), drop(),
      ],
    ],
    [CHAINS.forward]: [
      [...ctEstablished(), accept()],
      vmap(tap, SETS.out),
      vmap(meta('oifname'), SETS.in),
      // What a workspace sends into the workspace network that no local workspace took:
      // only registered workspaces on other hosts, whose own daemons decide inbound.
      [...fromTap, ...isIpv4(), ...lookup([ipDaddr], SETS.remoteIp), accept()],
      [...fromTap, drop()],
    ],
    // Of the host, a workspace reaches only the services in host_svc (DNS on its gateway).
    [CHAINS.input]: [
      [...lookup([tap], SETS.ifaces, true), accept()],
      [...ctEstablished(), accept()],
      [...isIpv4(), ...lookup(KEYS.hostSvc, SETS.hostSvc), accept()],
      [drop()],
    ],
    [CHAINS.output]: [
      [...ctEstablished(), accept()],
      vmap(meta('oifname'), SETS.in),
    ],
    // Only the first packet of a connection passes a nat chain; the rest follow conntrack.
    [CHAINS.redirect]: [vmap(tap, SETS.proxied)],
    [CHAINS.zoneMark]: [zoneMark(net, len)],
    [CHAINS.postrouting]: [outboundSnat(net, len), [
      ...match(meta('oifname'), 'eq', ifname(o.uplink)),
      ...isIpv4(),
      ...inCidr(ipSaddr, net, len),
      ...inCidr(ipDaddr, net, len, true),
      { type: 'masq' },
    ]],
    // A refused connection fails at once and visibly: a reset for TCP, ICMP for the rest.
    [CHAINS.refuse]: [
      [...match(meta('l4proto'), 'eq', u8(IPPROTO_TCP)), { type: 'reject', kind: 'tcp-reset' }],
      [{ type: 'reject', kind: 'icmpx', code: 'admin-prohibited' }],
    ],
  };
}

/**
 * `ip daddr != NET snat ip to ip saddr map @outbound_ip`: a workspace with a dedicated
 * address leaves with it; the others miss the map and fall through to the masquerade.
 * Not tied to the uplink: the zone's routing table picks the link (src/outbound/routes).
 */
function outboundSnat(net: string, len: number): Expr[] {
  return [
    ...isIpv4(),
    ...inCidr(ipDaddr, net, len, true),
    ipSaddr.load(REG_1),
    { type: 'lookup', sreg: REG_1, set: SETS.outboundIp, dreg: REG_1 },
    { type: 'nat', nat: 'snat', family: 'ip', addrReg: REG_1 },
  ];
}

/**
 * `ip daddr != NET meta mark set ip saddr map @outbound_mark`: every packet a workspace
 * with a dedicated address sends out of the workspace network carries its zone's mark, so
 * one rule per zone (`fwmark M lookup T`) routes it. Replies (from the internet) and the
 * host's own traffic (the output hook: relay, DNS) are never marked.
 */
function zoneMark(net: string, len: number): Expr[] {
  return [
    ...isIpv4(),
    ...inCidr(ipDaddr, net, len, true),
    ipSaddr.load(REG_1),
    { type: 'lookup', sreg: REG_1, set: SETS.outboundMark, dreg: REG_1 },
    { type: 'meta', key: 'mark', sreg: REG_1 },
  ];
}

export { goTo };
