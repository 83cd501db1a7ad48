/**
 * Conntrack events in the test's namespace: a connection opened over lo arrives as a new
 * event with its original tuple and leaves as a destroy event when it is deleted; a
 * receive buffer too small for a burst reports the overrun. Through the connections
 * table, lookups then answer from memory, and an entry older than the subscription is
 * found by the listing that fills the table.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import pino from 'pino';
import t, { type Test } from 'tap';

import { ConnectionsTable } from '../../src/enforce/connections-table';
import { CtMonitor, type CtBatch, type CtEvent } from '../../src/nft/ct-monitor';
import type { CtTuple } from '../../src/nft/types';
import { fixture } from './fixtures/netns';
import { IPPROTO_TCP, tracking } from './fixtures/tracking';

// Runs inside the namespace: a server on 127.0.0.1 and one more idle connection to it per
// line read from stdin, printing each connection's ports once established.
const connector = `
const net = require('node:net');
const server = net.createServer(() => {});
const held = [];
server.listen(0, '127.0.0.1', () => {
  require('node:readline').createInterface({ input: process.stdin }).on('line', () => {
    const c = net.connect(server.address().port, '127.0.0.1', () => {
      console.log(JSON.stringify({ sport: c.localPort, dport: server.address().port }));
    });
    held.push(c);
  });
});`;

/** A namespace that tracks, and a process in it that opens connections on demand. */
async function tracked(t: Test) {
  const f = fixture(t);
  f.exec(['ip', 'link', 'set', 'lo', 'up']);
  t.same(await f.sock.commit(tracking), { ok: true });
  const child = spawn('ip', ['netns', 'exec', f.ns, process.execPath, '-e', connector], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  /** Opens one connection and returns its original tuple. */
  const open = async (): Promise<CtTuple> => {
    child.stdin!.write('\n');
    const { value } = (await lines.next()) as { value: string };
    const { sport, dport } = JSON.parse(value) as { sport: number; dport: number };
    return { proto: IPPROTO_TCP, src: '127.0.0.1', dst: '127.0.0.1', sport, dport };
  };
  return { ...f, open };
}

/** Collects events; `until` resolves once one matches. */
function collector() {
  const seen: CtEvent[] = [];
  const batches: CtBatch[] = [];
  let wake = () => undefined as void;
  const onBatch = (b: CtBatch) => {
    batches.push(b);
    seen.push(...b.events);
    wake();
  };
  const until = async (match: (e: CtEvent) => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!seen.some(match)) {
      if (Date.now() > deadline) throw new Error('no such event within the deadline');
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return seen.find(match)!;
  };
  return { seen, batches, onBatch, until };
}

const same = (a: CtTuple, b: CtTuple) => a.sport === b.sport && a.dport === b.dport;

t.test('a connection arrives as a new event and leaves as a destroy event', async (t) => {
  const f = await tracked(t);
  const events = collector();
  const monitor = CtMonitor.open(events.onBatch, { netns: `/run/netns/${f.ns}` });
  t.teardown(() => monitor.close());

  const tuple = await f.open();
  const born = await events.until((e) => e.type === 'new' && same(e.tuple, tuple));
  t.same(born.tuple, { ...tuple, replyDst: '127.0.0.1' }, 'the original tuple, as ctList has it');

  t.equal(await f.sock.ctDelete([tuple]), 1);
  const died = await events.until((e) => e.type === 'destroy' && same(e.tuple, tuple));
  t.same(died.tuple, { ...tuple, replyDst: '127.0.0.1' });
  t.notOk(events.batches.some((b) => b.overrun), 'no overrun');
});

t.test('drain() hands over what is queued before it returns', async (t) => {
  const f = await tracked(t);
  const events = collector();
  const monitor = CtMonitor.open(events.onBatch, { netns: `/run/netns/${f.ns}` });
  t.teardown(() => monitor.close());

  const tuple = await f.open();
  // The connection is established, so its entry is confirmed: the event is queued.
  events.seen.length = 0;
  monitor.drain();
  await f.sock.ctDelete([tuple]);
  monitor.drain();
  t.ok(events.seen.some((e) => e.type === 'destroy' && same(e.tuple, tuple)),
    'the destroy event, with no turn of the event loop');
});

t.test('a burst that overruns a small receive buffer is reported', async (t) => {
  const f = await tracked(t);
  const events = collector();
  const monitor = CtMonitor.open(events.onBatch, { netns: `/run/netns/${f.ns}`, rcvbuf: 4096 });
  t.teardown(() => monitor.close());

  // 300 UDP flows while this thread is blocked in execFileSync, so nothing reads the socket.
  const burst = `const s = require('node:dgram').createSocket('udp4');
    let n = 0;
    const next = () => (n++ < 300 ? s.send('x', 10000 + n, '127.0.0.1', next) : s.close());
    next();`;
  execFileSync('ip', ['netns', 'exec', f.ns, process.execPath, '-e', burst]);
  monitor.drain();
  t.ok(events.batches.some((b) => b.overrun), 'overrun reported');
  t.ok(events.seen.length < 600, `only ${events.seen.length} events of 300 new ones arrived`);
});

t.test('the connections table follows the namespace from events', async (t) => {
  const f = await tracked(t);
  const before = await f.open();
  const sysctl = f.exec(['cat', '/proc/sys/net/netfilter/nf_conntrack_events']);
  const events = sysctl.trim() !== '0';
  const table = await ConnectionsTable.open({
    list: () => f.sock.ctList(),
    subscribe: (onBatch) => CtMonitor.open(onBatch, { netns: `/run/netns/${f.ns}` }),
    covers: (addr) => addr === '127.0.0.1',
    eventsEnabled: () => events,
    log: pino({ level: 'silent' }),
  });
  t.teardown(() => table.close());

  const after = await f.open();
  const ports = async () => (await table.of(['127.0.0.1'])).map((c) => c.sport).sort();
  t.same(await ports(), [before.sport, after.sport].sort(), 'the listed one and the new one');

  await f.sock.ctDelete([after]);
  t.same(await ports(), [before.sport], 'a deleted one is gone');
  t.match(table.stats(), { listings: 2, fromMemory: 2, overruns: 0 }, 'all from memory');
});
