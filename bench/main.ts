/**
 * The benchmarks, one command: `bench/run` (or `node dist/bench/main.js` once built).
 * Runs each benchmark in network namespaces it creates and deletes, then writes
 * bench/results.md, bench/results.json and the charts. Options:
 *   --runs N          runs per figure (default 5)
 *   --only a,b        cold, change (with the API), packets, relay, durability (default: all)
 *   --quick           small sizes and 2 runs: a check that everything works, not figures
 *   --profile FILE    run the daemon of benchmarks 2 and 5 under the CPU profiler
 *   --out DIR         where to write (default: the bench folder of the repository; with
 *                     --quick a new folder under /tmp, so a check never overwrites results)
 *   --report          only rewrite results.md and the charts from DIR/results.json
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../test/lab/daemon';
import { anatomy } from './anatomy';
import { apiRates, type ApiRow } from './api';
import { FleetDaemon, measureChanges, NftPeer } from './change';
import { coldBuild } from './cold-build';
import { durability } from './durability';
import { describeMachine } from './machine';
import { packets } from './packets';
import { relayBench } from './relay';
import { writeReport } from './report';
import type { Results } from './results';
import { median, percentile } from './stats';

const ALL = ['cold', 'change', 'packets', 'relay', 'durability'];

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      only: { type: 'string', default: ALL.join(',') },
      quick: { type: 'boolean', default: false },
      profile: { type: 'string' },
      out: { type: 'string' },
      report: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const quick = values.quick;
  // A quick run checks the harness: its figures must not replace the committed results.
  const out = values.out ?? (quick ? mkdtempSync(join(tmpdir(), 'netd-bench-quick-'))
    : join(repoRoot(), 'bench'));
  mkdirSync(out, { recursive: true });
  if (values.report) {
    writeReport(out, previous(out) as Results);
    return;
  }
  const asked = Number(values.runs);
  if (!Number.isInteger(asked) || asked < 1 || asked > 20) {
    throw new Error(`--runs must be an integer from 1 to 20, not ${JSON.stringify(values.runs)}`);
  }
  const runs = quick ? 2 : asked;
  const only = new Set(values.only.split(','));
  const sizes = quick ? [10, 100, 300] : [100, 1000, 5000];
  const fleetSizes = quick ? [1, 100, 300] : [1, 1000, 5000];
  const started = process.hrtime.bigint();

  const before = values.only === ALL.join(',') ? {} : previous(out);
  const results: Results = {
    relay: { skipped: 'not run (--only)' },
    ...before,
    machine: describeMachine(),
    runs,
    loadBefore: loadavg(),
    loadAfter: [],
    // A run with --only adds its time to the time of the sections it keeps.
    seconds: before.seconds ?? 0,
    failed: [],
  };
  const earlier = results.seconds;
  log(`machine: ${JSON.stringify(results.machine)}`);

  // Each benchmark's results are written as soon as it ends; one that fails is reported
  // as failed and the others still run.
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!only.has(name)) return;
    const machine = describeMachine();
    const load = { date: machine.date, kernel: machine.kernel, before: loadavg()[0], after: 0 };
    try {
      await fn();
    } catch (err) {
      log(`${name}: failed: ${(err as Error).stack ?? String(err)}`);
      results.failed.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
    results.loads = { ...results.loads, [name]: { ...load, after: loadavg()[0] } };
    results.loadAfter = loadavg();
    results.seconds = earlier + Number(process.hrtime.bigint() - started) / 1e9;
    writeReport(out, results);
  };
  const largest = fleetSizes[fleetSizes.length - 1];

  await step('cold', async () => {
    results.cold = await coldBuild(sizes, runs, log);
  });
  await step('change', async () => {
    Object.assign(results, await changeAndApi(fleetSizes, runs, quick, values.profile));
  });
  await step('packets', async () => {
    results.packets = await packets(largest, runs, 2, log);
  });
  await step('relay', async () => {
    results.relay = hasHaproxy()
      ? { rows: await relayBench(runs, quick ? 1 : 2, log) }
      : { skipped: 'haproxy is not installed (bench/run installs it)' };
  });
  await step('durability', async () => {
    results.durability = await durability(sizes, quick ? runs : Math.min(runs, 3), log);
  });
  log(`wrote ${join(out, 'results.md')} in ${Math.round(results.seconds)} s`);
  if (results.failed.length > 0) process.exitCode = 1;
}

/**
 * Benchmarks 2 and 5: a daemon per size, started on the fleet's state; changes against
 * the nft peer, then (at the largest size) the API's rates, then a registration sample.
 */
