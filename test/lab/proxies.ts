/**
 * Users' own outbound proxies, for custom-mode tests, in a namespace of their own behind
 * the internet namespace: tinyproxy (HTTP CONNECT) with and without basic authentication
 * and with CONNECT limited to some ports, stunnel in front of tinyproxy for an `https`
 * proxy whose certificate a lab CA file vouches for, squid, and small misbehaving proxies
 * (bad-proxy.js) for each preflight verdict.
 *
 * The address, 11.0.0.10, is outside the 16 ranges a proxy host may not be in, since the
 * daemon refuses those; the lab's other addresses (198.18/15) are reserved. It exists only
 * inside this run's namespaces, which have no link to the machine's own namespace, so no
 * packet to it can leave the lab; the proxies' namespace resolves names through 127.0.0.1,
 * where nothing answers, so they ask no real DNS server either.
 *
 *   inet ns  pxy0 11.0.0.1/24 ──── eth0 11.0.0.10/24  proxy ns (default via 11.0.0.1)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addAddr, addRoute, addVeth, nsExec, run as exec, sysctl, type NetnsRun } from './netns';
import { waitReady, type ReadyCheck, type Server } from './servers';

/** A proxy as the API's `custom_proxy` names it. */
export interface LabProxy {
  host: string;
  port: number;
  protocol: 'http' | 'https';
  username: string | null;
  password: string | null;
}

/** Misbehaving proxies of bad-proxy.js, by what they do. */
export const BAD_PORTS = {
  /** 200 in pieces, with an odd reason phrase and HTTP/1.0 */
  okInPieces: 4001,
  /** 407 with a body */
  auth407: 4002,
  /** 403 */
  forbidden: 4003,
  /** closes as soon as the request arrived */
  closes: 4004,
  /** never answers */
  silent: 4005,
  /** answers like an SSH server */
  garbage: 4006,
  /** half a status line, then closes */
  halfLine: 4007,
  /** its SYNs are dropped (an nft rule in the proxy namespace) */
  dropped: 4008,
  /** a faithful tunnel that passes each direction's FIN on its own */
  halfClose: 4010,
  /** nothing listens: the SYN is answered with a reset */
  closed: 4009,
} as const;

/** The lab's proxies and the CA file that trusts the https one (config `proxy_ca_file`). */
export interface LabProxies {
  /** the proxies' namespace and address */
  ns: string;
  addr: string;
  /** HTTP CONNECT proxy that demands `username`/`password` */
  http: LabProxy;
  /** HTTP CONNECT proxy that needs no credentials */
  open: LabProxy;
  /** TLS to the proxy, then the same authenticated CONNECT proxy */
  https: LabProxy;
  /** squid, no credentials */
  squid: LabProxy;
  /** tinyproxy that allows CONNECT to port 443 only */
  only443: LabProxy;
  /** tinyproxy that allows CONNECT to port 563 only: it refuses 443 with 403 */
  refusing: LabProxy;
  /** the self-signed certificate of the https proxy, in PEM */
  caFile: string;
  /** a proxy entry for one of BAD_PORTS */
  bad(port: number, protocol?: 'http' | 'https'): LabProxy;
}

/** The proxies' address, and the internet namespace's side of their link. */
export const PROXY_ADDR = '11.0.0.10';
const PROXY_GATEWAY = '11.0.0.1';

/** Ports the proxies listen on. */
export const PROXY_PORTS = {
  http: 3128, https: 3129, open: 3130, squid: 3131, only443: 3132, refusing: 3133,
} as const;
const USERNAME = 'labuser';
const PASSWORD = 'labpass';

