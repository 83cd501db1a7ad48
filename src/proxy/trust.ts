/**
 * The certificates an `https` proxy may present: the system's trust store plus the
 * config's `proxy_ca_file`. Passing `ca` to node's TLS replaces its default store, so the
 * list is built whole here, once, at start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Debian's (and most distributions') bundle of the system store, update-ca-certificates. */
export const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The trusted certificates in PEM: the system bundle (node's built-in store where the host
 * has none) followed by every certificate of `caFile`. Throws when `caFile` holds none.
 */
export function loadTrust(caFile: string | null, bundle = SYSTEM_BUNDLE): string[] {
  const system = existsSync(bundle) ? splitPem(readFileSync(bundle, 'utf8')) : [];
  const trusted = system.length > 0 ? system : [...rootCertificates];
  if (caFile === null) return trusted;

  const extra = splitPem(readFileSync(caFile, 'utf8'));
  if (extra.length === 0) throw new Error(`config: proxy_ca_file ${caFile} holds no certificate`);
  return [...trusted, ...extra];
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates of a file, each with its armour lines. */
export function splitPem(text: string): string[] {
  return text.match(PEM) ?? [];
}
