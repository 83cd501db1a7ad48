/**
 * The lab: a hypervisor host, its workspaces and "the internet", each a network namespace
 * of one run. The host namespace forwards and runs the daemon; each workspace hangs off it
 * by a veth pair whose host end stands for the workspace's tap; the internet namespace
 * hangs off the host's uplink and holds the servers. The internet has no route back to the
 * workspace network, so only masquerade on the uplink brings replies home.
 *
 *   ws ns  eth0 10.0.N.2/24 ──── t-<id> 10.0.N.1/24   host ns   up0 198.18.0.2/24
 *                                                         (pool 198.18.0.50, .51) │
 *           servers 198.18.{1,2,3}.10 on lo                     wan0 198.18.0.1/24  inet ns
 *           users' proxies 11.0.0.10 in their own ns (proxies.ts)    (and .254)
 */
import { Daemon, startDaemon } from './daemon';
import { addAddr, addRoute, addVeth, ip, NetnsRun, nsExec, sysctl } from './netns';
import { startProxies, type LabProxies } from './proxies';
import {
  LAB_ZONE,
  startHostServices,
  startInternetServers,
  startWorkspaceServers,
  type DnsRecords,
} from './servers';

/** One workspace of the lab. */
export interface LabWorkspace {
  id: string;
  /** its namespace (the VM) */
  ns: string;
  ip: string;
  gateway: string;
  /** the host-side veth end, standing for the workspace's tap */
  tap: string;
  /** a second address on the workspace's interface, for sending with a forged source */
  spoofIp: string;
  /** IPv6 addresses on the same link (the daemon must drop IPv6 from a workspace) */
  ip6: string;
  gateway6: string;
}

/** What createLab builds. */
export interface LabOptions {
  /** workspace IDs, e.g. ['ws_a', 'ws_b']; at most 250 */
  workspaces: string[];
  /** the host's uplink interface name (the daemon's `uplink`), default `up0` */
  uplink?: string;
  /** start the lab's servers (default true) */
  servers?: boolean;
  /** start users' proxies, in a namespace behind the internet (default false) */
  proxies?: boolean;
}

/** An outbound IP of the pool, as the config's `zones` lists it. */
export interface LabZone {
  ip: string;
  country_code: string;
  /** the next hop, in the internet namespace, through which traffic from `ip` leaves */
  host: string;
}

/** The uplink network between the host and the internet namespace. */
export const UPLINK_IP = '198.18.0.2';
/** The internet's side of the uplink: the host's default gateway. */
export const INTERNET_IP = '198.18.0.1';
/** Internet server addresses, each in its own /24. */
export const SERVER_ADDRS = ['198.18.1.10', '198.18.2.10', '198.18.3.10'] as const;

/** The outbound IP pool: addresses on the host's uplink, each with its next hop. */
export const ZONES: readonly LabZone[] = [
  { ip: '198.18.0.50', country_code: 'US', host: INTERNET_IP },
  { ip: '198.18.0.51', country_code: 'DE', host: '198.18.0.254' },
];

const MAX_WORKSPACES = 250;

/** A built lab; destroy() removes everything it made. */
export class Lab {
  /** the daemon started with startDaemon(), if any */
  daemon: Daemon | null = null;
  /** names the lab's DNS server answers, e.g. server1.lab.test -> 198.18.1.10 */
  readonly dnsRecords: DnsRecords;
  readonly serverAddrs: readonly string[] = SERVER_ADDRS;
  readonly uplinkIp = UPLINK_IP;
  readonly internetIp = INTERNET_IP;
  readonly zone = LAB_ZONE;
  /** the pool for the config's `zones`: `lab.startDaemon({ zones: lab.zones })` */
  readonly zones = ZONES;
  /** the users' proxies, when the lab was built with `proxies: true` */
  proxies: LabProxies | null = null;

  /** Use createLab(). */
  constructor(
    readonly run: NetnsRun,
    readonly host: string,
    readonly internet: string,
    readonly uplink: string,
    readonly workspaces: LabWorkspace[],
  ) {
    this.dnsRecords = Object.fromEntries(
      SERVER_ADDRS.map((addr, i) => [`server${i + 1}.${LAB_ZONE}`, addr]),
    );
  }

  /** The run's random prefix, which every namespace name starts with. */
  get prefix(): string {
    return this.run.prefix;
  }

  /** The lab workspace with this ID; throws for an unknown one. */
  ws(id: string): LabWorkspace {
    const found = this.workspaces.find((w) => w.id === id);
    if (!found) throw new Error(`no workspace ${id} in lab ${this.prefix}`);
    return found;
  }

  /** The body of `PUT /workspace/:id` that registers a lab workspace with the daemon. */
  registration(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const w = this.ws(id);
    return { ip: w.ip, gateway: w.gateway, interface: w.tap, ...extra };
  }

  /** Starts the daemon in the host namespace with the lab's uplink and `config` merged in. */
  async startDaemon(
    config: Record<string, unknown> = {},
    opts: { entry?: string } = {},
  ): Promise<Daemon> {
    if (this.daemon?.running) throw new Error('the lab daemon is already running');
    this.daemon?.cleanup();
    this.daemon = await startDaemon(this.run, {
      ns: this.host,
      uplink: this.uplink,
      config,
      entry: opts.entry,
    });
    return this.daemon;
  }

