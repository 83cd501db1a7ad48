/**
 * Private links: a workspace's `private_link_ids` resolved against the registry. An ID
 * that does not resolve is left out, as the seed says ("only workspaces that successfully
 * resolve to an IP are linked").
 */
import type { Workspace } from './types';

/** The linked workspaces that resolve, in the order the user gave them. */
export function resolveLinks(
  ws: Workspace,
  registry: Pick<ReadonlyMap<string, Workspace>, 'get'>,
): Workspace[] {
  const out: Workspace[] = [];
  for (const id of ws.network.private_link_ids) {
    const linked = registry.get(id);
    if (linked && linked.id !== ws.id) out.push(linked);
  }
  return out;
}
