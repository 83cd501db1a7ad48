/**
 * IPv4 addresses and CIDRs as the API accepts them, and the interval arithmetic that the
 * kernel's interval sets need.
 *
 * Only the canonical dotted-decimal form is accepted: four decimal octets, no leading zeros,
 * no whitespace. inet_aton() would also read "010.1" or "0x7f.1" (octal, hex, short forms),
 * which makes one string mean different addresses to different readers; the API refuses them.
 */

/** An inclusive range of IPv4 addresses as uint32 numbers: [first, last]. */
export type Ipv4Range = readonly [number, number];

/** A parsed CIDR: its network address as a uint32 and its prefix length. */
export interface Cidr {
  base: number;
  prefix: number;
}

/** Why a CIDR was refused: not CIDR syntax at all, or an address with host bits set. */
export type CidrResult =
  | { ok: true; cidr: Cidr }
  | { ok: false; reason: 'syntax' }
  | { ok: false; reason: 'host_bits'; network: string };

const PREFIX = /^(?:0|[1-9][0-9]?)$/;

/** Parses a canonical dotted-decimal IPv4 address to a uint32, or null if it is not one. */
export function parseIpv4(text: string): number | null {
  // A scan, not a regular expression and split: the compiler parses every egress entry
  // of every workspace, hundreds of thousands in a cold build of a large host.
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return null;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      // An octet is 0 or 1 to 3 digits not starting with 0, and at most 255.
      if ((digits > 0 && octet === 0) || digits === 3) return null;
      octet = octet * 10 + (c - 0x30);
      digits++;
      if (octet > 255) return null;
    } else {
      return null;
    }
  }
  return dots === 3 && digits > 0 ? value * 256 + octet : null;
}

/** True when `text` is a canonical dotted-decimal IPv4 address. */
export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== null;
}

/** Formats a uint32 as a dotted-decimal IPv4 address. */
export function formatIpv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`not a uint32 IPv4 address: ${value}`);
  }
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The netmask of a prefix length as a uint32 (0 for /0, 0xffffffff for /32). */
export function prefixMask(prefix: number): number {
  // A shift by 32 is a shift by 0 in JavaScript, so /0 needs its own case.
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n", refusing an address with bits set beyond the prefix. */
export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: 'syntax' };

  const base = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (base === null || !PREFIX.test(prefixText)) return { ok: false, reason: 'syntax' };
  const prefix = Number(prefixText);
  if (prefix > 32) return { ok: false, reason: 'syntax' };

  const network = (base & prefixMask(prefix)) >>> 0;
  if (network !== base) {
    return { ok: false, reason: 'host_bits', network: `${formatIpv4(network)}/${prefix}` };
  }
  return { ok: true, cidr: { base, prefix } };
}

/** The addresses a CIDR covers, as an inclusive range. */
export function cidrRange(cidr: Cidr): Ipv4Range {
  // The host bits, without 2 ** n (Math.pow is a call per CIDR of a cold build).
  const host = cidr.prefix === 32 ? 0 : 0xffffffff >>> cidr.prefix;
  return [cidr.base, cidr.base + host];
}

/** True when `address` (a uint32) lies inside `cidr`. */
export function cidrContains(cidr: Cidr, address: number): boolean {
  return ((address & prefixMask(cidr.prefix)) >>> 0) === cidr.base;
}

/** The range one entry covers: an address is a one-address range, a CIDR its block. */
export function entryRange(entry: string): Ipv4Range {
  const address = parseIpv4(entry);
  if (address !== null) return [address, address];

  const parsed = parseCidr(entry);
  if (!parsed.ok) throw new RangeError(`not an IPv4 address or CIDR: ${JSON.stringify(entry)}`);
  return cidrRange(parsed.cidr);
}

/**
 * Merges ranges into the minimal sorted list of disjoint, non-adjacent ranges. The kernel
 * refuses an interval set element that overlaps another and would fail the whole batch,
 * so overlapping and touching ranges are joined here.
 */
export function mergeRanges(ranges: readonly Ipv4Range[]): Ipv4Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];

  for (const [first, last] of sorted) {
    const tail = merged[merged.length - 1];
    if (tail !== undefined && first <= tail[1] + 1) {
      tail[1] = Math.max(tail[1], last);
    } else {
      merged.push([first, last]);
    }
  }
  return merged;
}

/** Merges IPv4 addresses and CIDRs (strings) into disjoint, non-adjacent ranges. */
export function mergeEntries(entries: readonly string[]): Ipv4Range[] {
  return mergeRanges(entries.map(entryRange));
}
