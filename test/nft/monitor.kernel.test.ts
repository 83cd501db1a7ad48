/**
 * NftMonitor against the kernel: a commit is announced object by object, closed by a
 * newgen, and carries the committing socket's port, so the daemon can tell its own
 * changes from another program's (here `nft`). Each test runs in its own namespace.
 */
import t from 'tap';

import { NftMonitor, type MonitorEvent, touches } from '../../src/nft/monitor';
import { fixture } from './fixtures/netns';

/** Collects events until `done` says enough, or the time is up. */
function collect(ns: string, t: Parameters<typeof fixture>[0]) {
  const events: MonitorEvent[] = [];
  const monitor = NftMonitor.open((batch) => events.push(...batch), { netns: `/run/netns/${ns}` });
  t.teardown(() => monitor.close());
  const until = async (done: (e: MonitorEvent[]) => boolean, ms = 2000) => {
    const deadline = Date.now() + ms;
    while (!done(events) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return events;
  };
  return { events, until };
}

t.test('a commit is announced with the committing socket port, then newgen', async (t) => {
  const f = fixture(t);
  const { until } = collect(f.ns, t);
  const result = await f.sock.commit([
    { op: 'create', kind: 'table', family: 'inet', name: 'mt' },
    { op: 'create', kind: 'chain', family: 'inet', table: 'mt', name: 'c' },
  ]);
  t.same(result, { ok: true });

  const events = await until((e) => e.some((x) => x.type === 'newgen'));
  const mine = f.sock.portId();
  t.same(
    events.map((e) => [e.type, 'portid' in e ? e.portid : null]),
    [['newtable', mine], ['newchain', mine], ['newgen', mine]],
  );
  t.ok(touches(events[0], 'inet', 'mt'));
  t.notOk(touches(events[0], 'ip', 'mt'), 'another family is another table');
});

t.test('a change by another program carries that program port', async (t) => {
  const f = fixture(t);
  await f.sock.commit([{ op: 'create', kind: 'table', family: 'inet', name: 'mt' }]);
  const { until } = collect(f.ns, t);
  f.exec(['nft', 'delete', 'table', 'inet', 'mt']);

  const events = await until((e) => e.some((x) => x.type === 'newgen'));
  const deleted = events.find((e) => e.type === 'deltable');
  t.ok(deleted && touches(deleted, 'inet', 'mt'), 'deltable names the table');
  t.not(deleted && 'portid' in deleted ? deleted.portid : null, f.sock.portId());
  const gen = events.find((e) => e.type === 'newgen');
  t.match(gen, { type: 'newgen', comm: 'nft' });
});

t.test('notifications of another namespace are not seen', async (t) => {
  const a = fixture(t);
  const b = fixture(t);
  const { events } = collect(a.ns, t);
  b.exec(['nft', 'add', 'table', 'inet', 'elsewhere']);
  await new Promise((r) => setTimeout(r, 200));
  t.same(events, []);
});

t.test('bad arguments are TypeErrors', async (t) => {
  t.throws(() => NftMonitor.open(42 as never), TypeError);
  t.throws(() => NftMonitor.open(() => {}, { netns: 7 as never }), TypeError);
});
