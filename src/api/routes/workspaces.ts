/**
 * The control plane's side of the API: which workspaces live on this host (contract:
 * Workspaces on this host).
 */
import type { FastifyInstance } from 'fastify';
import { parseWorkspaceId, parseWorkspaceInput } from '../../model/schema';
import type { Workspace } from '../../model/types';
import type { WorkspaceRegistry } from '../../service/registry';

interface IdParams {
  id: string;
}

/** Registers PUT /workspace/:id, DELETE /workspace/:id and GET /workspaces. */
export function registerWorkspaceRoutes(app: FastifyInstance, registry: WorkspaceRegistry): void {
  app.put<{ Params: IdParams }>('/workspace/:id', async (request, reply) => {
    const id = parseWorkspaceId(request.params.id);
    const input = parseWorkspaceInput(request.body);

    const { created, workspace } = await registry.put(id, input);
    reply.code(created ? 201 : 200);
    return { success: true, created, ...describe(workspace) };
  });

  app.delete<{ Params: IdParams }>('/workspace/:id', async (request) => {
    const id = parseWorkspaceId(request.params.id);
    await registry.delete(id);
    return { success: true, id };
  });

  app.get('/workspaces', async () => ({ success: true, workspaces: registry.list() }));
}

/** The workspace as PUT stored it, without its network (which GET /network shows). */
function describe(workspace: Workspace) {
  return {
    id: workspace.id,
    ip: workspace.ip,
    gateway: workspace.gateway,
    interface: workspace.interface,
    name: workspace.name,
    image_logo: workspace.image_logo,
    image_color: workspace.image_color,
    plan: workspace.plan,
  };
}