async function changeAndApi(sizes: number[], runs: number, quick: boolean, profile?: string):
  Promise<Pick<Results, 'change' | 'api'>> {
  const total = sizes[sizes.length - 1];
  const rows = [];
  const bands = [];
  const rss = new Map<number, number>();
  let loaded = { rssKiB: 0, peakKiB: 0 };
  let apiRows: ApiRow[] = [];
  for (const n of sizes) {
    const d = await FleetDaemon.start(n, '/dev/shm', n === total ? profile : undefined);
    try {
      log(`daemon: started on ${n} workspaces in ${d.startSeconds.toFixed(1)} s`);
      rss.set(n, await d.rssKiB());
      const peer = await NftPeer.load(n);
      try {
        // As many nft calls as changes of each kind: both p99s are a second worst of 100.
        rows.push(await measureChanges(d, peer, runs, quick ? 50 : 200, quick ? 25 : 100, log));
      } finally {
        await peer.drop();
      }
      if (n === total) apiRows = await apiRates(d, runs, quick ? 1 : 2, log);
      const band = await d.registerMore(quick ? 5 : 40);
      log(`register: ${band.count} more at ${n}: PUT p50 ${band.putMs.toFixed(1)} ms, ` +
        `PATCH p50 ${band.patchMs.toFixed(1)} ms`);
      bands.push(band);
      // After minutes of changes, API load and periodic audits (each reads the table back).
      if (n === total) loaded = { rssKiB: await d.rssKiB(), peakKiB: await d.rssKiB('VmHWM') };
    } finally {
      await d.stop();
    }
  }
  const disk = await onDisk(runs, quick ? 20 : 60);
  const parts = await anatomy(sizes, quick ? 5 : 20, log);
  return {
    change: { rows, bands, disk, anatomy: parts },
    api: { rows: apiRows, rssEmptyKiB: rss.get(sizes[0])!, rssFleetKiB: rss.get(total)!,
      rssLoadedKiB: loaded.rssKiB, rssPeakKiB: loaded.peakKiB, workspaces: total,
      rssBySize: [...rss.entries()] },
  };
}

/** The same change with the daemon's state on the machine's disk (/var/tmp). */
async function onDisk(runs: number, count: number) {
  const d = await FleetDaemon.start(1, '/var/tmp');
  try {
    await d.changes(10);
    const p50: number[] = [];
    const p99: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t = await d.changes(count);
      p50.push(percentile(t, 50)), p99.push(percentile(t, 99));
      log(`change, state on disk: round ${r + 1}: p50 ${p50.at(-1)!.toFixed(2)} ms`);
    }
    return { p50: median(p50), p99: median(p99), where: `/var/tmp, ${filesystem('/var/tmp')}` };
  } finally {
    await d.stop();
  }
}

/**
 * The results a run with --only leaves as they were: those of the last run in `dir`, whose
 * machine note and load averages give way to this run's.
 */
function previous(dir: string): Partial<Results> {
  try {
    return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Partial<Results>;
  } catch {
    return {};
  }
}

function hasHaproxy(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The file system type and device of the mount holding `path`, e.g. `ext4 on /dev/vda`. */
function filesystem(path: string): string {
  try {
    const out = execFileSync('findmnt', ['-no', 'FSTYPE,SOURCE', '-T', path], { encoding: 'utf8' });
    return out.trim().split(/\s+/).join(' on ');
  } catch {
    return 'an unknown file system';
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
