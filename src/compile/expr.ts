/**
 * Small builders for the expression sequences rules are made of. Each returns the
 * expressions nft itself would generate for the same match, so that `nft list` prints
 * our rules the way an operator expects to read them.
 */
import type { CmpOp, Expr, MetaKey, Reg, Verdict } from '../nft/types';
import { be16, ipv4, le32, padded, u8, ifname } from '../nft/bytes';

/** NFT_REG_VERDICT, NFT_REG_1 and the first 32-bit register NFT_REG32_00. */
export const REG_VERDICT = 0;
export const REG_1 = 1;
export const REG32_00 = 8;

/** NFPROTO_IPV4 (linux/netfilter.h) and IPPROTO_* (linux/in.h). */
export const NFPROTO_IPV4 = 2;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** Bits of ct state (NF_CT_STATE_BIT in linux/netfilter/nf_conntrack_common.h). */
export const CT_ESTABLISHED = 1 << 1;
export const CT_RELATED = 1 << 2;

/** A field loader: puts one field into a register. */
export type Loader = { len: number; load: (dreg: Reg) => Expr };

/** meta KEY, loaded as `len` bytes. */
export function meta(key: MetaKey): Loader {
  // Interface names are IFNAMSIZ bytes; nfproto and l4proto are one byte.
  const len = key === 'iifname' || key === 'oifname' ? 16 : 1;
  return { len, load: (dreg) => ({ type: 'meta', key, dreg }) };
}

/** ip saddr / ip daddr: IPv4 header offsets 12 and 16 (RFC 791). */
export const ipSaddr: Loader = { len: 4, load: (dreg) => net(12, 4, dreg) };
export const ipDaddr: Loader = { len: 4, load: (dreg) => net(16, 4, dreg) };

/** th dport: the destination port at offset 2 of a TCP or UDP header. */
export const thDport: Loader = {
  len: 2,
  load: (dreg) => ({ type: 'payload', base: 'transport', offset: 2, len: 2, dreg }),
};

function net(offset: number, len: number, dreg: Reg): Expr {
  return { type: 'payload', base: 'network', offset, len, dreg };
}

/** FIELD OP VALUE, for a field of one register. */
export function match(field: Loader, op: CmpOp, data: Uint8Array): Expr[] {
  return [field.load(REG_1), { type: 'cmp', sreg: REG_1, op, data }];
}

/** The IPv4 dependency nft adds before any `ip` match in an inet table. */
export function isIpv4(): Expr[] {
  return match(meta('nfproto'), 'eq', u8(NFPROTO_IPV4));
}

/** `ip daddr|saddr [!=] NET/LEN`: load, mask, compare. */
export function inCidr(field: Loader, net: string, len: number, negate = false): Expr[] {
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const maskBytes = Uint8Array.of(mask >>> 24, (mask >>> 16) & 255, (mask >>> 8) & 255, mask & 255);
  return [
    field.load(REG_1),
    { type: 'bitwise', sreg: REG_1, dreg: REG_1, len: 4, mask: maskBytes, xor: new Uint8Array(4) },
    { type: 'cmp', sreg: REG_1, op: negate ? 'neq' : 'eq', data: ipv4(net) },
  ];
}

/** `a . b . c [!=] @set`: loads each field into consecutive 32-bit registers. */
export function lookup(fields: Loader[], set: string, invert = false): Expr[] {
  if (fields.length === 1) {
    return [fields[0].load(REG_1), { type: 'lookup', sreg: REG_1, set, invert }];
  }
  const out: Expr[] = [];
  let reg = REG32_00;
  for (const f of fields) {
    out.push(f.load(reg));
    reg += padded(f.len) / 4;
  }
  out.push({ type: 'lookup', sreg: REG32_00, set, invert });
  return out;
}

/** `FIELD vmap @map`: one hash lookup that yields the verdict. */
export function vmap(field: Loader, map: string): Expr[] {
  return [field.load(REG_1), { type: 'lookup', sreg: REG_1, set: map, dreg: REG_VERDICT }];
}

/** `ct state established,related`. */
export function ctEstablished(): Expr[] {
  return [
    { type: 'ct', key: 'state', dreg: REG_1 },
    {
      type: 'bitwise', sreg: REG_1, dreg: REG_1, len: 4,
      mask: le32(CT_ESTABLISHED | CT_RELATED), xor: le32(0),
    },
    { type: 'cmp', sreg: REG_1, op: 'neq', data: le32(0) },
  ];
}

/** A verdict statement. */
export function verdict(v: Verdict): Expr {
  return { type: 'immediate', dreg: REG_VERDICT, verdict: v };
}

/** Shorthands for the verdicts rules end with. */
export const accept = (): Expr => verdict({ kind: 'accept' });
export const drop = (): Expr => verdict({ kind: 'drop' });
export const ret = (): Expr => verdict({ kind: 'return' });
export const goTo = (chain: string): Expr => verdict({ kind: 'goto', chain });

/** Key encoders re-exported for the compiler's element builders. */
export const key = { ifname, ipv4, be16, u8 };
