/**
 * Applying a validated PATCH to a stored network policy (seed: Update network). The update
 * is partial: a field left out keeps its stored value.
 */
import type { NetworkPatch } from './schema';
import type { NetworkPolicy } from './types';

/**
 * The policy after `patch`. Lists are stored as given with duplicates dropped (the first
 * occurrence keeps its place). While allow_internet is false egress is always empty: the
 * seed says setting it to false clears egress, so entries sent in the same request, or
 * while the internet is already off, are dropped rather than kept for later.
 */
export function applyPatch(policy: NetworkPolicy, patch: NetworkPatch): NetworkPolicy {
  const next: NetworkPolicy = {
    ...policy,
    public_access: patch.public_access ?? policy.public_access,
    allow_internet: patch.allow_internet ?? policy.allow_internet,
    ingress_ports: unique(patch.ingress_ports ?? policy.ingress_ports),
    egress: unique(patch.egress ?? policy.egress),
    egress_ports: unique(patch.egress_ports ?? policy.egress_ports),
    private_link_ids: unique(patch.private_link_ids ?? policy.private_link_ids),
  };

  if (!next.allow_internet) next.egress = [];

  if (patch.outbound_mode === 'managed') {
    // Reverting to the pool IP forgets the proxy and its credentials.
    next.outbound_mode = 'managed';
    next.custom_proxy = null;
  } else if (patch.outbound_mode === 'custom' && patch.custom_proxy) {
    // The credentials go to the secret store, never into the stored policy.
    const { host, port, protocol, username } = patch.custom_proxy;
    next.outbound_mode = 'custom';
    next.custom_proxy = { host, port, protocol, has_credentials: username !== null };
  }
  return next;
}

/** `items` without repeats, in first-occurrence order. */
export function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
