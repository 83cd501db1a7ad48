/**
 * Real servers for the lab, run with Debian's programs inside the lab's namespaces: TCP
 * listeners (socat) that answer every connection with the address of the peer they saw and
 * then echo, UDP listeners (python3) that answer every datagram with the peer's address,
 * and the host's DNS resolver (dnsmasq on 127.0.0.1, the daemon's upstream; the daemon itself
 * answers workspaces on their gateways). All are killed when the run ends.
 */
import type { ChildProcess } from 'node:child_process';
import type { NetnsRun } from './netns';
import { nsExec } from './netns';

/** TCP ports every internet server address listens on. */
export const INTERNET_TCP_PORTS = [80, 443, 8080] as const;
/** UDP ports every internet server address answers on. */
export const INTERNET_UDP_PORTS = [7, 5000] as const;
/** TCP ports of host services that no workspace may reach (besides DNS on its gateway). */
export const HOST_TCP_PORTS = [22, 8080] as const;
/** TCP ports a workspace listens on, for ingress tests (9990 is the runtime API port). */
export const WORKSPACE_TCP_PORTS = [80, 443, 3000, 8000, 9990] as const;
/** The DNS zone the lab's DNS server answers for. */
export const LAB_ZONE = 'lab.test';

/** One running server process. */
export interface Server {
  ns: string;
  what: string;
  child: ChildProcess;
  /** the tail of its stderr, for failure messages */
  stderr(): string;
}

const READY_TIMEOUT_MS = 5000;

function track(run: NetnsRun, ns: string, what: string, argv: string[]): Server {
  const child = run.spawn(ns, argv);
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-4000);
  });
  child.stdout?.resume();
  return { ns, what, child, stderr: () => err };
}

/** A TCP listener on `port` (all addresses of `ns`) that sends the peer address, then echoes. */
export function tcpPeerServer(run: NetnsRun, ns: string, port: number): Server {
  // The shell text is a constant: socat sets SOCAT_PEERADDR for each connection.
  return track(run, ns, `tcp ${port}`, [
    'socat',
    `TCP4-LISTEN:${port},fork,reuseaddr,backlog=128`,
    'SYSTEM:echo $SOCAT_PEERADDR; exec cat',
  ]);
}

/**
 * Answers every datagram with the sender's address, on each `addr:port` it is given. One
 * Python process serves them all; socat's forking UDP mode loses a datagram now and then.
 * Each socket binds its address, so that replies leave from the address that was asked.
 */
const UDP_PEER_SERVER = `
import selectors, socket, sys
sel = selectors.DefaultSelector()
for spec in sys.argv[1:]:
    addr, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        data, peer = key.fileobj.recvfrom(65535)
        key.fileobj.sendto((peer[0] + "\\n").encode(), peer)
`;

/** A UDP address and port to answer on. */
export interface UdpEndpoint {
  addr: string;
  port: number;
}

/** UDP listeners on every endpoint that answer each datagram with the sender's address. */
export function udpPeerServer(run: NetnsRun, ns: string, endpoints: UdpEndpoint[]): Server {
  const specs = endpoints.map((e) => `${e.addr}:${e.port}`);
  return track(run, ns, `udp ${specs.join(' ')}`, ['python3', '-c', UDP_PEER_SERVER, ...specs]);
}

/** Names the lab's DNS server knows, each mapped to an IPv4 address. */
export type DnsRecords = Record<string, string>;

/**
 * dnsmasq on `listen` addresses of `ns` (port 53, UDP and TCP), answering `records`
 * and, for any other name under the lab zone, `zoneAddr`. It never forwards a query.
 */
export function dnsServer(
  run: NetnsRun,
  ns: string,
  listen: string[],
  zoneAddr: string,
  records: DnsRecords,
): Server {
  const argv = [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--bind-interfaces',
    '--user=root',
    '--pid-file=',
    '--log-facility=-',
    `--address=/${LAB_ZONE}/${zoneAddr}`,
    ...listen.map((addr) => `--listen-address=${addr}`),
    ...Object.entries(records).map(([name, addr]) => `--host-record=${name},${addr}`),
  ];
  return track(run, ns, 'dns 53', argv);
}

/** What upstreamDns serves and where it writes. */
export interface UpstreamDnsOptions {
  /** the address it listens on (port 53, UDP and TCP), e.g. 127.0.0.2 */
  listen: string;
  /** an /etc/hosts-style file it answers from; rewrite it and send SIGHUP to change answers */
  hostsFile: string;
  /** where it logs every query it receives (--log-queries) */
  logFile: string;
  /** the TTL of every answer, in seconds */
  ttl: number;
  /** CNAME records, alias to target (the target must be in hostsFile) */
  cnames?: [string, string][];
}

