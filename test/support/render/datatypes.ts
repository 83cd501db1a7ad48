/**
 * nft datatypes: how `nft list` prints a value of each type the daemon uses.
 * Type numbers are nft's `enum datatypes` (src/datatype.h); a concatenation packs
 * one type per 6 bits (CONCAT_TYPE_BITS), first field highest.
 */

/** nft datatype numbers the renderer knows how to print. */
export const TYPE = {
  verdict: 1,
  nfproto: 2,
  integer: 4,
  ipv4: 7,
  inetProto: 12,
  inetService: 13,
  mark: 19,
  ctState: 26,
  ctDir: 27,
  ifname: 41,
} as const;

/** NFT_DATA_VERDICT: a map's data type when its values are verdicts. */
export const NFT_DATA_VERDICT = 0xffffff00;

const NAMES: Record<number, string> = {
  [TYPE.verdict]: 'verdict',
  [TYPE.nfproto]: 'nf_proto',
  [TYPE.integer]: 'integer',
  [TYPE.ipv4]: 'ipv4_addr',
  [TYPE.inetProto]: 'inet_proto',
  [TYPE.inetService]: 'inet_service',
  [TYPE.mark]: 'mark',
  [TYPE.ctState]: 'ct_state',
  [TYPE.ctDir]: 'ct_dir',
  [TYPE.ifname]: 'ifname',
};

/** Bytes a value of each type takes (the kernel's key length for it). */
const SIZES: Record<number, number> = {
  [TYPE.nfproto]: 1,
  [TYPE.ipv4]: 4,
  [TYPE.inetProto]: 1,
  [TYPE.inetService]: 2,
  [TYPE.mark]: 4,
  [TYPE.ctState]: 4,
  [TYPE.ctDir]: 1,
  [TYPE.ifname]: 16,
};

/** IPPROTO_* names as /etc/protocols spells them, which nft prints. */
const PROTOS: Record<number, string> = {
  1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 50: 'esp',
  51: 'ah', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite',
};

/** NF_CT_STATE_* bits in the order nft's ct_state symbol table lists them. */
const CT_STATES: [number, string][] = [
  [1, 'invalid'], [2, 'established'], [4, 'related'], [8, 'new'], [64, 'untracked'],
];

/** Splits a (possibly concatenated) type number into its fields, first field first. */
export function concatTypes(type: number): number[] {
  if (type === NFT_DATA_VERDICT) return [TYPE.verdict];
  const out: number[] = [];
  for (let t = type; t > 0; t = Math.floor(t / 64)) out.unshift(t % 64);
  return out;
}

/** The name nft prints for a type, e.g. `ifname . ipv4_addr`. */
export function typeName(type: number): string {
  return concatTypes(type).map((t) => NAMES[t] ?? `type${t}`).join(' . ');
}

/** Byte length of one field of the type, unpadded. */
export function typeSize(type: number): number {
  return SIZES[type] ?? 4;
}

/** How many elements nft prints on one line for a set keyed by this type. */
export function elementsPerLine(keyType: number): number {
  switch (keyType) {
    case TYPE.nfproto: case TYPE.integer: case TYPE.inetProto: case TYPE.inetService:
    case TYPE.mark: case TYPE.ctDir:
      return 5;
    case TYPE.ipv4: case TYPE.ctState:
      return 2;
    default:
      return 1;
  }
}

/** A big-endian byte string as one number (bytes beyond 6 are not expected here). */
export function beNumber(bytes: Uint8Array): number {
  return bytes.reduce((n, b) => n * 256 + b, 0);
}

/** A host-order (little-endian) byte string as one number. */
export function leNumber(bytes: Uint8Array): number {
  return [...bytes].reverse().reduce((n, b) => n * 256 + b, 0);
}

/** A zero-padded interface name; a name with no terminating zero is a wildcard. */
export function formatIfname(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  const text = Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('latin1');
  return end < 0 && bytes.length < 16 ? `"${text}*"` : `"${text}"`;
}

/** The name of an IPPROTO_* number, or the number. */
export function protoName(n: number): string {
  return PROTOS[n] ?? String(n);
}

/** ct state bits as nft lists them: `established,related`. */
export function ctStateNames(bits: number): string {
  const names = CT_STATES.filter(([b]) => (bits & b) !== 0).map(([, n]) => n);
  return names.length ? names.join(',') : `0x${bits.toString(16)}`;
}

/** Prints one field's bytes as the type says. */
export function formatValue(type: number, bytes: Uint8Array): string {
  switch (type) {
    case TYPE.ifname: return formatIfname(bytes);
    case TYPE.ipv4: return [...bytes.subarray(0, 4)].join('.');
    case TYPE.inetProto: return protoName(bytes[0]);
    case TYPE.inetService: return String(beNumber(bytes.subarray(0, 2)));
    case TYPE.nfproto: return ({ 2: 'ipv4', 10: 'ipv6' } as Record<number, string>)[bytes[0]]
      ?? String(bytes[0]);
    case TYPE.mark: return `0x${leNumber(bytes).toString(16).padStart(8, '0')}`;
    case TYPE.ctState: return ctStateNames(leNumber(bytes));
    case TYPE.ctDir: return bytes[0] === 0 ? 'original' : 'reply';
    default: return `0x${beNumber(bytes).toString(16)}`;
  }
}

/** The prefix length of [lo, hi] when it is exactly one IPv4 prefix, else null. */
export function ipv4Prefix(lo: Uint8Array, hi: Uint8Array): number | null {
  const a = beNumber(lo.subarray(0, 4));
  const b = beNumber(hi.subarray(0, 4));
  const size = b - a + 1;
  const bits = Math.log2(size);
  if (!Number.isInteger(bits) || a % size !== 0) return null;
  return 32 - bits;
}

/** Prints a closed range of one field: a single value, a CIDR prefix, or `lo-hi`. */
export function formatRange(type: number, lo: Uint8Array, hi: Uint8Array): string {
  if (Buffer.compare(lo, hi) === 0) return formatValue(type, lo);
  if (type === TYPE.ipv4) {
    const prefix = ipv4Prefix(lo, hi);
    if (prefix !== null) return `${formatValue(type, lo)}/${prefix}`;
  }
  return `${formatValue(type, lo)}-${formatValue(type, hi)}`;
}
