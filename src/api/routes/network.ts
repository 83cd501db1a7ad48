/**
 * The seed's network endpoints (seed: Network). The dedicated outbound IP endpoints are
 * registered so that callers get a clear 501 rather than a 404 until that feature lands.
 */
import type { FastifyInstance } from 'fastify';
import { parseNetworkPatch, parseWorkspaceId } from '../../model/schema';
import type { WorkspaceRegistry } from '../../service/registry';
import { ApiError } from '../errors';

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

  app.post('/workspace/:id/network/ip', async () => notImplemented());
  app.delete('/workspace/:id/network/ip', async () => notImplemented());
  app.get('/zone/mine', async () => notImplemented());
}

function notImplemented(): never {
  throw new ApiError(
    'not_implemented',
    'dedicated outbound IPs (POST/DELETE /workspace/:id/network/ip, GET /zone/mine) are not ' +
      'available on this host yet',
  );
}
