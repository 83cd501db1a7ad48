/**
 * Egress entries: what a workspace may reach on the internet. The seed calls them
 * "outbound hosts/CIDRs"; an entry is an IPv4 address, an IPv4 CIDR, or a DNS name.
 *
 * Addresses and CIDRs are elements of the kernel's egress_net set. Names are enforced through
 * the daemon's DNS (src/dns): only they resolve, and their answers open their addresses.
 */
import type { Cidr, Ipv4Range } from '../net/ipv4';
import { cidrRange, mergeRanges, parseCidr, parseIpv4 } from '../net/ipv4';

/** A classified egress entry; `value` is the normalized text that is stored. */
export type EgressEntry =
  | { kind: 'address'; value: string; address: number }
  | { kind: 'cidr'; value: string; cidr: Cidr }
  | { kind: 'name'; value: string };

/** The result of classifying one entry: the entry, or a sentence saying what is wrong. */
export type EgressResult = { ok: true; entry: EgressEntry } | { ok: false; problem: string };

/** Longest DNS name in its text form, without the trailing dot (RFC 1035 section 2.3.4). */
export const MAX_NAME_LENGTH = 253;

// A label: letters, digits and inner hyphens, 1 to 63 characters (RFC 1123 section 2.1).
// "xn--" labels (IDNA A-labels, RFC 5890) pass because inner hyphens are allowed.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const DIGITS_AND_DOTS = /^[0-9.]+$/;
const ADDRESS_CHARS = /^[0-9./]*$/;

/** Classifies and normalizes one egress entry, or says why it is refused. */
export function classifyEgress(raw: string): EgressResult {
  if (raw.length === 0) return refuse('is empty');
  if (!PRINTABLE_ASCII.test(raw)) {
    return refuse('must be printable ASCII without spaces (write IDN names as xn-- punycode)');
  }

  const address = parseIpv4(raw);
  if (address !== null) return { ok: true, entry: { kind: 'address', value: raw, address } };
  if (raw.includes('://')) return refuse('is a URL; write the host name alone, like example.com');
  if (raw.includes('/')) return classifyCidr(raw);
  return classifyName(raw);
}

/** Normalizes one entry, throwing if it is not valid; for values already validated. */
export function normalizeEgress(raw: string): string {
  const result = classifyEgress(raw);
  if (!result.ok) throw new RangeError(`egress entry ${JSON.stringify(raw)} ${result.problem}`);
  return result.entry.value;
}

/**
 * The kernel's view of a stored egress list: its addresses and CIDRs merged into
 * disjoint ranges. Names are left out: their addresses come from DNS answers (src/dns).
 */
export function egressRanges(entries: readonly string[]): Ipv4Range[] {
  const ranges: Ipv4Range[] = [];
  for (const raw of entries) {
    const result = classifyEgress(raw);
    if (!result.ok) throw new RangeError(`egress entry ${JSON.stringify(raw)} ${result.problem}`);

    const entry = result.entry;
    if (entry.kind === 'address') ranges.push([entry.address, entry.address]);
    if (entry.kind === 'cidr') ranges.push(cidrRange(entry.cidr));
  }
  return mergeRanges(ranges);
}

/** True when the stored list has names, whose addresses the daemon's DNS learns. */
export function hasEgressNames(entries: readonly string[]): boolean {
  return entries.some((raw) => {
    // Digits, dots and slashes alone are an address or a CIDR, or refused: never a name.
    if (ADDRESS_CHARS.test(raw)) return false;
    const result = classifyEgress(raw);
    return result.ok && result.entry.kind === 'name';
  });
}

function classifyCidr(raw: string): EgressResult {
  const parsed = parseCidr(raw);
  if (parsed.ok) return { ok: true, entry: { kind: 'cidr', value: raw, cidr: parsed.cidr } };
  if (parsed.reason === 'host_bits') {
    return refuse(`has host bits set; the network is ${parsed.network}`);
  }
  return refuse('is not an IPv4 CIDR like 203.0.113.0/24 (URLs and paths are not accepted)');
}

function classifyName(raw: string): EgressResult {
  // One trailing dot is the fully qualified form of the same name.
  const name = (raw.endsWith('.') ? raw.slice(0, -1) : raw).toLowerCase();

  if (DIGITS_AND_DOTS.test(name)) {
    return refuse('is not a valid IPv4 address (four decimal octets 0-255, no leading zeros)');
  }
  if (name.includes('*')) return refuse('is a wildcard; name each host instead');
  if (name.includes(':')) return refuse('must be a host name without scheme or port');
  if (name.length > MAX_NAME_LENGTH) {
    return refuse(`is longer than ${MAX_NAME_LENGTH} characters`);
  }

  const labels = name.split('.');
  if (labels.some((label) => !LABEL.test(label))) {
    return refuse(
      'is not a valid host name (labels of 1-63 letters, digits and inner hyphens, ' +
        'separated by dots)',
    );
  }
  // An all-numeric top label cannot be a host name (RFC 3696 section 2); "1.2.3.4.5" is a typo.
  if (/^[0-9]+$/.test(labels[labels.length - 1])) {
    return refuse('is neither a valid IPv4 address nor a host name');
  }
  return { ok: true, entry: { kind: 'name', value: name } };
}

function refuse(problem: string): EgressResult {
  return { ok: false, problem };
}
