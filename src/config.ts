/**
 * The daemon's config file (contract: Config file): JSON, snake_case like the API. Every
 * key has a default, so an empty object, or no file at all, is the embedded default. A bad
 * file is refused with one line naming the key, so that the daemon can exit at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isIpv4, parseCidr } from './net/ipv4';
import type { Plan } from './model/types';
import { PLANS, isInterfaceName } from './model/schema';
import { parseUpstream } from './dns/upstream';

/** One dedicated outbound IP of the pool (seed: List available outbound IPs). */
export interface Zone {
  ip: string;
  country_code: string;
  /**
   * the IPv4 next hop through which traffic from this ip leaves; null lists the address
   * while it cannot be applied yet (seed: zone_missing_host)
   */
  host: string | null;
}

/** The daemon's configuration, every key present. */
export interface Config {
  socket: string;
  state_dir: string;
  table: string;
  uplink: string;
  /** taps are named with this prefix; traffic from an unregistered one is dropped */
  tap_prefix: string | null;
  workspace_network: string;
  runtime_api_port: number;
  relay_port: number;
  /** a relayed connection silent both ways this long is reset; 0: never */
  relay_idle_timeout_s: number;
  /** relayed connections open at once, all workspaces together; past it new ones are reset */
  relay_max_connections: number;
  preflight: { target: string; timeout_ms: number };
  /** the workspaces' DNS (README: Egress by hostname) */
  dns: DnsConfig;
  zones: Zone[];
  custom_proxy_plans: Plan[];
  /** null: trust the system's store only */
  proxy_ca_file: string | null;
  log_level: LogLevel;
  /**
   * hold the table with NFT_TABLE_F_OWNER and NFT_TABLE_F_PERSIST (Linux 6.9 or newer):
   * no other program can change it, and it outlives the daemon
   */
  table_owner: boolean;
}

/** The workspaces' DNS: where it forwards, and how long learned addresses outlive a TTL. */
export interface DnsConfig {
  /** "IPv4" or "IPv4:port" resolvers; null: the nameservers of /etc/resolv.conf */
  upstream: string[] | null;
  grace_s: number;
  /** how long each upstream gets to answer */
  timeout_ms: number;
}

/** pino's levels, for log_level. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** The embedded defaults, exactly the contract's table. */
export const DEFAULT_CONFIG: Readonly<Config> = {
  socket: '/run/workspace-netd/api.sock',
  state_dir: '/var/lib/workspace-netd',
  table: 'workspace_netd',
  uplink: 'eth0',
  tap_prefix: null,
  workspace_network: '10.0.0.0/8',
  runtime_api_port: 9990,
  relay_port: 15001,
  relay_idle_timeout_s: 3600,
  relay_max_connections: 4096,
  preflight: { target: 'oblien.com:443', timeout_ms: 5000 },
  dns: { upstream: null, grace_s: 60, timeout_ms: 2000 },
  zones: [],
  custom_proxy_plans: ['scale', 'enterprise'],
  proxy_ca_file: null,
  log_level: 'info',
  table_owner: true,
};

// nftables object names are at most NFT_NAME_MAXLEN - 1 = 255 bytes (linux nf_tables.h);
// the daemon derives chain names from it, so it is kept to a plain identifier.
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const HOST_PORT = /^([A-Za-z0-9.-]{1,253}):([1-9][0-9]{0,4})$/;

const absolutePath = text().refine((p) => path.isAbsolute(p), 'must be an absolute path');
const port = integer(1, 65535);
const ipv4 = text().refine(isIpv4, 'must be a dotted-decimal IPv4 address');

const zone = z
  .object(
    {
      ip: ipv4,
      country_code: text().regex(/^[A-Z]{2}$/, 'must be two capital letters (ISO 3166-1)'),
      // Null, not absent: a zone without its next hop is written down on purpose.
      host: ipv4.nullable(),
    },
    { invalid_type_error: 'must be an object { ip, country_code, host }' },
  )
  .strict();

