/**
 * The request bodies the API accepts, as zod schemas. Parsing either returns normalized,
 * typed input or throws one ApiError naming the first bad field; nothing here looks at
 * the registry, so a body is refused before any state is read or changed.
 */
import { z } from 'zod';
import { ApiError } from '../api/errors';
import { parseIpv4 } from '../net/ipv4';
import type { Plan, ProxyRequest, Workspace } from './types';
import { classifyEgress } from './egress';
import { credentialsProblem, customProxySchema } from './proxy';
import { coded, fail, isIntegerIn, jsonBoolean, jsonObject, list, pass, show } from './checks';
import { parseOrThrow } from './checks';

/** The most entries a list field may hold (seed: Validation rules). */
export const MAX_LIST_ENTRIES = 50;

/** The plans, cheapest first. */
export const PLANS: readonly Plan[] = ['free', 'hobby', 'pro', 'scale', 'enterprise'];

/** A workspace id: "ws_" and 1 to 64 of [A-Za-z0-9_-]. */
export const WORKSPACE_ID = /^ws_[A-Za-z0-9_-]{1,64}$/;

// A Linux interface name: IFNAMSIZ is 16 with the NUL, and dev_valid_name() refuses
// "/", ":", whitespace, "." and "..". Control characters are refused here as well.
const INTERFACE_NAME = /^[\x21-\x7e]{1,15}$/;
const INTERFACE_FORBIDDEN = /[/:]/;

/** Longest name, image_logo or image_color accepted; they are labels for a dashboard. */
export const MAX_LABEL_LENGTH = 200;

/** The PUT /workspace/:id body, normalized: a workspace without its id and network. */
export type WorkspaceInput = Omit<Workspace, 'id' | 'network'>;

/** The PATCH /workspace/:id/network body, normalized: only the fields sent are present. */
export interface NetworkPatch {
  allow_internet?: boolean;
  public_access?: boolean;
  ingress_ports?: number[];
  egress?: string[];
  egress_ports?: number[];
  private_link_ids?: string[];
  outbound_mode?: 'managed' | 'custom';
  custom_proxy?: ProxyRequest;
}

/** True when `text` is a valid workspace id. */
export function isWorkspaceId(text: unknown): text is string {
  return typeof text === 'string' && WORKSPACE_ID.test(text);
}

/** Returns the id, or throws invalid_workspace_id. */
export function parseWorkspaceId(text: unknown): string {
  if (isWorkspaceId(text)) return text;
  throw new ApiError(
    'invalid_workspace_id',
    `workspace id ${show(text)} must be "ws_" followed by 1 to 64 of A-Z, a-z, 0-9, "_" or "-"`,
  );
}

/** True when `text` is a valid Linux interface name. */
export function isInterfaceName(text: unknown): text is string {
  return (
    typeof text === 'string' &&
    INTERFACE_NAME.test(text) &&
    !INTERFACE_FORBIDDEN.test(text) &&
    text !== '.' &&
    text !== '..'
  );
}

const ipv4 = coded('invalid_ip', (value) =>
  typeof value === 'string' && parseIpv4(value) !== null
    ? pass(value)
    : fail(`must be a dotted-decimal IPv4 address like 10.0.0.15, got ${show(value)}`),
);

const iface = coded('invalid_interface', (value) => {
  if (value === null || isInterfaceName(value)) return pass(value);
  return fail(
    'must be the tap device name (1-15 characters, no "/", ":" or whitespace), or null for ' +
      `a workspace on another host; got ${show(value)}`,
  );
});

const label = coded('invalid_body', (value) => {
  if (value === null) return pass(null);
  if (typeof value === 'string' && value.length <= MAX_LABEL_LENGTH && !/\p{Cc}/u.test(value)) {
    return pass(value);
  }
  return fail(`must be a string of at most ${MAX_LABEL_LENGTH} characters or null`);
});

