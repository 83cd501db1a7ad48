/**
 * GET /healthz: ready once the kernel state matches the desired state (contract: Workspaces
 * on this host). Supervisors poll it, so a success is logged at debug only.
 */
import type { FastifyInstance } from 'fastify';
import type { Enforcer } from '../../enforce/types';
import type { WorkspaceRegistry } from '../../service/registry';
import { ApiError } from '../errors';

/** Registers GET /healthz. */
export function registerHealthRoutes(
  app: FastifyInstance,
  enforcer: Enforcer,
  registry: WorkspaceRegistry,
): void {
  app.get('/healthz', async (request) => {
    let healthy = false;
    try {
      healthy = await enforcer.healthy();
    } catch (err) {
      request.log.error({ err }, 'health check failed');
    }

    if (!healthy) {
      throw new ApiError(
        'not_ready',
        'the kernel state does not match the desired state yet; see the daemon log',
      );
    }
    return { success: true, status: 'ready', workspaces: registry.size };
  });
}
