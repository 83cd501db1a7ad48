/**
 * Which open connections a policy still allows. The kernel accepts established
 * connections early (the forward chain's first rule), so a policy that tightens must also
 * end the connections it no longer allows; this decides which, the same way the
 * workspace's chains decide for a new connection.
 */
import type { CtTuple } from '../nft/types';
import type { Workspace } from '../model/types';
import { egressRanges } from '../model/egress';
import { parseIpv4, type Ipv4Range } from '../net/ipv4';
import { resolveLinks } from '../model/links';
import { IPPROTO_TCP, IPPROTO_UDP } from '../compile/expr';

/** The host facts the decision needs. */
export interface ConnectionContext {
  workspaceNet: Ipv4Range;
  runtimeApiPort: number;
  registry: ReadonlyMap<string, Workspace>;
  /** true while the daemon's DNS has `addr` open for a name on `ws`'s egress list */
  learned?: (ws: Workspace, addr: string) => boolean;
}

/** True when `ws`'s current policy would admit `t` (its original direction) as new. */
export function stillAllowed(ws: Workspace, t: CtTuple, c: ConnectionContext): boolean {
  if (t.src === ws.ip) return outboundAllowed(ws, t, c);
  if (t.dst === ws.ip) return inboundAllowed(ws, t, c);
  return true;
}

function outboundAllowed(ws: Workspace, t: CtTuple, c: ConnectionContext): boolean {
  const p = ws.network;
  const portful = t.proto === IPPROTO_TCP || t.proto === IPPROTO_UDP;
  if (t.dst === ws.gateway) return p.allow_internet && portful && t.dport === 53;
  if (within(t.dst, c.workspaceNet)) return true;
  if (!p.allow_internet) return false;

  if (p.egress.length > 0) {
    const listed = egressRanges(p.egress).some((r) => within(t.dst, r));
    if (!listed && !c.learned?.(ws, t.dst)) return false;
  }
  if (p.egress_ports.length > 0) return portful && p.egress_ports.includes(t.dport);
  return true;
}

function inboundAllowed(ws: Workspace, t: CtTuple, c: ConnectionContext): boolean {
  const p = ws.network;
  const portful = t.proto === IPPROTO_TCP || t.proto === IPPROTO_UDP;
  const linked = resolveLinks(ws, c.registry).some((l) => l.ip === t.src);
  if (linked) {
    if (t.proto === IPPROTO_TCP && t.dport === c.runtimeApiPort) return true;
    return portful && p.ingress_ports.includes(t.dport);
  }
  // A workspace that is no longer linked is not the host, even on a public port: only
  // its link ever let it in (the host rule admits packets with no input interface).
  if (workspaceAddresses(c.registry).has(t.src)) return false;

  // Anything else that reached the workspace came from the host.
  return p.public_access && portful && p.ingress_ports.includes(t.dport);
}

const addressCache = new WeakMap<ReadonlyMap<string, Workspace>, Set<string>>();

/** The addresses of every known workspace, computed once per registry snapshot. */
function workspaceAddresses(registry: ReadonlyMap<string, Workspace>): Set<string> {
  let addresses = addressCache.get(registry);
  if (!addresses) {
    addresses = new Set([...registry.values()].map((w) => w.ip));
    addressCache.set(registry, addresses);
  }
  return addresses;
}

function within(addr: string, [first, last]: Ipv4Range): boolean {
  const n = parseIpv4(addr);
  return n !== null && n >= first && n <= last;
}
