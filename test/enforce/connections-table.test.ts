/**
 * The connections table's bookkeeping over a fake event source: events add and remove
 * entries, events that arrive during a listing are applied on top of it, and the table
 * answers from memory only while it can prove it saw every event; otherwise it lists.
 */
import pino from 'pino';
import t from 'tap';

import { ConnectionsTable } from '../../src/enforce/connections-table';
import type { CtBatch } from '../../src/nft/ct-monitor';
import type { CtTuple } from '../../src/nft/types';

const log = pino({ level: 'silent' });

const tcp = (src: string, dst: string, sport = 40000, dport = 443): CtTuple =>
  ({ proto: 6, src, dst, sport, dport, replyDst: src });
const A = '10.0.1.2';
const B = '10.0.2.2';
const out = '198.18.0.10';

/**
 * A kernel stand-in: `conntrack` is what a listing returns; events pushed with `queue`
 * wait in the "socket" until drain() (or `deliver`, the event loop's read) hands them over.
 */
function fake(conntrack: CtTuple[] = []) {
  const state = {
    conntrack,
    listings: 0,
    events: true,
    /** runs inside a listing, before it returns: what happens while the kernel walks */
    during: null as (() => void) | null,
  };
  let onBatch: (batch: CtBatch) => void = () => undefined;
  const queued: CtBatch[] = [];
  const deliver = () => {
    for (const batch of queued.splice(0)) onBatch(batch);
  };
  const table = ConnectionsTable.open({
    async list() {
      state.listings++;
      const listed = [...state.conntrack];
      state.during?.();
      return listed;
    },
    subscribe(fn) {
      onBatch = fn;
      return { drain: deliver, close: () => undefined };
    },
    covers: (addr) => addr.startsWith('10.'),
    eventsEnabled: () => state.events,
    eventsCheckMs: 5,
    log,
  });
  const queue = (batch: Partial<CtBatch>) => queued.push({ events: [], overrun: false, ...batch });
  const born = (tuple: CtTuple) => {
    state.conntrack.push(tuple);
    queue({ events: [{ type: 'new', tuple }] });
  };
  const died = (tuple: CtTuple) => {
    state.conntrack = state.conntrack.filter((c) => JSON.stringify(c) !== JSON.stringify(tuple));
    queue({ events: [{ type: 'destroy', tuple }] });
  };
  return { table, state, queue, deliver, born, died };
}

const ports = (tuples: CtTuple[]) => tuples.map((c) => c.sport).sort();

t.test('open lists twice; lookups then answer from memory as events come and go', async (t) => {
  const k = fake([tcp(A, out, 1), tcp(B, out, 2)]);
  const table = await k.table;
  t.equal(k.state.listings, 2, 'two listings at open');

  t.same(ports(await table.of([A])), [1], 'what the listing found');
  k.born(tcp(A, out, 3));
  k.born(tcp(out, A, 4));
  t.same(ports(await table.of([A])), [1, 3, 4], 'new entries, by either end, drained first');
  k.died(tcp(A, out, 1));
  k.deliver();
  t.same(ports(await table.of([A, B])), [2, 3, 4], 'a destroyed entry is gone');
  t.equal(k.state.listings, 2, 'no listing after open');
  t.same(table.stats(), { fromMemory: 3, listings: 2, overruns: 0, entries: 3 });
});

t.test('events that arrive while a listing runs are applied on top of it', async (t) => {
  const k = fake([tcp(A, out, 1), tcp(A, out, 2)]);
  k.state.during = () => {
    k.born(tcp(A, out, 3)); // confirmed after the walk passed its bucket
    k.died(tcp(A, out, 1)); // destroyed after the walk read it
    k.state.during = null;
  };
  const table = await k.table;
  t.same(ports(await table.of([A])), [2, 3]);
});

t.test('dropped events make the next lookup list, and the one after trust memory', async (t) => {
  const k = fake([tcp(A, out, 1)]);
  const table = await k.table;
  k.state.conntrack.push(tcp(A, out, 2)); // its event was lost
  k.queue({ overrun: true });

  t.same(ports(await table.of([A])), [1, 2], 'listed again');
  t.equal(k.state.listings, 3);
  t.same(ports(await table.of([A])), [1, 2], 'and refilled from it');
  t.equal(k.state.listings, 3, 'from memory again');
});

t.test('events dropped during the listing leave the table untrusted', async (t) => {
  const k = fake([tcp(A, out, 1)]);
  const table = await k.table;
  k.queue({ overrun: true });
  k.state.during = () => {
    k.queue({ overrun: true });
    k.state.during = null;
  };
  await table.of([A]);
  t.equal(k.state.listings, 3);
  await table.of([A]);
  t.equal(k.state.listings, 4, 'lists once more, then trusts it');
  await table.of([A]);
  t.equal(k.state.listings, 4);
});

t.test('a failed socket, or no events from the kernel, lists every time', async (t) => {
  const k = fake([tcp(A, out, 1)]);
  const table = await k.table;
  k.state.events = false;
  await table.of([A]);
  await table.of([A]);
  t.equal(k.state.listings, 4, 'nf_conntrack_events = 0');

  k.state.events = true;
  await table.of([A]);
  await table.of([A]);
  t.equal(k.state.listings, 5, 'once events are back, one listing refills it');

  k.queue({ error: { errno: 9 } });
  await table.of([A]);
  await table.of([A]);
  t.equal(k.state.listings, 7, 'no event will come again');
});

t.test('events switched off and on between two lookups make the next one list', async (t) => {
  const k = fake([tcp(A, out, 1)]);
  const table = await k.table;
  await table.of([A]);
  const listings = k.state.listings;

  k.state.events = false;
  await new Promise((r) => setTimeout(r, 40));
  k.state.events = true;
  await table.of([A]);
  t.equal(k.state.listings, listings + 1, 'the kernel may have skipped events meanwhile');
  await table.of([A]);
  t.equal(k.state.listings, listings + 1, 'then memory again');
  table.close();
});

t.test('an address outside what the table keeps is looked up in a listing', async (t) => {
  const k = fake([tcp('192.168.1.5', out, 1), tcp(A, out, 2)]);
  const table = await k.table;
  t.equal(table.stats().entries, 1, 'an entry with neither end covered is not kept');
  t.same(ports(await table.of(['192.168.1.5'])), [1]);
  t.equal(k.state.listings, 3);
});

t.test('ICMP entries are told apart by echo id', async (t) => {
  const ping = (id: number): CtTuple =>
    ({ proto: 1, src: A, dst: out, sport: 0, dport: 0, icmp: { id, type: 8, code: 0 } });
  const k = fake([ping(1)]);
  const table = await k.table;
  k.born(ping(2));
  k.died(ping(1));
  t.same((await table.of([A])).map((c) => c.icmp?.id), [2]);
});

t.test('a listing that fails fails the lookup, which then lists again', async (t) => {
  const k = fake([tcp(A, out, 1)]);
  const table = await k.table;
  k.queue({ overrun: true });
  k.state.during = () => {
    throw Object.assign(new Error('ENOBUFS'), { code: 'ENOBUFS' });
  };
  const err = await table.of([A]).catch((e: Error) => e);
  t.match(err, { message: /listing conntrack/, cause: { code: 'ENOBUFS' } });
  k.state.during = null;
  t.same(ports(await table.of([A])), [1]);
});
