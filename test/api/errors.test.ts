import t from 'tap';
import { ApiError, ERRORS, statusOf, toApiError } from '../../src/api/errors';
import { KernelError } from '../../src/enforce/types';

t.test('the seed codes keep the seed statuses', async (t) => {
  const seed: Record<string, number> = {
    plan_required: 402, missing_custom_proxy: 400, invalid_outbound_mode: 400,
    invalid_proxy_host: 400, reserved_proxy_host: 400, invalid_proxy_port: 400,
    invalid_proxy_protocol: 400, invalid_proxy_credentials: 400,
    preflight_protocol_mismatch: 400, preflight_auth_required: 401, preflight_bad_status: 502,
    preflight_unreachable: 502, preflight_timeout: 504, preflight_closed: 502,
    ip_required: 400, invalid_zone_ip: 400, zone_missing_host: 422, pool_empty: 503,
  };
  for (const [code, status] of Object.entries(seed)) {
    t.equal(statusOf(code as keyof typeof ERRORS), status, code);
  }
});

t.test('the daemon codes have their statuses', async (t) => {
  const own: Record<string, number> = {
    invalid_workspace_id: 400, workspace_not_found: 404, invalid_body: 400, unknown_field: 400,
    invalid_ip: 400, invalid_interface: 400, invalid_plan: 400, invalid_port: 400,
    too_many_entries: 400, invalid_egress: 400, interface_in_use: 409, ip_in_use: 409,
    not_found: 404, method_not_allowed: 405, unsupported_media_type: 415,
    payload_too_large: 413, kernel_refused: 500, internal_error: 500, not_implemented: 501,
    not_ready: 503, invalid_url: 400, malformed_request: 400,
  };
  for (const [code, status] of Object.entries(own)) {
    t.equal(statusOf(code as keyof typeof ERRORS), status, code);
  }
});

t.test('every code has a message a person can act on', async (t) => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    t.match(spec.message, /^[A-Za-z"].{10,}\.$/, code);
    t.ok(spec.status >= 400 && spec.status < 600, code);
  }
});

t.test('ApiError carries code, status, message, field and cause', async (t) => {
  const cause = new Error('inner');
  const err = new ApiError('invalid_port', 'ingress_ports[0] must be ...', {
    field: 'ingress_ports[0]',
    cause,
  });
  t.equal(err.status, 400);
  t.equal(err.field, 'ingress_ports[0]');
  t.equal(err.cause, cause);
  t.strictSame(err.toBody(), {
    success: false,
    error: 'invalid_port',
    message: 'ingress_ports[0] must be ...',
  });
  t.equal(new ApiError('ip_in_use').message, ERRORS.ip_in_use.message, 'default message');
});

t.test('toApiError maps kernel errors and hides unexpected ones', async (t) => {
  const kernel = new KernelError('add rule ws_a_out', 'ws_a', 22, 'Invalid argument', 'a hint');
  const mapped = toApiError(kernel);
  t.equal(mapped.code, 'kernel_refused');
  t.equal(mapped.status, 500);
  t.equal(mapped.message,
    'kernel refused add rule ws_a_out for ws_a: Invalid argument (a hint); nothing was changed');
  t.equal(mapped.cause, kernel, 'the cause is kept');

  const api = new ApiError('ip_in_use');
  t.equal(toApiError(api), api);

  const other = toApiError(new TypeError('x is undefined'));
  t.equal(other.code, 'internal_error');
  t.notMatch(other.message, /undefined/);
});
