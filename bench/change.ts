/**
 * Benchmark 2, one change: a PATCH of one workspace's egress ports, from the API call to
 * the committed transaction, timed by the client, while 1, 1,000 and 5,000 workspaces are
 * registered; and the same change made by `nft add element` / `nft delete element`, one
 * process per change, against a table of the same size in a namespace of its own (the
 * daemon's drift monitor would take a foreign change in its own table for drift).
 *
 * Each size gets a daemon of its own, started on a state database that already holds the
 * fleet (the restart path: one transaction builds the table). Registering thousands of
 * workspaces one API call at a time would take most of the run (bench/results.md says why),
 * so registration is measured on a sample of workspaces added to each size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NftSocket } from '../src/nft/addon';
import { StateStore } from '../src/state/store';
import { NetnsRun, run } from '../test/lab/netns';
import { Daemon, repoRoot, startDaemon } from '../test/lab/daemon';
import { ApiClient } from './client';
import { coldOps } from './cold-build';
import { EGRESS_PORTS, fleet, policyPatch, registration, wsId, wsTap } from './fleet';
import { inNetns, scratch } from './scratch';
import { median, percentile } from './stats';

/** The port a change adds and removes again. */
const CHANGE_PORT = 8443;

/**
 * Medians over rounds of one size's per-round percentiles, in ms. Adding the port only
 * widens the policy (the daemon ends nothing, so it looks up no connection); removing it
 * narrows it (the daemon looks up the workspace's connections to end what the port carried).
 */
export interface ChangeRow {
  workspaces: number;
  /** PATCHes adding the port */
  widenP50: number;
  widenP99: number;
  /** PATCHes removing it */
  narrowP50: number;
  narrowP99: number;
  /** every PATCH, both kinds */
  oursP50: number;
  oursP99: number;
  nftP50: number;
  nftP99: number;
}

/** What registering a sample of workspaces over the API cost, at a given size. */
export interface RegisterBand {
  /** workspaces registered before the sample */
  from: number;
  /** workspaces in the sample */
  count: number;
  /** the daemon's start on the fleet's state: load, one transaction, first audit */
  startSeconds: number;
  /** medians of the PUT and of the PATCH that gives the policy, in ms */
  putMs: number;
  patchMs: number;
  /** the 99th percentiles of the same */
  putP99: number;
  patchP99: number;
}

/** The daemon in a namespace of its own, with the benchmark fleet registered over its API. */
export class FleetDaemon {
  private constructor(
    readonly lab: NetnsRun,
    readonly ns: string,
    readonly daemon: Daemon,
    readonly api: ApiClient,
    /** workspaces registered */
    public registered: number,
    /** seconds from the daemon's spawn until its socket accepted connections */
    readonly startSeconds: number,
  ) {}

  /**
   * Starts the daemon (as `node dist/src/main.js --config FILE`) in a new namespace on a
   * state database holding the fleet of n, in a new directory under `stateRoot` (a tmpfs
   * or a disk); with `profile`, under the CPU profiler, which writes that file at exit.
   */
  static async start(n: number, stateRoot: string, profile?: string): Promise<FleetDaemon> {
    const lab = new NetnsRun();
    const stateDir = mkdtempSync(join(stateRoot, 'wnd-bench-state-'));
    lab.atDestroy(() => rmSync(stateDir, { recursive: true, force: true }));
    const store = StateStore.open(join(stateDir, 'state'));
    try {
      store.save({ before: new Map(), after: fleet(n) });
    } finally {
      store.close();
    }
    try {
      const ns = await lab.addNetns('daemon');
      // The daemon inherits this process's environment; profiled-main.js reads the path.
      if (profile) process.env.WND_BENCH_PROFILE = profile;
      const start = process.hrtime.bigint();
      const daemon = await startDaemon(lab, {
        ns, uplink: 'up0', readyTimeoutMs: 600_000, config: { state_dir: `${stateDir}/state` },
        entry: profile ? join(repoRoot(), 'dist/bench/profiled-main.js') : undefined,
      });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      return new FleetDaemon(lab, ns, daemon, new ApiClient(daemon.socketPath, 8), n, seconds);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /** Registers `count` more workspaces, one at a time (PUT, then its policy); the costs. */
  async registerMore(count: number): Promise<RegisterBand> {
    const from = this.registered;
    const puts: number[] = [];
    const patches: number[] = [];
    for (let i = from; i < from + count; i++) {
      puts.push((await this.api.must('PUT', `/workspace/${wsId(i)}`, registration(i))).ms);
      const patch = policyPatch(i, from + count);
      patches.push((await this.api.must('PATCH', `/workspace/${wsId(i)}/network`, patch)).ms);
      this.registered = i + 1;
    }
    return {
      from, count, startSeconds: this.startSeconds,
      putMs: median(puts), patchMs: median(patches),
      putP99: percentile(puts, 99), patchP99: percentile(patches, 99),
    };
  }

  /**
   * `count` changes of workspace 0, alternately adding (even indexes: widening) and
   * removing (odd: narrowing) a port; their times.
   */
  async changes(count: number): Promise<number[]> {
    const times: number[] = [];
    for (let k = 0; k < count; k++) {
      const ports = k % 2 === 0 ? [...EGRESS_PORTS, CHANGE_PORT] : EGRESS_PORTS;
      const r = await this.api.must('PATCH', `/workspace/${wsId(0)}/network`,
        { egress_ports: ports });
      times.push(r.ms);
    }
    return times;
  }

  /** The daemon's resident memory in KiB: now (VmRSS), or its peak so far (VmHWM). */
  async rssKiB(field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
    const { stdout } = await run('ip', ['netns', 'pids', this.ns]);
    let total = 0;
    for (const pid of stdout.split('\n').filter((p) => /^\d+$/.test(p))) {
      const status = await run('cat', [`/proc/${pid}/status`], { check: false });
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status.stdout);
      if (m) total += Number(m[1]);
    }
    return total;
  }

  /** Stops the daemon and removes its namespace. */
  async stop(): Promise<void> {
    this.api.close();
    await this.daemon.stop().catch(() => this.daemon.kill9());
    this.daemon.cleanup();
    await this.lab.destroy();
  }
}

/** A namespace holding the cold table of n workspaces, for nft to change. */
export class NftPeer {
  private constructor(private readonly ns: Awaited<ReturnType<typeof scratch>>) {}