const schema = z
  .object({
    socket: absolutePath.default(DEFAULT_CONFIG.socket),
    state_dir: absolutePath.default(DEFAULT_CONFIG.state_dir),
    table: text()
      .regex(TABLE_NAME, 'must be a letter then up to 63 letters, digits or "_"')
      .default(DEFAULT_CONFIG.table),
    uplink: text()
      .refine(isInterfaceName, 'must be a Linux interface name of 1 to 15 characters')
      .default(DEFAULT_CONFIG.uplink),
    tap_prefix: text()
      .regex(/^[A-Za-z0-9_.-]{1,14}$/, 'must be 1 to 14 letters, digits, "_", "." or "-"')
      .nullable()
      .default(DEFAULT_CONFIG.tap_prefix),
    workspace_network: text()
      .refine((cidr) => parseCidr(cidr).ok, 'must be an IPv4 CIDR without host bits')
      .default(DEFAULT_CONFIG.workspace_network),
    runtime_api_port: port.default(DEFAULT_CONFIG.runtime_api_port),
    relay_port: port.default(DEFAULT_CONFIG.relay_port),
    relay_idle_timeout_s: integer(0, 604800).default(DEFAULT_CONFIG.relay_idle_timeout_s),
    relay_max_connections: integer(1, 1000000).default(DEFAULT_CONFIG.relay_max_connections),
    preflight: z
      .object(
        {
          target: text()
            .refine(isHostPort, 'must be "host:port" with a port from 1 to 65535')
            .default(DEFAULT_CONFIG.preflight.target),
          timeout_ms: integer(1, 60000).default(DEFAULT_CONFIG.preflight.timeout_ms),
        },
        { invalid_type_error: 'must be an object { target, timeout_ms }' },
      )
      .strict()
      .default({}),
    dns: z
      .object(
        {
          upstream: z
            .array(
              text().refine((s) => parseUpstream(s) !== null, 'must be "IPv4" or "IPv4:port"'),
              { invalid_type_error: 'must be a list' },
            )
            .min(1, 'must name at least one resolver, or be null for /etc/resolv.conf')
            .max(8, 'must name at most 8 resolvers')
            .nullable()
            .default(null),
          grace_s: integer(0, 3600).default(DEFAULT_CONFIG.dns.grace_s),
          timeout_ms: integer(100, 30000).default(DEFAULT_CONFIG.dns.timeout_ms),
        },
        { invalid_type_error: 'must be an object { upstream, grace_s, timeout_ms }' },
      )
      .strict()
      .default({}),
    zones: z
      .array(zone, { invalid_type_error: 'must be a list' })
      .superRefine(refuseDuplicateZones)
      .default(() => []),
    custom_proxy_plans: z
      .array(oneOf(PLANS), { invalid_type_error: 'must be a list' })
      .default(() => [...DEFAULT_CONFIG.custom_proxy_plans]),
    proxy_ca_file: absolutePath
      .refine((file) => existsSync(file), 'names a file that does not exist')
      .nullable()
      .default(null),
    log_level: oneOf(LOG_LEVELS).default('info'),
    table_owner: z
      .boolean({ invalid_type_error: 'must be true or false' })
      .default(DEFAULT_CONFIG.table_owner),
  })
  .strict()
  // Interfaces named with tap_prefix are taps: an unregistered one is dropped, and the closed
  // table drops them all, so an uplink named so would cut the host off.
  .refine((c) => prefixedHostInterface(c) === null, (c) => ({
    path: ['tap_prefix'],
    message: `must not begin the name of ${prefixedHostInterface(c)}: it would be ` +
      'dropped as an unregistered tap',
  }));

/** The host interface tap_prefix would take for a tap: the uplink, or loopback. */
function prefixedHostInterface(c: { tap_prefix: string | null; uplink: string }) {
  const p = c.tap_prefix;
  if (p === null) return null;
  if (c.uplink.startsWith(p)) return `the uplink ("${c.uplink}")`;
  if ('lo'.startsWith(p)) return 'loopback ("lo")';
  return null;
}

/**
 * Loads the config file at `file`, or the embedded defaults when there is none. Throws an
 * Error whose message is one line naming the bad key.
 */
export function loadConfig(file?: string): Config {
  if (file === undefined) return parseConfig({});

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`, {
      cause: err,
    });
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`config: ${file} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseConfig(json);
}

/** Validates an already-parsed config object; throws one readable line naming the bad key. */
export function parseConfig(json: unknown): Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('config: the file must hold a JSON object');
  }

  const result = schema.safeParse(json);
  if (result.success) return result.data;
  throw new Error(describeIssue(result.error.issues[0]));
}

function describeIssue(issue: z.ZodIssue): string {
  const key = issue.path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');

  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const where = key ? `${key}.` : '';
    return `config: unknown key ${where}${issue.keys[0]}`;
  }
  return `config: ${key} ${issue.message}`;
}

function text() {
  return z.string({ invalid_type_error: 'must be a string', required_error: 'is required' });
}

function integer(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  const number = z.number({ invalid_type_error: message });
  return number.int(message).min(min, message).max(max, message);
}

function oneOf<T extends string>(values: readonly T[]) {
  const message = `must be one of ${values.map((v) => `"${v}"`).join(', ')}`;
  return z.enum(values as [T, ...T[]], { errorMap: () => ({ message }) });
}

function isHostPort(text: string): boolean {
  const match = HOST_PORT.exec(text);
  return match !== null && Number(match[2]) <= 65535;
}

function refuseDuplicateZones(zones: Zone[], ctx: z.RefinementCtx): void {
  zones.forEach((zone, i) => {
    const first = zones.findIndex((other) => other.ip === zone.ip);
    if (first !== i) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [i, 'ip'],
        message: `duplicates zones[${first}].ip`,
      });
    }
  });
}
