/**
 * Benchmark 4, the custom-proxy relay: TCP connection setup and bulk throughput from a
 * custom-mode workspace (DNAT to the daemon's relay, which CONNECTs through the user's
 * proxy), against a managed workspace speaking CONNECT to the same proxy itself (direct),
 * and against haproxy in TCP mode relaying the same CONNECT traffic to the same proxy.
 * The lab (test/lab) provides the host, the workspaces, the internet and tinyproxy.
 *
 *   relay:   ws_relay ─DNAT→ relay (daemon, host ns) ─CONNECT→ tinyproxy → server
 *   direct:  ws_direct ─CONNECT→ tinyproxy → server
 *   haproxy: ws_direct ─CONNECT→ haproxy (internet ns, mode tcp) → tinyproxy → server
 */
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { createLab, type Lab } from '../test/lab/lab';
import { nsExec, run } from '../test/lab/netns';
import { repoRoot } from '../test/lab/daemon';
import { median, sleep } from './stats';

const SERVER = '198.18.1.10';
const HAPROXY = { addr: '198.18.2.10', port: 15002 };
const [CRR_PORT, SINK_PORT] = [9000, 9001];

/** Medians of one path. */
export interface RelayRow {
  name: string;
  /** connections per second (connect, tunnel, 1 byte each way, close) */
  cps: number;
  /** Gbit/s of one bulk stream */
  gbps: number;
  /** CPU seconds the relaying process spent per Gbit carried, if it is one process */
  cpuPerGbit: number | null;
}

/** Builds the lab, then measures the three paths `rounds` times each, interleaved. */
export async function relayBench(rounds: number, seconds: number,
  log: (line: string) => void): Promise<RelayRow[]> {
  const lab = await createLab({ workspaces: ['ws_relay', 'ws_direct'], proxies: true });
  try {
    const proxy = lab.proxies!.open;
    const crr = join(repoRoot(), 'dist/bench/crr');
    lab.run.spawn(lab.internet, [crr, 'server', String(CRR_PORT)]);
    lab.run.spawn(lab.internet, [crr, 'sink', String(SINK_PORT)]);
    const haproxy = lab.run.spawn(lab.internet, ['haproxy', '-db', '-f',
      haproxyConfig(lab, `${proxy.host}:${proxy.port}`)]);
    const daemon = await lab.startDaemon({
      preflight: { target: `${SERVER}:${CRR_PORT}`, timeout_ms: 5000 },
    });
    for (const id of ['ws_relay', 'ws_direct']) {
      const res = await daemon.api('PUT', `/workspace/${id}`, lab.registration(id,
        { plan: 'scale' }));
      if (res.status !== 201) throw new Error(`PUT ${id}: ${JSON.stringify(res.body)}`);
    }
    const custom = { outbound_mode: 'custom', custom_proxy: { host: proxy.host,
      port: proxy.port, protocol: 'http' } };
    const res = await daemon.api('PATCH', '/workspace/ws_relay/network', custom);
    if (res.status !== 200) throw new Error(`custom proxy: ${JSON.stringify(res.body)}`);
    await sleep(500);

    const daemonPid = await pidOf(lab.host, 'dist/src/main.js');
    const target = (port: number) => `${SERVER}:${port}`;
    const paths = [
      { name: 'relay (DNAT, relay, proxy)', ns: lab.ws('ws_relay').ns, pid: daemonPid,
        to: (port: number) => [SERVER, String(port)] as const },
      { name: 'direct CONNECT to the proxy', ns: lab.ws('ws_direct').ns, pid: null,
        to: (port: number) => [proxy.host, String(proxy.port), target(port)] as const },
      { name: 'haproxy (mode tcp), then the proxy', ns: lab.ws('ws_direct').ns,
        pid: haproxy.pid ?? null,
        to: (port: number) => [HAPROXY.addr, String(HAPROXY.port), target(port)] as const },
    ];
    // A daemon in service has long compiled its hot paths; this one has just started, and
    // V8's optimizing compiler took a sixth of its CPU in the first seconds of connections
    // (perf, on the daemon). A second of each test first, not counted, for every path alike.
    for (const p of paths) {
      await measure(p.ns, crrArgv(crr, 'client', p.to(CRR_PORT), 1), 1);
      await measure(p.ns, crrArgv(crr, 'stream', p.to(SINK_PORT), 1), 1);
    }
    const samples = paths.map(() => ({ cps: [] as number[], gbps: [] as number[],
      cpu: [] as number[] }));
    for (let r = 0; r < rounds; r++) {
      for (const [k, p] of paths.entries()) {
        const cps = await measure(p.ns, crrArgv(crr, 'client', p.to(CRR_PORT), seconds),
          seconds);
        const before = p.pid ? cpuSeconds(p.pid) : 0;
        const bytesPerS = await measure(p.ns, crrArgv(crr, 'stream', p.to(SINK_PORT), seconds),
          seconds);
        const cpu = p.pid ? cpuSeconds(p.pid) - before : NaN;
        const gbps = (bytesPerS * 8) / 1e9;
        samples[k].cps.push(cps), samples[k].gbps.push(gbps);
        samples[k].cpu.push(cpu / (gbps * seconds));
        log(`relay: round ${r + 1}, ${p.name}: ${Math.round(cps)} connections/s, ` +
          `${gbps.toFixed(2)} Gbit/s`);
      }
    }
    return paths.map((p, k) => ({
      name: p.name,
      cps: median(samples[k].cps),
      gbps: median(samples[k].gbps),
      cpuPerGbit: p.pid ? median(samples[k].cpu) : null,
    }));
  } finally {
    await lab.destroy();
  }
}

/** `crr MODE ADDR PORT SECONDS [TARGET]`, from [addr, port, target?]. */
function crrArgv(crr: string, mode: string, to: readonly string[], seconds: number): string[] {
  const [addr, port, target] = to;
  return [crr, mode, addr, port, String(seconds), ...(target ? [target] : [])];
}

/** The first number crr prints. */
async function measure(ns: string, argv: string[], seconds: number): Promise<number> {
  const { stdout } = await nsExec(ns, argv, { timeoutMs: (seconds + 30) * 1000 });
  return Number(stdout.trim().split(' ')[0]);
}

/** haproxy in TCP mode in front of the proxy, its config in the lab's temporary files. */
function haproxyConfig(lab: Lab, upstream: string): string {
  const file = join('/tmp', `${lab.prefix}-haproxy.cfg`);
  writeFileSync(file, [
    'global', '  maxconn 4096',
    'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 60s',
    '  timeout server 60s',
    'frontend relay', `  bind ${HAPROXY.addr}:${HAPROXY.port}`, '  default_backend proxy',
    'backend proxy', `  server tinyproxy ${upstream}`, '',
  ].join('\n'));
  lab.run.atDestroy(() => run('rm', ['-f', file], { check: false }));
  return file;
}

/** The pid in `ns` whose command line contains `needle`. */
async function pidOf(ns: string, needle: string): Promise<number> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]);
  for (const pid of stdout.split('\n').filter((p) => /^\d+$/.test(p))) {
    const cmd = await run('cat', [`/proc/${pid}/cmdline`], { check: false });
    if (cmd.stdout.includes(needle)) return Number(pid);
  }
  throw new Error(`no process with ${needle} in ${ns}`);
}

/** utime + stime of a process, in seconds (proc(5): fields 14 and 15, in clock ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