  /** Runs `nft ARGS` in the host namespace and returns its output. */
  async nft(args: string[]): Promise<string> {
    return (await nsExec(this.host, ['nft', ...args])).stdout;
  }

  /** Stops the daemon and removes every namespace, process and file of the lab. */
  async destroy(): Promise<void> {
    const daemon = this.daemon;
    this.daemon = null;
    if (daemon) {
      await daemon.kill9().catch(() => undefined);
      daemon.cleanup();
    }
    await this.run.destroy();
  }
}

/** The host-side name of a workspace's veth end: `t-` and the ID without `ws_` (15 max). */
function tapName(id: string, index: number, taken: Set<string>): string {
  const short = id.replace(/^ws_/, '').replace(/[^A-Za-z0-9_-]/g, '');
  let name = `t-${short}`.slice(0, 15);
  if (short === '' || taken.has(name)) name = `t-${index}`;
  taken.add(name);
  return name;
}

/** Builds the lab: namespaces, links, addresses, routes and (by default) servers. */
export async function createLab(opts: LabOptions): Promise<Lab> {
  if (opts.workspaces.length > MAX_WORKSPACES) {
    throw new Error(`a lab holds at most ${MAX_WORKSPACES} workspaces`);
  }
  if (new Set(opts.workspaces).size !== opts.workspaces.length) {
    throw new Error('workspace IDs must be distinct');
  }

  const run = new NetnsRun();
  try {
    return await build(run, opts);
  } catch (err) {
    await run.destroy();
    throw err;
  }
}

async function build(run: NetnsRun, opts: LabOptions): Promise<Lab> {
  const uplink = opts.uplink ?? 'up0';
  const host = await run.addNetns('host');
  const internet = await run.addNetns('inet');

  // The host forwards; reverse-path filtering stays off so that the daemon's own
  // anti-spoofing is what a forged source meets.
  await sysctl(host, 'net.ipv4.ip_forward', 1);
  for (const scope of ['all', 'default']) {
    await sysctl(host, `net.ipv4.conf.${scope}.rp_filter`, 0);
  }

  await addVeth(host, uplink, internet, 'wan0');
  await addAddr(host, uplink, `${UPLINK_IP}/24`);
  await addAddr(internet, 'wan0', `${INTERNET_IP}/24`);
  await addRoute(host, 'default', INTERNET_IP);
  for (const zone of ZONES) await addAddr(host, uplink, `${zone.ip}/32`);
  await addAddr(internet, 'wan0', '198.18.0.254/24');
  for (const addr of SERVER_ADDRS) await addAddr(internet, 'lo', `${addr}/32`);

  const taken = new Set<string>();
  const workspaces = opts.workspaces.map((id, i) => describe(run, id, i + 1, taken));
  await Promise.all(workspaces.map((w) => wire(run, host, w)));

  const lab = new Lab(run, host, internet, uplink, workspaces);
  run.setResolvConf(host, '127.0.0.1');
  if (opts.servers !== false) {
    await startInternetServers(run, internet, SERVER_ADDRS);
    const gateways = workspaces.map((w) => w.gateway);
    await startHostServices(run, host, gateways, SERVER_ADDRS[0], lab.dnsRecords);
    await Promise.all(workspaces.map((w) => startWorkspaceServers(run, w.ns)));
  }
  if (opts.proxies) lab.proxies = await startProxies(run, internet, LAB_ZONE);
  return lab;
}

function describe(run: NetnsRun, id: string, n: number, taken: Set<string>): LabWorkspace {
  if (!/^ws_[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`bad workspace ID ${id}`);
  return {
    id,
    ns: `${run.prefix}-${id}`,
    ip: `10.0.${n}.2`,
    gateway: `10.0.${n}.1`,
    tap: tapName(id, n, taken),
    spoofIp: `10.0.${n}.99`,
    ip6: `fd00:0:0:${n.toString(16)}::2`,
    gateway6: `fd00:0:0:${n.toString(16)}::1`,
  };
}

/** Creates a workspace's namespace and links it to the host like a VM's tap. */
async function wire(run: NetnsRun, host: string, w: LabWorkspace): Promise<void> {
  const ns = await run.addNetns(w.id);
  if (ns !== w.ns) throw new Error(`namespace ${ns} is not ${w.ns}`);

  await addVeth(host, w.tap, ns, 'eth0');
  await addAddr(host, w.tap, `${w.gateway}/24`);
  await addAddr(ns, 'eth0', `${w.ip}/24`);
  await addAddr(ns, 'eth0', `${w.spoofIp}/32`);
  await addRoute(ns, 'default', w.gateway, w.ip);

  // nodad: the addresses are usable at once instead of after duplicate detection.
  await ip(host, ['-6', 'addr', 'add', `${w.gateway6}/64`, 'dev', w.tap, 'nodad']);
  await ip(ns, ['-6', 'addr', 'add', `${w.ip6}/64`, 'dev', 'eth0', 'nodad']);
}
