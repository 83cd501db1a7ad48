/**
 * The structural validation of a user's custom outbound proxy, with the seed's error codes
 * (seed: Custom outbound proxy, Parameters and Errors). The live preflight is separate.
 */
import { z } from 'zod';
import { type Cidr, cidrContains, parseCidr, parseIpv4 } from '../net/ipv4';
import type { ProxyRequest } from './types';
import { type Checked, coded, fail, isIntegerIn, jsonObject, pass, show } from './checks';

/**
 * The 16 reserved IPv4 ranges a proxy host may not be in (seed: Security notes). They are
 * this host, its private networks and addresses that never route on the internet; a proxy
 * there would let a workspace reach what its policy hides.
 */
export const RESERVED_PROXY_RANGES: readonly string[] = [
  '0.0.0.0/8', // "this network" (RFC 791)
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // carrier-grade NAT (RFC 6598)
  '127.0.0.0/8', // loopback (RFC 1122)
  '169.254.0.0/16', // link-local (RFC 3927)
  '172.16.0.0/12', // private (RFC 1918)
  '192.0.0.0/24', // IETF protocol assignments (RFC 6890)
  '192.0.2.0/24', // TEST-NET-1 (RFC 5737)
  '192.88.99.0/24', // 6to4 relay anycast (RFC 7526)
  '192.168.0.0/16', // private (RFC 1918)
  '198.18.0.0/15', // benchmarking (RFC 2544)
  '198.51.100.0/24', // TEST-NET-2 (RFC 5737)
  '203.0.113.0/24', // TEST-NET-3 (RFC 5737)
  '224.0.0.0/4', // multicast (RFC 5771)
  '240.0.0.0/4', // reserved (RFC 1112)
  '255.255.255.255/32', // limited broadcast (RFC 919)
];

const RESERVED: readonly { text: string; cidr: Cidr }[] = RESERVED_PROXY_RANGES.map((text) => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`bad reserved range ${text}`);
  return { text, cidr: parsed.cidr };
});

/** Longest username or password accepted; proxies rarely take more. */
export const MAX_CREDENTIAL_LENGTH = 255;

// Printable ASCII minus the characters that have meaning in a proxy URL or header, and space.
const CREDENTIAL = /^[\x21-\x7e]+$/;
const CREDENTIAL_FORBIDDEN = /[:@/?]/;

/**
 * The reserved range (as CIDR text) that holds `address`, or null if it is public. The
 * most specific one is named: 255.255.255.255 is the broadcast address before it is 240/4.
 */
export function reservedRangeOf(address: number): string | null {
  const holding = RESERVED.filter((range) => cidrContains(range.cidr, address));
  holding.sort((a, b) => b.cidr.prefix - a.cidr.prefix);
  return holding[0]?.text ?? null;
}

function checkHost(value: unknown): Checked<string> {
  const address = typeof value === 'string' ? parseIpv4(value) : null;
  if (address === null) {
    const got = show(value);
    return fail(`must be an IPv4 address like 93.184.216.34 (resolve names first), got ${got}`);
  }

  const range = reservedRangeOf(address);
  if (range !== null) {
    const message = `${value} is in the reserved range ${range}; use a public address`;
    return fail(message, 'reserved_proxy_host');
  }
  return pass(value as string);
}

function checkPort(value: unknown): Checked<number> {
  return isIntegerIn(value, 1, 65535)
    ? pass(value)
    : fail(`must be an integer from 1 to 65535, got ${show(value)}`);
}

function checkProtocol(value: unknown): Checked<'http' | 'https'> {
  return value === 'http' || value === 'https'
    ? pass(value)
    : fail(`must be "http" or "https", got ${show(value)}`);
}

// The value is never echoed: a refused credential may still be a real secret.
function checkCredential(value: unknown): Checked<string | null> {
  if (value === null) return pass(null);
  if (typeof value !== 'string') return fail('must be a string');
  if (value.length === 0) return fail('must not be empty; leave the field out for no credentials');
  if (value.length > MAX_CREDENTIAL_LENGTH) {
    return fail(`must be at most ${MAX_CREDENTIAL_LENGTH} characters`);
  }
  if (!CREDENTIAL.test(value) || CREDENTIAL_FORBIDDEN.test(value)) {
    return fail('must be printable ASCII without : @ / ? or whitespace');
  }
  return pass(value);
}

const SHAPE = '{ host, port, protocol?, username?, password? }';
const credential = coded('invalid_proxy_credentials', checkCredential);

/** The custom_proxy object: { host, port, protocol?, username?, password? }. */
export const customProxySchema = jsonObject(SHAPE, 'missing_custom_proxy')
  .pipe(
    z
      .object({
        host: coded('invalid_proxy_host', checkHost),
        port: coded('invalid_proxy_port', checkPort),
        protocol: coded('invalid_proxy_protocol', checkProtocol).optional(),
        username: credential.optional(),
        password: credential.optional(),
      })
      .strict(),
  )
  .transform(
    (proxy): ProxyRequest => ({
      host: proxy.host,
      port: proxy.port,
      protocol: proxy.protocol ?? 'http',
      username: proxy.username ?? null,
      password: proxy.password ?? null,
    }),
  );

/** Why a structurally valid proxy's credentials do not pair up, or null when they do. */
export function credentialsProblem(proxy: ProxyRequest): string | null {
  if (proxy.username !== null && proxy.password === null) {
    return 'custom_proxy.username is set without custom_proxy.password; send both or neither';
  }
  if (proxy.username === null && proxy.password !== null) {
    return 'custom_proxy.password is set without custom_proxy.username; send both or neither';
  }
  return null;
}
