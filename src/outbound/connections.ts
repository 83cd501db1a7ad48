/**
 * Which open connections a change of outbound address ends. Conntrack keeps the address
 * a connection was translated to for its whole life, so after a workspace's zone changes
 * (or is released, or first applied) its internet connections would go on leaving with
 * the old address; ending them makes the next packet start over with the new one.
 */
import type { Zone } from '../config';
import type { WorkspaceChange } from '../enforce/types';
import type { CtTuple } from '../nft/types';
import { appliedZone } from './pool';

// Conntrack entries that can be deleted by tuple (native/conntrack.cc: HasPorts).
const PORTED = new Set([6, 17, 33, 132, 136]);

/**
 * True when `t` is a connection of the changed workspace that left with an address it
 * would no longer leave with: with a new zone, anything translated to another address;
 * back on the uplink, anything translated to the old zone's address.
 */
export function translatedAway(
  { prev, next }: WorkspaceChange,
  t: CtTuple,
  zones: readonly Zone[],
): boolean {
  if (!prev || !next || prev.ip !== next.ip || t.src !== next.ip) return false;
  if (!PORTED.has(t.proto) || t.replyDst === undefined || t.replyDst === t.src) return false;

  const before = appliedZone(prev, zones)?.ip ?? null;
  const after = appliedZone(next, zones)?.ip ?? null;
  if (before === after) return false;
  return after !== null ? t.replyDst !== after : t.replyDst === before;
}
