/**
 * Durability numbers at scale: for n workspaces of the synthetic fleet, the restart
 * transaction (the enforcer's start over an existing owned table: delete, skeleton and
 * every workspace in one batch), one audit (read back and compare), a repair after the
 * table was deleted, and the state database's load and per-change write.
 * Run: node dist/bench/durability.js [n...] (as root; each size in a scratch namespace).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';

import { KernelEnforcer } from '../src/enforce/kernel';
import { NftSocket } from '../src/nft/addon';
import { StateStore } from '../src/state/store';
import { fleet, OPTIONS } from './fleet';
import { scratch } from './scratch';
import { msSince } from './stats';

async function measure(n: number): Promise<Record<string, number>> {
  const ws = fleet(n);
  const ns = await scratch('durability');
  const dir = mkdtempSync(join(tmpdir(), 'netd-bench-'));
  const sock = NftSocket.open({ netns: ns.path });
  const log = pino({ level: 'silent' });
  const opts = { ...OPTIONS, tableFlags: { owner: true, persist: true } };
  try {
    let t = process.hrtime.bigint();
    const store = StateStore.open(dir);
    store.save({ before: new Map(), after: ws });
    const saveAllMs = msSince(t);
    store.close();
    t = process.hrtime.bigint();
    const reopened = StateStore.open(dir);
    const loaded = reopened.load();
    const loadMs = msSince(t);

    const first = new KernelEnforcer(sock, opts, log);
    await first.start(loaded);
    t = process.hrtime.bigint();
    const restart = new KernelEnforcer(sock, opts, log);
    await restart.start(loaded);
    const restartMs = msSince(t);

    t = process.hrtime.bigint();
    await restart.reconcile('bench');
    const auditMs = msSince(t);

    await sock.commit([{ op: 'delete', kind: 'table', family: 'inet', name: OPTIONS.table }]);
    t = process.hrtime.bigint();
    const repaired = await restart.reconcile('bench');
    const repairMs = msSince(t);
    if (!repaired.repaired) throw new Error('the deleted table was not repaired');

    const one = [...loaded.values()][0];
    const changed = new Map(loaded).set(one.id, { ...one, name: 'renamed' });
    t = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) reopened.save({ before: loaded, after: changed });
    const saveOneMs = msSince(t) / 20;
    reopened.close();
    return { workspaces: n, saveAllMs, loadMs, restartMs, auditMs, repairMs, saveOneMs };
  } finally {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
    await ns.drop();
  }
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number);
  for (const n of sizes.length > 0 ? sizes : [100, 1000, 5000]) {
    const row = await measure(n);
    console.log(Object.entries(row).map(([k, v]) => `${k}=${Math.round(v * 10) / 10}`).join(' '));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
