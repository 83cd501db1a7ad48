/**
 * Benchmark 3, the cost per packet: small UDP datagrams per second (iperf3) and TCP
 * connections per second (bench/tools/crr.c) from a workspace, through the host, to a
 * server, with the 5,000-workspace table loaded and with the same host's ruleset empty,
 * and two steps between (see configs) that tell what the difference is made of.
 *
 *   ws ns  eth0 10.1.0.2/24 ── tb0 10.1.0.1/24  host ns  up0 198.18.0.2/24 ── wan0  srv ns
 *                                                                    server 198.18.1.10 (lo)
 *
 * The workspace is ws_b0 of the fleet: its egress list holds 198.18.0.0/15 and its ports
 * the servers' ports, so its traffic is allowed and takes the full path (guard, forward,
 * its chain, masquerade). With the ruleset empty nothing loads conntrack at all, so that
 * ratio prices every part of enforcement, conntrack and NAT included.
 */
import { join } from 'node:path';
import { NftSocket } from '../src/nft/addon';
import { CtMonitor } from '../src/nft/ct-monitor';
import type { Op } from '../src/nft/types';
import { FAMILY } from '../src/compile/layout';
import { addAddr, addRoute, addVeth, NetnsRun, nsExec, sysctl } from '../test/lab/netns';
import { repoRoot } from '../test/lab/daemon';
import { coldOps } from './cold-build';
import { fleet, OPTIONS, wsAddr, wsTap } from './fleet';
import { median, sleep } from './stats';
import { accept, ctEstablished, match, meta } from '../src/compile/expr';
import { ifname } from '../src/nft/bytes';

const SERVER = '198.18.1.10';
const IPERF_PORT = 5201;
const CRR_PORT = 9000;

/** Medians of one configuration of the host. */
export interface PacketRow {
  name: string;
  /** UDP datagrams delivered per second (64-byte payloads) */
  udpPps: number;
  /** TCP connections (connect, 1 byte each way, close) per second */
  tcpCps: number;
}

/** A configuration of the host's ruleset: the transaction that loads it, none when empty. */
interface Config {
  name: string;
  ops: Op[] | null;
  table?: string;
  /** also listen to conntrack's NEW and DESTROY events in the host, as the daemon does */
  events?: boolean;
}

/**
 * The host's configurations, empty first: nothing loaded; a stateful baseline (what any
 * masquerading firewall runs: established accepted, masquerade out of the uplink); the
 * daemon's table with one workspace; the daemon's table with the whole fleet.
 */
function configs(n: number): Config[] {
  return [
    { name: 'empty ruleset', ops: null },
    { name: 'conntrack + masquerade only', ops: statefulBaseline(), table: BASELINE },
    { name: 'workspace-netd, 1 workspace', ops: coldOps(fleet(1)), table: OPTIONS.table },
    { name: `workspace-netd, ${n.toLocaleString('en-US')} workspaces`, ops: coldOps(fleet(n)),
      table: OPTIONS.table },
    // Last, the goal's row: the daemon's whole cost, its conntrack event listener included.
    { name: `workspace-netd, ${n.toLocaleString('en-US')} workspaces, conntrack events read`,
      ops: coldOps(fleet(n)), table: OPTIONS.table, events: true },
  ];
}

/** Builds the three namespaces, then measures each configuration `rounds` times. */
export async function packets(n: number, rounds: number, seconds: number,
  log: (line: string) => void): Promise<PacketRow[]> {
  const lab = new NetnsRun();
  try {
    const { host, ws } = await wire(lab);
    const all = configs(n);
    const samples = all.map(() => ({ udp: [] as number[], tcp: [] as number[] }));
    const sock = NftSocket.open({ netns: `/run/netns/${host}` });
    try {
      for (let r = 0; r < rounds; r++) {
        // Odd rounds run the configurations in reverse, so drift over time evens out.
        const order = all.map((_, k) => k);
        if (r % 2 === 1) order.reverse();
        for (const k of order) {
          const c = all[k];
          if (c.ops) await commit(sock, c.ops);
          // The daemon's listener (src/enforce/connections-table.ts) in this process: the
          // kernel then builds and queues two events per connection, which this reads.
          let events = 0;
          const monitor = c.events ? CtMonitor.open((batch) => (events += batch.events.length),
            { netns: `/run/netns/${host}` }) : null;
          const udp = await udpPps(ws, seconds);
          const tcp = await tcpCps(ws, seconds);
          monitor?.close();
          if (c.events && events === 0) throw new Error('no conntrack event was read');
          if (c.table) await commit(sock, [dropTable(c.table)]);
          samples[k].udp.push(udp), samples[k].tcp.push(tcp);
          log(`packets: round ${r + 1}, ${c.name}: ${Math.round(udp)} datagrams/s, ` +
            `${Math.round(tcp)} connections/s`);
        }
      }
    } finally {
      sock.close();
    }
    return all.map((c, k) => ({
      name: c.name, udpPps: median(samples[k].udp), tcpCps: median(samples[k].tcp),
    }));
  } finally {
    await lab.destroy();
  }
}