/**
 * A second dnsmasq standing for the host's resolver in DNS tests: answers from a hosts file
 * it rereads on SIGHUP, with a short TTL, and logs each query so that a test can prove
 * which questions reached it. It never forwards.
 */
export function upstreamDns(run: NetnsRun, ns: string, o: UpstreamDnsOptions): Server {
  const argv = [
    'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    '--no-poll', '--bind-interfaces', '--user=root', '--pid-file=', '--log-queries',
    `--log-facility=${o.logFile}`, `--listen-address=${o.listen}`, `--addn-hosts=${o.hostsFile}`,
    `--local-ttl=${o.ttl}`, `--max-ttl=${o.ttl}`, '--cache-size=0',
    ...(o.cnames ?? []).map(([alias, target]) => `--cname=${alias},${target}`),
  ];
  return track(run, ns, `dns ${o.listen}:53`, argv);
}

/** Listening sockets of a namespace as "proto addr:port" strings. */
async function listening(ns: string): Promise<string[]> {
  const { stdout } = await nsExec(ns, ['ss', '-H', '-l', '-n', '-t', '-u']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 5)
    .map((f) => `${f[0]} ${f[4]}`);
}

/** What a server must show in `ss` to be ready: protocol and local port. */
export interface ReadyCheck {
  server: Server;
  proto: 'tcp' | 'udp';
  port: number;
  /** the local address it must be bound to, if one */
  addr?: string;
}

/** Waits until every server listens; throws naming the first that died or never listened. */
export async function waitReady(checks: ReadyCheck[], timeoutMs = READY_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let pending = checks;

  while (pending.length > 0) {
    const dead = pending.find((c) => c.server.child.exitCode !== null || c.server.child.killed);
    if (dead) throw serverError(dead.server, 'exited before it listened');
    if (Date.now() > deadline) throw serverError(pending[0].server, 'did not listen in time');

    const byNs = new Map<string, string[]>();
    for (const ns of new Set(pending.map((c) => c.server.ns))) byNs.set(ns, await listening(ns));
    pending = pending.filter((c) => !isListed(byNs.get(c.server.ns) ?? [], c));
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 50));
  }
}

function isListed(sockets: string[], check: ReadyCheck): boolean {
  const local = check.addr ? ` ${check.addr}:${check.port}` : `:${check.port}`;
  return sockets.some((s) => s.startsWith(check.proto) && s.endsWith(local));
}

function serverError(server: Server, what: string): Error {
  const tail = server.stderr().trim().split('\n').slice(-5).join(' | ');
  return new Error(`${server.what} server in ${server.ns} ${what}${tail ? `: ${tail}` : ''}`);
}

/** Starts the internet namespace's servers on its server addresses and waits for them. */
export async function startInternetServers(
  run: NetnsRun,
  ns: string,
  addrs: readonly string[],
): Promise<Server[]> {
  const checks: ReadyCheck[] = INTERNET_TCP_PORTS.map((port) => ({
    server: tcpPeerServer(run, ns, port),
    proto: 'tcp' as const,
    port,
  }));
  const endpoints = addrs.flatMap((addr) => INTERNET_UDP_PORTS.map((port) => ({ addr, port })));
  const udp = udpPeerServer(run, ns, endpoints);
  for (const { addr, port } of endpoints) checks.push({ server: udp, proto: 'udp', port, addr });
  await waitReady(checks);
  return checks.map((c) => c.server);
}

/**
 * Starts the host namespace's services: the host's DNS resolver on 127.0.0.1 only (the
 * daemon answers workspaces on their gateways and forwards to it), and TCP listeners on
 * HOST_TCP_PORTS that workspaces must not reach. `_gateways` are left to the daemon.
 */
export async function startHostServices(
  run: NetnsRun,
  ns: string,
  _gateways: string[],
  zoneAddr: string,
  records: DnsRecords,
): Promise<Server[]> {
  const dns = dnsServer(run, ns, ['127.0.0.1'], zoneAddr, records);
  const checks: ReadyCheck[] = [
    { server: dns, proto: 'udp', port: 53 },
    ...HOST_TCP_PORTS.map((port) => ({
      server: tcpPeerServer(run, ns, port),
      proto: 'tcp' as const,
      port,
    })),
  ];
  await waitReady(checks);
  return checks.map((c) => c.server);
}

/** Starts TCP listeners on WORKSPACE_TCP_PORTS inside a workspace namespace. */
export async function startWorkspaceServers(run: NetnsRun, ns: string): Promise<Server[]> {
  const checks = WORKSPACE_TCP_PORTS.map((port) => ({
    server: tcpPeerServer(run, ns, port),
    proto: 'tcp' as const,
    port,
  }));
  await waitReady(checks);
  return checks.map((c) => c.server);
}
