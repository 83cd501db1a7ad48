/**
 * Egress entries to kernel intervals. The kernel refuses overlapping intervals in a set
 * and would fail the whole transaction, so addresses and CIDRs are merged first.
 */

/** IPv4 entries of an egress list as merged [first, last] address pairs, sorted. */
export function mergeRanges(egress: string[]): [string, string][] {
  const ranges: [number, number][] = [];
  for (const entry of egress) {
    const r = toRange(entry);
    if (r) ranges.push(r);
  }
  ranges.sort((a, b) => a[0] - b[0]);

  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged.map(([a, b]) => [fromU32(a), fromU32(b)]);
}

/** An address or CIDR as its [first, last] address; null for a DNS name. */
export function toRange(entry: string): [number, number] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(entry);
  if (!m) return null;
  const addr = ((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0;
  const len = m[5] === undefined ? 32 : +m[5];
  const size = 2 ** (32 - len);
  return [addr, addr + size - 1];
}

/** A 32-bit number as a dotted quad. */
export function fromU32(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
