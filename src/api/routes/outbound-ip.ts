/**
 * The dedicated outbound IP endpoints (seed: List available outbound IPs, Apply outbound
 * IP; contract: DELETE releases). A request is checked in this order, and each refusal
 * changes nothing: the workspace id, the body (invalid_body, unknown_field, ip_required),
 * the pool (pool_empty, invalid_zone_ip, zone_missing_host), then the workspace itself
 * (workspace_not_found). Several workspaces may share one pool address: it is the zone's
 * egress, not a workspace's identity.
 */
import type { FastifyInstance } from 'fastify';
import { parseWorkspaceId } from '../../model/schema';
import { parseOutboundIpBody } from '../../outbound/request';
import type { WorkspaceRegistry } from '../../service/registry';

interface IdParams {
  id: string;
}

/** Registers GET /zone/mine and POST and DELETE /workspace/:id/network/ip. */
export function registerOutboundIpRoutes(app: FastifyInstance, registry: WorkspaceRegistry) {
  app.get('/zone/mine', async () => ({ success: true, proxies: registry.pool.list() }));

  app.post<{ Params: IdParams }>('/workspace/:id/network/ip', async (request) => {
    const id = parseWorkspaceId(request.params.id);
    const zone = registry.pool.pick(parseOutboundIpBody(request.body));
    await registry.setOutboundIp(id, zone.ip);
    return { success: true, ip: zone.ip, country_code: zone.country_code };
  });

  // Idempotent: releasing what is not held answers `released: null` and changes nothing.
  app.delete<{ Params: IdParams }>('/workspace/:id/network/ip', async (request) => {
    const id = parseWorkspaceId(request.params.id);
    const released = await registry.setOutboundIp(id, null);
    return { success: true, released };
  });
}
