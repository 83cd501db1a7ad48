/**
 * The POST /workspace/:id/network/ip body (seed: Apply outbound IP, Parameters):
 * `{ "ip": "<an address of GET /zone/mine>" }`. Parsed before anything else is read.
 */
import { ApiError } from '../api/errors';
import { show } from '../model/checks';

/** The requested address; throws invalid_body, unknown_field or ip_required. */
export function parseOutboundIpBody(body: unknown): string {
  // No body at all has no ip either: the seed's ip_required, not a malformed body.
  if (body === undefined || body === null) {
    throw new ApiError('ip_required', 'send { "ip": "<an address from GET /zone/mine>" }', {
      field: 'ip',
    });
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    const message = `body must be a JSON object { "ip": "..." }, got ${show(body)}`;
    throw new ApiError('invalid_body', message);
  }

  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => key !== 'ip');
  if (unknown !== undefined) {
    const message = `unknown field "${unknown}"; remove it or check its spelling`;
    throw new ApiError('unknown_field', message, { field: unknown });
  }

  const ip = fields.ip;
  if (ip === undefined || ip === null) {
    throw new ApiError('ip_required', 'ip is missing; pick one from GET /zone/mine', {
      field: 'ip',
    });
  }
  if (typeof ip !== 'string') {
    throw new ApiError('invalid_body', `ip must be a string, got ${show(ip)}`, { field: 'ip' });
  }
  return ip;
}
