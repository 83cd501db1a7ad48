/**
 * The seed's network endpoints (seed: Network); the dedicated outbound IP ones are in
 * ./outbound-ip.
 */
import type { FastifyInstance } from 'fastify';
import { parseNetworkPatch, parseWorkspaceId } from '../../model/schema';
import type { WorkspaceRegistry } from '../../service/registry';
import { registerOutboundIpRoutes } from './outbound-ip';

interface IdParams {
  id: string;
}

/** Registers GET and PATCH /workspace/:id/network and the outbound IP routes. */
export function registerNetworkRoutes(app: FastifyInstance, registry: WorkspaceRegistry): void {
  app.get<{ Params: IdParams }>('/workspace/:id/network', async (request) => {
    const id = parseWorkspaceId(request.params.id);
    return registry.getNetwork(id);
  });

  app.patch<{ Params: IdParams }>('/workspace/:id/network', async (request) => {
    const id = parseWorkspaceId(request.params.id);
    const patch = parseNetworkPatch(request.body);
    return registry.patchNetwork(id, patch);
  });

  registerOutboundIpRoutes(app, registry);
}