const BASELINE = 'baseline';

/** `ct state established,related accept` in forward; masquerade out of the uplink. */
function statefulBaseline(): Op[] {
  const t = { family: FAMILY, table: BASELINE };
  const base = (hook: 'forward' | 'postrouting', type: 'filter' | 'nat', priority: number) =>
    ({ type, hook, priority, policy: 'accept' as const });
  return [
    { op: 'add', kind: 'table', family: FAMILY, name: BASELINE },
    { op: 'add', kind: 'chain', ...t, name: 'forward', base: base('forward', 'filter', 0) },
    { op: 'add', kind: 'chain', ...t, name: 'postrouting',
      base: base('postrouting', 'nat', 100) },
    { op: 'add', kind: 'rule', ...t, chain: 'forward', exprs: [...ctEstablished(), accept()] },
    { op: 'add', kind: 'rule', ...t, chain: 'postrouting',
      exprs: [...match(meta('oifname'), 'eq', ifname(OPTIONS.uplink)), { type: 'masq' }] },
  ];
}

/** The namespaces, links, addresses and servers; returns the host and workspace names. */
async function wire(lab: NetnsRun): Promise<{ host: string; ws: string }> {
  const [host, ws, srv] = [await lab.addNetns('host'), await lab.addNetns('ws'),
    await lab.addNetns('srv')];
  const { ip, gateway } = wsAddr(0);
  await sysctl(host, 'net.ipv4.ip_forward', 1);

  await addVeth(host, wsTap(0), ws, 'eth0');
  await addAddr(host, wsTap(0), `${gateway}/24`);
  await addAddr(ws, 'eth0', `${ip}/24`);
  await addRoute(ws, 'default', gateway);

  await addVeth(host, OPTIONS.uplink, srv, 'wan0');
  await addAddr(host, OPTIONS.uplink, '198.18.0.2/24');
  await addAddr(srv, 'wan0', '198.18.0.1/24');
  await addAddr(srv, 'lo', `${SERVER}/32`);
  await addRoute(host, 'default', '198.18.0.1');
  // Without the table nothing masquerades: the server needs the way back to workspaces.
  await addRoute(srv, '10.0.0.0/8', '198.18.0.2');

  // The sender's CPU carries the forwarding (veth hands packets on in softirq), so the
  // client and the server each get a CPU of their own.
  lab.spawn(srv, ['taskset', '-c', '1', 'iperf3', '-s', '-B', SERVER, '-p', String(IPERF_PORT)]);
  const crr = join(repoRoot(), 'dist/bench/crr');
  lab.spawn(srv, ['taskset', '-c', '1', crr, 'server', String(CRR_PORT)]);
  await sleep(500);
  return { host, ws };
}

/** Datagrams per second that reached the server, from iperf3's own count. */
async function udpPps(ws: string, seconds: number): Promise<number> {
  const { stdout } = await nsExec(ws, ['taskset', '-c', '0', 'iperf3', '-c', SERVER,
    '-p', String(IPERF_PORT), '-u', '-b', '0', '-l', '64', '-t', String(seconds), '-J'],
    { timeoutMs: (seconds + 20) * 1000 });
  const sum = JSON.parse(stdout).end.sum as { packets: number; lost_packets: number;
    seconds: number };
  return (sum.packets - sum.lost_packets) / sum.seconds;
}

/** Connections per second, from the crr client. */
async function tcpCps(ws: string, seconds: number): Promise<number> {
  const crr = join(repoRoot(), 'dist/bench/crr');
  const { stdout } = await nsExec(ws, ['taskset', '-c', '0', crr, 'client', SERVER,
    String(CRR_PORT), String(seconds)], { timeoutMs: (seconds + 20) * 1000 });
  return Number(stdout.trim().split(' ')[0]);
}

function dropTable(name: string): Op {
  return { op: 'delete', kind: 'table', family: FAMILY, name };
}

async function commit(sock: NftSocket, ops: Op[]): Promise<void> {
  const result = await sock.commit(ops);
  if (!result.ok) throw new Error(`packets: transaction refused: ${result.message}`);
}