const plan = coded('invalid_plan', (value) =>
  PLANS.includes(value as Plan)
    ? pass(value as Plan)
    : fail(`must be one of ${PLANS.map((p) => `"${p}"`).join(', ')}, got ${show(value)}`),
);

const workspaceSchema = jsonObject('{ ip, gateway, interface, ... }').pipe(
  z
    .object({
      ip: ipv4,
      gateway: ipv4,
      interface: iface,
      name: label.optional(),
      image_logo: label.optional(),
      image_color: label.optional(),
      plan: plan.optional(),
    })
    .strict(),
);

/** Parses a PUT /workspace/:id body, or throws the ApiError of its first bad field. */
export function parseWorkspaceInput(body: unknown): WorkspaceInput {
  const input = parseOrThrow(workspaceSchema, body);
  if (input.ip === input.gateway) {
    throw new ApiError('invalid_ip', `ip and gateway must differ, both are ${input.ip}`, {
      field: 'ip',
    });
  }
  return {
    ip: input.ip,
    gateway: input.gateway,
    interface: input.interface,
    name: input.name ?? null,
    image_logo: input.image_logo ?? null,
    image_color: input.image_color ?? null,
    plan: input.plan ?? 'free',
  };
}

const port = coded('invalid_port', (value) =>
  isIntegerIn(value, 1, 65535)
    ? pass(value)
    : fail(`must be an integer from 1 to 65535, got ${show(value)}`),
);

const egressEntry = coded('invalid_egress', (value) => {
  if (typeof value !== 'string') return fail(`must be a string, got ${show(value)}`);
  const result = classifyEgress(value);
  return result.ok ? pass(result.entry.value) : fail(`${show(value)} ${result.problem}`);
});

const linkId = coded('invalid_workspace_id', (value) =>
  isWorkspaceId(value)
    ? pass(value)
    : fail(`must be a workspace id ("ws_" and 1 to 64 of A-Za-z0-9_-), got ${show(value)}`),
);

const outboundMode = coded('invalid_outbound_mode', (value) =>
  value === 'managed' || value === 'custom'
    ? pass(value)
    : fail(`must be "managed" or "custom", got ${show(value)}`),
);

const patchSchema = jsonObject('with the fields to change').pipe(
  z
    .object({
      allow_internet: jsonBoolean.optional(),
      public_access: jsonBoolean.optional(),
      ingress_ports: list('invalid_port', port, MAX_LIST_ENTRIES).optional(),
      egress: list('invalid_egress', egressEntry, MAX_LIST_ENTRIES).optional(),
      egress_ports: list('invalid_port', port, MAX_LIST_ENTRIES).optional(),
      private_link_ids: list('invalid_workspace_id', linkId, MAX_LIST_ENTRIES).optional(),
      outbound_mode: outboundMode.optional(),
      custom_proxy: customProxySchema.optional(),
    })
    .strict(),
);

/**
 * Parses a PATCH /workspace/:id/network body, or throws the ApiError of its first bad
 * field. Only the fields sent are present in the result.
 */
export function parseNetworkPatch(body: unknown): NetworkPatch {
  const parsed = parseOrThrow(patchSchema, body);
  const patch: NetworkPatch = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value !== undefined) Object.assign(patch, { [key]: value });
  }

  // Relations between fields, checked once each field is known to be well formed.
  if (patch.outbound_mode === 'custom' && patch.custom_proxy === undefined) {
    throw new ApiError(
      'missing_custom_proxy',
      'outbound_mode "custom" needs a custom_proxy object { host, port, protocol? }',
      { field: 'custom_proxy' },
    );
  }
  if (patch.custom_proxy !== undefined && patch.outbound_mode !== 'custom') {
    throw new ApiError(
      'invalid_body',
      'custom_proxy is accepted only together with outbound_mode "custom"',
      { field: 'custom_proxy' },
    );
  }
  const credentials = patch.custom_proxy && credentialsProblem(patch.custom_proxy);
  if (credentials) {
    throw new ApiError('invalid_proxy_credentials', credentials, { field: 'custom_proxy' });
  }
  return patch;
}
