/**
 * DNS rebinding: an answer for an allowed name that points at a place the egress list was
 * never meant to open. Such addresses are never learned (and are stripped from answers, see
 * README "Egress by hostname"): the reserved ranges, the workspace network, and the host's
 * own addresses.
 */
import { networkInterfaces } from 'node:os';
import { reservedRangeOf } from '../model/proxy';
import { parseIpv4, type Ipv4Range } from '../net/ipv4';

/** What the rebinding check needs of the host. */
export interface RebindingContext {
  /** the workspace network (config workspace_network) as a range */
  workspaceNet: Ipv4Range;
  /** the host's own IPv4 addresses, now */
  hostAddresses(): ReadonlySet<string>;
}

/** Why `addr` must not be opened for a workspace, or null when it is a public address. */
export function rebindingReason(addr: string, c: RebindingContext): string | null {
  const n = parseIpv4(addr);
  if (n === null) return 'not an IPv4 address';

  const range = reservedRangeOf(n);
  if (range !== null) return `in the reserved range ${range}`;
  if (n >= c.workspaceNet[0] && n <= c.workspaceNet[1]) return 'in the workspace network';
  if (c.hostAddresses().has(addr)) return "one of the host's own addresses";
  return null;
}

/**
 * The host's IPv4 addresses (getifaddrs in the daemon's network namespace), read again at
 * most every `maxAgeMs`: addresses come and go with taps and the outbound pool.
 */
export function hostAddressReader(maxAgeMs = 5000): () => ReadonlySet<string> {
  let cached: ReadonlySet<string> = new Set();
  let readAt = -Infinity;
  return () => {
    const now = performance.now();
    if (now - readAt < maxAgeMs) return cached;

    const addrs = Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .filter((a) => a.family === 'IPv4')
      .map((a) => a.address);
    cached = new Set(addrs);
    readAt = now;
    return cached;
  };
}
