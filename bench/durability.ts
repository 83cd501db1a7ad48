/**
 * Benchmark 6, durability at scale: for n workspaces of the synthetic fleet, a restart (the
 * enforcer's start over the table an earlier start left: one transaction replacing it,
 * then the read-back that proves it), one audit (read back and compare, with the main
 * thread's share of it), and a repair after `delete table` (the transaction that puts it
 * back; the read-back follows and is timed apart). The peer is `nft -f` loading the same
 * ruleset as text into an empty namespace: what the kernel's own insert costs.
 * Also the state database's load and per-change write. Alone: node dist/bench/durability.js
 * [n...] (as root; each size in scratch namespaces).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';

import { KernelEnforcer } from '../src/enforce/kernel';
import { NftSocket } from '../src/nft/addon';
import { StateStore } from '../src/state/store';
import type { Workspace } from '../src/model/types';
import { coldOps, nftText, timeNft } from './cold-build';
import { fleet, OPTIONS } from './fleet';
import { scratch } from './scratch';
import { median, msSince } from './stats';

/** The medians of one size. */
export interface DurabilityRow {
  workspaces: number;
  /** restart: the replacing transaction, from the desired state to the commit */
  restartMs: number;
  /** restart: the read-back after it, until healthy */
  restartVerifyMs: number;
  /** one audit that finds the table right */
  auditMs: number;
  /** of it, on the main thread (event loop active) */
  auditMainMs: number;
  /** of it, the longest the event loop was held at once (see stallProbe) */
  auditStallMs: number;
  /** after `delete table`: from the reconcile to the closed table's commit (cut off) */
  closedMs?: number;
  /** after `delete table`: from the notification's reconcile to the committed table */
  repairMs: number;
  /** the read-back that proves the repair */
  repairVerifyMs: number;
  /** `nft -f` of the same ruleset into an empty namespace */
  nftMs: number;
  /** the state database: load of the whole fleet, and one change written */
  loadMs: number;
  saveOneMs: number;
}

/** Measures each size `runs` times; one namespace per size, a fresh one for each nft -f. */
export async function durability(sizes: number[], runs: number,
  log: (line: string) => void): Promise<DurabilityRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'wnd-bench-'));
  try {
    const rows: DurabilityRow[] = [];
    for (const n of sizes) {
      const ws = fleet(n);
      const file = join(dir, `table-${n}.nft`);
      writeFileSync(file, nftText(coldOps(ws)));
      const state = stateTimes(ws, dir);
      const samples: Omit<DurabilityRow, 'workspaces' | 'loadMs' | 'saveOneMs'>[] = [];
      const ns = await scratch('durability');
      const sock = NftSocket.open({ netns: ns.path });
      try {
        await enforcer(sock).start(ws);
        for (let r = 0; r < runs; r++) {
          const s = { ...(await ourRun(sock, ws)), nftMs: await timeNft(file) };
          samples.push(s);
          log(`durability: ${n} workspaces, run ${r + 1}: restart ${s.restartMs.toFixed(0)} ` +
            `+ ${s.restartVerifyMs.toFixed(0)} ms, audit ${s.auditMs.toFixed(0)} ms ` +
            `(main ${s.auditMainMs.toFixed(0)}, longest stall ${s.auditStallMs.toFixed(0)}), ` +
            `closed ${s.closedMs.toFixed(1)} ms, repair ${s.repairMs.toFixed(0)} ` +
            `+ ${s.repairVerifyMs.toFixed(0)} ms, nft -f ${s.nftMs.toFixed(0)} ms`);
        }
      } finally {
        sock.close();
        await ns.drop();
      }
      const of = (k: keyof (typeof samples)[number]) => median(samples.map((x) => x[k] ?? NaN));
      rows.push({ workspaces: n, restartMs: of('restartMs'),
        restartVerifyMs: of('restartVerifyMs'), auditMs: of('auditMs'),
        auditMainMs: of('auditMainMs'), auditStallMs: of('auditStallMs'), closedMs: of('closedMs'),
        repairMs: of('repairMs'),
        repairVerifyMs: of('repairVerifyMs'), nftMs: of('nftMs'), ...state });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The enforcer's line when it commits the closed table (src/compile/closed.ts). */
const CLOSED = 'table missing: closed until rebuilt';

/** A restart, an audit and a repair, as a daemon meets them. */
async function ourRun(sock: NftSocket, ws: ReadonlyMap<string, Workspace>) {
  const records: { msg: string; ms?: number }[] = [];
  const restart = enforcer(sock, records);
  await restart.start(ws);
  const logged = (msg: string) => records.find((x) => x.msg === msg)?.ms ?? NaN;

  const elu = performance.eventLoopUtilization();
  const stalls = stallProbe();
  let t = process.hrtime.bigint();
  const audit = await restart.reconcile('bench');
  const auditMs = msSince(t);
  const auditMainMs = performance.eventLoopUtilization(elu).active;
  const auditStallMs = stalls();
  if (audit.differences.length > 0) throw new Error(`false drift: ${audit.differences[0]}`);

  await sock.commit([{ op: 'delete', kind: 'table', family: 'inet', name: OPTIONS.table }]);
  t = process.hrtime.bigint();
  const repaired = await restart.reconcile('bench', { missing: true });
  if (Number.isNaN(logged(CLOSED))) throw new Error('the deleted table was not closed first');
  if (!repaired.ms) throw new Error('the deleted table was not repaired');
  return { restartMs: logged('table replaced'), restartVerifyMs: logged('table verified'),
    auditMs, auditMainMs, auditStallMs, closedMs: logged(CLOSED), repairMs: repaired.ms.repair,
    repairVerifyMs: repaired.ms.verify };
}

/**
 * Watches the event loop with a 1 ms timer until the function it returns is called, which
 * returns the longest gap between two turns, the last one up to that call included (a
 * histogram of the timer's lateness, such as monitorEventLoopDelay, misses a stall that
 * ends just before it is read).
 */
function stallProbe(): () => number {
  let [last, worst] = [performance.now(), 0];
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  return () => {
    clearInterval(timer);
    return Math.max(worst, performance.now() - last);
  };
}

/** An enforcer on `sock` whose log records land in `records`. */
function enforcer(sock: NftSocket, records: object[] = []): KernelEnforcer {
  const log = pino({ level: 'info' }, { write: (line: string) => records.push(JSON.parse(line)) });
  return new KernelEnforcer(sock, { ...OPTIONS, tableFlags: { owner: true, persist: true } }, log);
}

/** The state database with the fleet: a load of all of it, and one change written. */
function stateTimes(ws: ReadonlyMap<string, Workspace>, dir: string) {
  const at = mkdtempSync(join(dir, 'state-'));
  const first = StateStore.open(at);
  first.save({ before: new Map(), after: ws });
  first.close();
  const store = StateStore.open(at);
  try {
    const t = process.hrtime.bigint();
    const loaded = store.load();
    const loadMs = msSince(t);
    const one = [...loaded.values()][0];
    const changed = new Map(loaded).set(one.id, { ...one, name: 'renamed' });
    const w = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) store.save({ before: loaded, after: changed });
    return { loadMs, saveOneMs: msSince(w) / 20 };
  } finally {
    store.close();
  }
}

if (require.main === module) {
  const sizes = process.argv.slice(2).map(Number);
  const line = (s: string) => process.stdout.write(`${s}\n`);
  durability(sizes.length > 0 ? sizes : [100, 1000, 5000], 1, line).then((rows) => {
    for (const row of rows) {
      line(Object.entries(row).map(([k, v]) => `${k}=${Math.round(v * 10) / 10}`).join(' '));
    }
  }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