  /** Loads the fleet's table through the addon into a fresh namespace. */
  static async load(n: number): Promise<NftPeer> {
    const ns = await scratch('nftpeer');
    const sock = NftSocket.open({ netns: ns.path });
    try {
      const result = await sock.commit(coldOps(fleet(n)));
      if (!result.ok) throw new Error(`peer table refused: ${result.message}`);
    } finally {
      sock.close();
    }
    return new NftPeer(ns);
  }

  /** `count` nft processes, alternately adding and deleting the change's elements. */
  async changes(count: number): Promise<number[]> {
    const script = join(repoRoot(), 'dist/bench/nft-changes.js');
    const argv = inNetns(this.ns, [process.execPath, script, String(count), wsTap(0),
      String(CHANGE_PORT)]);
    const { stdout } = await run(argv[0], argv.slice(1), { timeoutMs: 300_000 });
    return JSON.parse(stdout) as number[];
  }

  /** Removes the namespace. */
  drop(): Promise<void> {
    return this.ns.drop();
  }
}

/** Rounds of changes on both sides at the daemon's current size; the row of medians. */
export async function measureChanges(d: FleetDaemon, peer: NftPeer, rounds: number,
  ours: number, theirs: number, log: (line: string) => void): Promise<ChangeRow> {
  const all = { p50: [] as number[], p99: [] as number[] };
  const widen = { p50: [] as number[], p99: [] as number[] };
  const narrow = { p50: [] as number[], p99: [] as number[] };
  const t = { p50: [] as number[], p99: [] as number[] };
  const note = (into: typeof t, times: number[]) =>
    (into.p50.push(percentile(times, 50)), into.p99.push(percentile(times, 99)));
  await d.changes(20); // warm-up: the first requests compile the daemon's hot paths
  for (let r = 0; r < rounds; r++) {
    const a = await d.changes(ours);
    const b = await peer.changes(theirs);
    note(all, a), note(t, b);
    note(widen, a.filter((_, k) => k % 2 === 0)), note(narrow, a.filter((_, k) => k % 2 === 1));
    log(`change: ${d.registered} workspaces, round ${r + 1}: widening p50 ` +
      `${widen.p50.at(-1)!.toFixed(2)} p99 ${widen.p99.at(-1)!.toFixed(2)} ms; narrowing p50 ` +
      `${narrow.p50.at(-1)!.toFixed(2)} p99 ${narrow.p99.at(-1)!.toFixed(2)} ms; nft p50 ` +
      `${t.p50.at(-1)!.toFixed(2)} p99 ${t.p99.at(-1)!.toFixed(2)} ms`);
  }
  return {
    workspaces: d.registered,
    widenP50: median(widen.p50), widenP99: median(widen.p99),
    narrowP50: median(narrow.p50), narrowP99: median(narrow.p99),
    oursP50: median(all.p50), oursP99: median(all.p99),
    nftP50: median(t.p50), nftP99: median(t.p99),
  };
}
