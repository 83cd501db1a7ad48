/**
 * Users' own outbound proxies, for custom-mode tests: tinyproxy (HTTP CONNECT) with and
 * without basic authentication, and stunnel in front of it for an `https` proxy whose
 * certificate a lab CA file vouches for. They run in the internet namespace on one address.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as exec, type NetnsRun } from './netns';
import { waitReady, type ReadyCheck, type Server } from './servers';

/** A proxy as the API's `custom_proxy` names it. */
export interface LabProxy {
  host: string;
  port: number;
  protocol: 'http' | 'https';
  username: string | null;
  password: string | null;
}

/** The lab's proxies and the CA file that trusts the https one (config `proxy_ca_file`). */
export interface LabProxies {
  /** HTTP CONNECT proxy that demands `username`/`password` */
  http: LabProxy;
  /** HTTP CONNECT proxy that needs no credentials */
  open: LabProxy;
  /** TLS to the proxy, then the same authenticated CONNECT proxy */
  https: LabProxy;
  /** the self-signed certificate of the https proxy, in PEM */
  caFile: string;
}

/** Ports the proxies listen on. */
export const PROXY_PORTS = { http: 3128, https: 3129, open: 3130 } as const;
const USERNAME = 'labuser';
const PASSWORD = 'labpass';

function tinyproxyConfig(addr: string, port: number, auth: boolean): string {
  return [
    `Port ${port}`,
    `Listen ${addr}`,
    'Timeout 60',
    'MaxClients 50',
    'LogLevel Info',
    ...(auth ? [`BasicAuth ${USERNAME} ${PASSWORD}`] : []),
    '',
  ].join('\n');
}

function stunnelConfig(dir: string, addr: string): string {
  return [
    'foreground = yes',
    'pid =',
    '[proxy]',
    `accept = ${addr}:${PROXY_PORTS.https}`,
    `connect = ${addr}:${PROXY_PORTS.http}`,
    `cert = ${join(dir, 'cert.pem')}`,
    `key = ${join(dir, 'key.pem')}`,
    '',
  ].join('\n');
}

/** A certificate for the proxy's address and proxy.<zone>, valid for two days. */
async function makeCertificate(dir: string, addr: string, zone: string): Promise<void> {
  await exec('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
    '-subj', `/CN=proxy.${zone}`,
    '-addext', `subjectAltName=DNS:proxy.${zone},IP:${addr}`,
  ]);
}

function track(lab: NetnsRun, ns: string, what: string, argv: string[]): Server {
  const child = lab.spawn(ns, argv);
  let err = '';
  const keep = (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-4000);
  };
  // Both programs log to stdout in the foreground; keep either for failure messages.
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { ns, what, child, stderr: () => err };
}

/** Starts the proxies on `addr` in namespace `ns` and waits until they listen. */
export async function startProxies(
  lab: NetnsRun,
  ns: string,
  addr: string,
  zone: string,
): Promise<LabProxies> {
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-proxy-`));
  lab.atDestroy(() => rmSync(dir, { recursive: true, force: true }));
  await makeCertificate(dir, addr, zone);

  const files = {
    auth: join(dir, 'tinyproxy-auth.conf'),
    open: join(dir, 'tinyproxy-open.conf'),
    tls: join(dir, 'stunnel.conf'),
  };
  writeFileSync(files.auth, tinyproxyConfig(addr, PROXY_PORTS.http, true));
  writeFileSync(files.open, tinyproxyConfig(addr, PROXY_PORTS.open, false));
  writeFileSync(files.tls, stunnelConfig(dir, addr));

  const checks: ReadyCheck[] = [
    { server: track(lab, ns, 'tinyproxy auth', ['tinyproxy', '-d', '-c', files.auth]),
      proto: 'tcp', port: PROXY_PORTS.http, addr },
    { server: track(lab, ns, 'tinyproxy open', ['tinyproxy', '-d', '-c', files.open]),
      proto: 'tcp', port: PROXY_PORTS.open, addr },
    { server: track(lab, ns, 'stunnel', ['stunnel4', files.tls]),
      proto: 'tcp', port: PROXY_PORTS.https, addr },
  ];
  await waitReady(checks);

  const proxy = (protocol: 'http' | 'https', port: number, auth: boolean): LabProxy => ({
    host: addr,
    port,
    protocol,
    username: auth ? USERNAME : null,
    password: auth ? PASSWORD : null,
  });
  return {
    http: proxy('http', PROXY_PORTS.http, true),
    open: proxy('http', PROXY_PORTS.open, false),
    https: proxy('https', PROXY_PORTS.https, true),
    caFile: join(dir, 'cert.pem'),
  };
}
