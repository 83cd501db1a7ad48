/**
 * Changes that only widen. Listing the host's conntrack table costs milliseconds however
 * few entries it holds (the kernel walks its whole hash), so a change that cannot end any
 * connection skips it. A change only widens when every connection the old policy admitted
 * (policy/connections: stillAllowed) is still admitted by the new one and still leaves
 * with the same address. The test is conservative: whatever it cannot prove says "list".
 */
import type { WorkspaceChange } from '../enforce/types';
import type { NetworkPolicy, Workspace } from '../model/types';
import { classifyEgress, egressRanges } from '../model/egress';
import { resolveLinks } from '../model/links';
import type { Ipv4Range } from '../net/ipv4';

/**
 * True when no change in the batch can end a connection: each keeps its workspace (same
 * id, address, gateway, tap and outbound route) and only widens its policy. `after` is the
 * registry the batch leads to; the one before it is `after` with each change's `prev`.
 */
export function onlyWidens(
  changes: readonly WorkspaceChange[],
  after: ReadonlyMap<string, Workspace>,
): boolean {
  // Only the changed workspaces differ, so `before` is a view, not a copy of thousands.
  const prevs = new Map(changes.flatMap(({ prev }) => (prev ? [[prev.id, prev]] : [])));
  const before = { get: (id: string) => (prevs.has(id) ? prevs.get(id) : after.get(id)) };

  return changes.every(({ prev, next }) => {
    if (!prev || !next || !sameWorkspace(prev, next)) return false;
    if (!sameOutbound(prev.network, next.network)) return false;
    if (!outboundWidens(prev.network, next.network)) return false;
    return inboundWidens(prev, next, before, after);
  });
}

/** The part of a registry snapshot that link resolution reads. */
type Registry = Pick<ReadonlyMap<string, Workspace>, 'get'>;

/** Same identity and placement: another address or tap ends connections by itself. */
function sameWorkspace(prev: Workspace, next: Workspace): boolean {
  return prev.id === next.id && prev.ip === next.ip && prev.gateway === next.gateway &&
    prev.interface === next.interface;
}

/**
 * Same way out: a new outbound address ends translated connections (outbound/connections),
 * and a proxied workspace's TCP goes to the relay, so any switch of either lists.
 */
function sameOutbound(a: NetworkPolicy, b: NetworkPolicy): boolean {
  const proxy = (p: NetworkPolicy) =>
    p.custom_proxy === null ? null : [p.custom_proxy.host, p.custom_proxy.port,
      p.custom_proxy.protocol, p.custom_proxy.has_credentials].join(' ');
  const proxied = (p: NetworkPolicy) =>
    p.allow_internet && p.outbound_mode === 'custom' && p.custom_proxy !== null;

  return a.outbound_mode === b.outbound_mode && a.outbound_ip === b.outbound_ip &&
    proxy(a) === proxy(b) && proxied(a) === proxied(b);
}

/** Everything `a` let the workspace send, `b` lets it send (stillAllowed's outbound). */
function outboundWidens(a: NetworkPolicy, b: NetworkPolicy): boolean {
  // Without the internet only the workspace network was open, and it always is.
  if (!a.allow_internet) return true;
  if (!b.allow_internet) return false;
  return egressWidens(a.egress, b.egress) && portsWiden(a.egress_ports, b.egress_ports);
}

/** An empty egress list admits every address; else each old range and name stays. */
function egressWidens(a: readonly string[], b: readonly string[]): boolean {
  if (b.length === 0) return true;
  if (a.length === 0) return false;

  // Names: the daemon's DNS opens addresses only for names on the list now.
  const kept = new Set(b);
  if (a.some((e) => isName(e) && !kept.has(e))) return false;
  const wide = egressRanges(b);
  return egressRanges(a).every((r) => wide.some((w) => covers(w, r)));
}

/** An empty port list admits every port and protocol; else each old port stays. */
function portsWiden(a: readonly number[], b: readonly number[]): boolean {
  if (b.length === 0) return true;
  if (a.length === 0) return false;
  return a.every((port) => b.includes(port));
}

/** Whoever reached the workspace before (host, linked workspaces) still may. */
function inboundWidens(
  prev: Workspace,
  next: Workspace,
  before: Registry,
  after: Registry,
): boolean {
  const a = prev.network;
  const b = next.network;
  if (a.public_access && !b.public_access) return false;
  if (!a.ingress_ports.every((port) => b.ingress_ports.includes(port))) return false;

  // Who counts as the host is every address no workspace holds: with every change keeping
  // its address (sameWorkspace) and `after` holding `next`, that set is the same.
  if (after.get(next.id) !== next) return false;
  const linked = new Set(resolveLinks(next, after).map((w) => w.ip));
  return resolveLinks(prev, before).every((w) => linked.has(w.ip));
}

function isName(entry: string): boolean {
  const result = classifyEgress(entry);
  return result.ok && result.entry.kind === 'name';
}

function covers([first, last]: Ipv4Range, [from, to]: Ipv4Range): boolean {
  return first <= from && to <= last;
}
