/**
 * Every error code the API returns, with its HTTP status and a default message. A code means
 * one thing forever; the README documents each. Codes named in the seed keep its statuses.
 */
import { KernelError } from '../enforce/types';

/** The registry entry of one error code. */
export interface ErrorSpec {
  status: number;
  message: string;
}

/** The registry: code, HTTP status and the default message a person can act on. */
export const ERRORS = {
  // The request itself
  invalid_body: { status: 400, message: 'The body must be a JSON object.' },
  unknown_field: { status: 400, message: 'The body has a field the API does not know.' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json.' },
  payload_too_large: { status: 413, message: 'The body is larger than 64 KiB.' },
  not_found: { status: 404, message: 'No such route; see the API reference.' },
  invalid_url: {
    status: 400,
    message: 'The path is not a valid URL: check its percent-escapes and length.',
  },
  malformed_request: { status: 400, message: 'The request is not valid HTTP/1.1.' },
  method_not_allowed: { status: 405, message: 'This route does not accept that method.' },

  // Workspaces on this host
  invalid_workspace_id: {
    status: 400,
    message: 'A workspace id is "ws_" followed by 1 to 64 of A-Z, a-z, 0-9, "_" or "-".',
  },
  workspace_not_found: { status: 404, message: 'No workspace with that id on this host.' },
  invalid_ip: { status: 400, message: 'Give a dotted-decimal IPv4 address like 10.0.0.15.' },
  invalid_interface: {
    status: 400,
    message: 'interface is a Linux interface name of 1 to 15 characters, or null.',
  },
  invalid_plan: {
    status: 400,
    message: 'plan is one of "free", "hobby", "pro", "scale", "enterprise".',
  },
  interface_in_use: { status: 409, message: 'Another workspace on this host uses that tap.' },
  ip_in_use: { status: 409, message: 'Another workspace already has that ip.' },

  // Network policy (seed: Validation rules)
  invalid_port: { status: 400, message: 'Ports are integers from 1 to 65535.' },
  too_many_entries: { status: 400, message: 'A list holds at most 50 entries.' },
  invalid_egress: {
    status: 400,
    message: 'An egress entry is an IPv4 address, an IPv4 CIDR or a host name.',
  },

  // Custom outbound proxy (seed: Custom outbound proxy, Errors)
  plan_required: {
    status: 402,
    message: 'A custom outbound proxy needs the Scale or Enterprise plan.',
  },
  missing_custom_proxy: {
    status: 400,
    message: 'outbound_mode "custom" needs a custom_proxy object.',
  },
  invalid_outbound_mode: { status: 400, message: 'outbound_mode is "managed" or "custom".' },
  invalid_proxy_host: { status: 400, message: 'custom_proxy.host must be an IPv4 address.' },
  reserved_proxy_host: {
    status: 400,
    message: 'custom_proxy.host is in a reserved or private range; use a public address.',
  },
  invalid_proxy_port: {
    status: 400,
    message: 'custom_proxy.port must be an integer from 1 to 65535.',
  },
  invalid_proxy_protocol: { status: 400, message: 'custom_proxy.protocol is "http" or "https".' },
  invalid_proxy_credentials: {
    status: 400,
    message:
      'username and password go together and are printable ASCII without : @ / ? or spaces.',
  },
  preflight_protocol_mismatch: {
    status: 400,
    message: 'The proxy answered but does not speak the protocol given.',
  },
  preflight_auth_required: { status: 401, message: 'The proxy rejected the credentials.' },
  preflight_bad_status: { status: 502, message: 'The proxy refused the CONNECT preflight.' },
  preflight_unreachable: { status: 502, message: 'The proxy is unreachable from this host.' },
  preflight_timeout: { status: 504, message: 'The proxy did not answer the preflight in time.' },
  preflight_closed: {
    status: 502,
    message: 'The proxy closed the connection without answering.',
  },

  // Dedicated outbound IP (seed: Apply outbound IP, Errors)
  ip_required: { status: 400, message: 'The body needs an "ip" field.' },
  invalid_zone_ip: { status: 400, message: 'That IP is not in the pool; see GET /zone/mine.' },
  zone_missing_host: { status: 422, message: 'That zone has no next hop configured.' },
  pool_empty: { status: 503, message: 'The egress zone is temporarily unavailable.' },

  // The daemon itself
  not_ready: { status: 503, message: 'The kernel state does not match the desired state yet.' },
  kernel_refused: { status: 500, message: 'The kernel refused the change; nothing was changed.' },
  not_implemented: { status: 501, message: 'This feature is not available on this host yet.' },
  internal_error: { status: 500, message: 'Unexpected failure; the daemon log has details.' },
} as const satisfies Record<string, ErrorSpec>;

/** One of the API's error codes. */
export type ErrorCode = keyof typeof ERRORS;

/** The body of every failure response. */
export interface ErrorBody {
  success: false;
  error: ErrorCode;
  message: string;
}

/** An error the API reports as-is: a registered code, a message, and the field it is about. */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | undefined;

  /** @param message what went wrong and what to do; the code's default when omitted */
  constructor(
    readonly code: ErrorCode,
    message?: string,
    options?: { field?: string; cause?: unknown },
  ) {
    super(message ?? ERRORS[code].message, { cause: options?.cause });
    this.name = 'ApiError';
    this.status = ERRORS[code].status;
    this.field = options?.field;
  }

  /** The JSON body of the failure response. */
  toBody(): ErrorBody {
    return { success: false, error: this.code, message: this.message };
  }
}

/** The HTTP status of a code. */
export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

/**
 * Turns anything thrown while serving a request into an ApiError. A KernelError becomes
 * kernel_refused naming the operation and the kernel's reason (never rule contents, which
 * is where a secret could hide); anything unexpected becomes internal_error.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof KernelError) {
    const hint = err.hint ? ` (${err.hint})` : '';
    const message = `${err.message}${hint}; nothing was changed`;
    return new ApiError('kernel_refused', message, { cause: err });
  }
  return new ApiError('internal_error', undefined, { cause: err });
}