function tinyproxyConfig(addr: string, port: number, extra: string[]): string {
  return [`Port ${port}`, `Listen ${addr}`, 'Timeout 60', 'MaxClients 50', 'LogLevel Info',
    ...extra, ''].join('\n');
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

function squidConfig(dir: string, addr: string): string {
  return [
    `http_port ${addr}:${PROXY_PORTS.squid}`,
    'http_access allow all',
    'cache deny all',
    'cache_mem 8 MB',
    `pid_filename ${join(dir, 'squid.pid')}`,
    `cache_log ${join(dir, 'squid-cache.log')}`,
    'access_log none',
    `coredump_dir ${dir}`,
    'visible_hostname lab-squid',
    'dns_nameservers 127.0.0.1',
    'shutdown_lifetime 1 second',
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
  // These programs log to stdout in the foreground; keep either for failure messages.
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { ns, what, child, stderr: () => err };
}

/** Creates the proxies' namespace behind `internet` and routes it. */
async function wire(lab: NetnsRun, internet: string): Promise<string> {
  const ns = await lab.addNetns('proxy');
  await addVeth(internet, 'pxy0', ns, 'eth0');
  await addAddr(internet, 'pxy0', `${PROXY_GATEWAY}/24`);
  await addAddr(ns, 'eth0', `${PROXY_ADDR}/24`);
  await addRoute(ns, 'default', PROXY_GATEWAY);
  // The internet namespace now routes between the host's uplink and the proxies.
  await sysctl(internet, 'net.ipv4.ip_forward', 1);
  lab.setResolvConf(ns, '127.0.0.1');

  // A port whose SYNs vanish, for the preflight's timeout.
  const rules = 'table inet lab { chain input { type filter hook input priority 0; ' +
    `tcp dport ${BAD_PORTS.dropped} drop; }; }`;
  await nsExec(ns, ['nft', rules]);
  return ns;
}

/** Starts the proxies in their own namespace behind `internet`, waits until they listen. */
export async function startProxies(
  lab: NetnsRun,
  internet: string,
  zone: string,
): Promise<LabProxies> {
  const ns = await wire(lab, internet);
  const addr = PROXY_ADDR;
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-proxy-`));
  // squid drops to its own user, which must write its log here.
  chmodSync(dir, 0o777);
  lab.atDestroy(() => rmSync(dir, { recursive: true, force: true }));
  await makeCertificate(dir, addr, zone);

  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const tiny = (what: string, port: number, extra: string[]): ReadyCheck => ({
    server: track(lab, ns, what, ['tinyproxy', '-d', '-c',
      file(`tinyproxy-${port}.conf`, tinyproxyConfig(addr, port, extra))]),
    proto: 'tcp', port, addr,
  });

  const badScript = join(__dirname, 'bad-proxy.js');
  const checks: ReadyCheck[] = [
    tiny('tinyproxy auth', PROXY_PORTS.http, [`BasicAuth ${USERNAME} ${PASSWORD}`]),
    tiny('tinyproxy open', PROXY_PORTS.open, []),
    tiny('tinyproxy 443 only', PROXY_PORTS.only443, ['ConnectPort 443']),
    tiny('tinyproxy 563 only', PROXY_PORTS.refusing, ['ConnectPort 563']),
    { server: track(lab, ns, 'stunnel', ['stunnel4', file('stunnel.conf', stunnelConfig(dir,
      addr))]), proto: 'tcp', port: PROXY_PORTS.https, addr },
    { server: track(lab, ns, 'squid', ['squid', '-N', '-f', file('squid.conf',
      squidConfig(dir, addr))]), proto: 'tcp', port: PROXY_PORTS.squid, addr },
  ];
  const bad = track(lab, ns, 'bad proxies', [process.execPath, badScript, addr]);
  for (const port of Object.values(BAD_PORTS)) {
    if (port !== BAD_PORTS.closed) checks.push({ server: bad, proto: 'tcp', port, addr });
  }
  await waitReady(checks, 15_000);

  const proxy = (port: number, auth = false, protocol: 'http' | 'https' = 'http'): LabProxy => ({
    host: addr,
    port,
    protocol,
    username: auth ? USERNAME : null,
    password: auth ? PASSWORD : null,
  });
  return {
    ns,
    addr,
    http: proxy(PROXY_PORTS.http, true),
    open: proxy(PROXY_PORTS.open),
    https: proxy(PROXY_PORTS.https, true, 'https'),
    squid: proxy(PROXY_PORTS.squid),
    only443: proxy(PROXY_PORTS.only443),
    refusing: proxy(PROXY_PORTS.refusing),
    caFile: join(dir, 'cert.pem'),
    bad: (port, protocol = 'http') => proxy(port, false, protocol),
  };
}
