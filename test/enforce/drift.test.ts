/**
 * The drift monitor's decisions, with a fake notification source and enforcer: what
 * makes it reconcile (a foreign change to the daemon's table, lost notifications, the
 * periodic audit), what does not (its own commits, other tables), and retries.
 */
import t, { type Test } from 'tap';
import pino from 'pino';
import { DriftMonitor } from '../../src/enforce/drift';
import type { MonitorEvent } from '../../src/nft/monitor';
import type { ReconcileHint } from '../../src/enforce/kernel';

const OWN = 4242;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function setup(t: Test, opts: { failures?: number; auditIntervalMs?: number } = {}) {
  let failures = opts.failures ?? 0;
  const calls: string[] = [];
  const hints: (ReconcileHint | undefined)[] = [];
  let suspicions = 0;
  let emit: (events: MonitorEvent[]) => void = () => {};
  const enforcer = {
    async reconcile(reason: string, hint?: ReconcileHint) {
      calls.push(reason);
      hints.push(hint);
      if (failures-- > 0) throw new Error('EPERM');
      return { differences: [], repaired: false };
    },
    suspect: () => void suspicions++,
  };
  const drift = new DriftMonitor(enforcer, {
    table: 'workspace_netd',
    ownPortId: OWN,
    openMonitor: (onEvents) => ((emit = onEvents), { close() {} }),
    auditIntervalMs: opts.auditIntervalMs ?? 60_000,
    log: pino({ level: 'silent' }),
  });
  drift.start();
  t.teardown(() => drift.close());
  const emitNow = (e: MonitorEvent[]) => emit(e);
  return { drift, calls, hints, emit: emitNow, suspicions: () => suspicions };
}

const ev = (type: string, table: string, portid: number, family = 'inet'): MonitorEvent =>
  ({ type, family, table, portid });

t.test('a burst of foreign changes to the table is one reconcile', async (t) => {
  const s = setup(t);
  s.emit([ev('delchain', 'workspace_netd', 77), ev('deltable', 'workspace_netd', 77)]);
  s.emit([{ type: 'newgen', genId: 3, pid: 77, comm: 'nft', portid: 77 }]);
  t.equal(s.suspicions(), 1, 'unhealthy at once');
  await s.drift.idle();
  t.same(s.calls, ['foreign change']);
});

t.test('the daemon\'s own commits and other tables are not drift', async (t) => {
  const s = setup(t);
  s.emit([ev('newchain', 'workspace_netd', OWN), ev('deltable', 'other', 77),
    ev('deltable', 'workspace_netd', 77, 'ip')]);
  await sleep(60);
  t.same(s.calls, []);
  t.equal(s.suspicions(), 0);
});

t.test('lost notifications are drift', async (t) => {
  const s = setup(t);
  s.emit([{ type: 'overrun' }]);
  await s.drift.idle();
  t.same(s.calls, ['notifications lost']);
});

t.test('a refused repair is retried until it passes', async (t) => {
  const s = setup(t, { failures: 2 });
  s.emit([ev('newtable', 'workspace_netd', 77)]);
  await sleep(600);
  await s.drift.idle();
  t.same(s.calls, ['foreign change', 'foreign change', 'foreign change']);
  t.ok(s.suspicions() >= 3, 'unhealthy after each failure');
});

t.test('a change during a reconcile makes one more follow', async (t) => {
  const s = setup(t);
  s.emit([ev('delrule', 'workspace_netd', 77)]);
  await sleep(30);
  s.emit([ev('delrule', 'workspace_netd', 77)]);
  s.emit([ev('delrule', 'workspace_netd', 77)]);
  await sleep(60);
  await s.drift.idle();
  t.ok(s.calls.length >= 2 && s.calls.length <= 3, `${s.calls.length} runs`);
});

t.test('the periodic audit reconciles without any notification', async (t) => {
  const s = setup(t, { auditIntervalMs: 30 });
  const audits = () => s.calls.filter((c) => c === 'periodic audit').length;
  // Waits for the count, not a fixed time: on a loaded host two 30 ms periods can take longer.
  for (const deadline = Date.now() + 5000; audits() < 2 && Date.now() < deadline;) {
    await sleep(10);
  }
  t.ok(audits() >= 2, `${audits()} periodic audits`);
});

t.test('a deleted or changed table is rebuilt without a read first; an overrun is read',
  async (t) => {
  const s = setup(t);
  s.emit([ev('delrule', 'workspace_netd', 77)]);
  await s.drift.idle();
  s.emit([ev('delchain', 'workspace_netd', 77), ev('deltable', 'workspace_netd', 77)]);
  await s.drift.idle();
  s.emit([{ type: 'overrun' }]);
  await s.drift.idle();
  t.same(s.hints, [{ foreign: true }, { missing: true }, undefined]);
});

t.test('a refused repair of a deleted table is retried as one', async (t) => {
  const s = setup(t, { failures: 1 });
  s.emit([ev('deltable', 'workspace_netd', 77)]);
  await sleep(300);
  await s.drift.idle();
  t.same(s.hints, [{ missing: true }, { missing: true }]);
});

