/**
 * The conntrack entries of the daemon's namespace, kept in memory from conntrack events so
 * that a narrowing change looks up its workspaces' connections instead of listing the
 * table: the kernel's dump walks every bucket of the host-wide hash (about 11 ms however
 * few entries this namespace holds), a lookup here touches only the entries asked for.
 *
 * The table is only as good as the events it saw, so it answers from memory only while
 * it can prove it saw them all: subscribed before the listing that filled it, no event
 * dropped since (ENOBUFS), the socket alive, the kernel sending events at all, and every
 * address asked for inside what it keeps. Otherwise a lookup lists conntrack as before
 * (and refills the table from that listing). A connection the new policy refuses is never
 * left open because an event went missing; at worst a change costs the listing again.
 */
import type { Logger } from 'pino';

import type { CtBatch, CtEvent } from '../nft/ct-monitor';
import type { CtTuple } from '../nft/types';

/** The event stream the table reads: the addon's CtMonitor, or a fake in tests. */
export interface CtEventSource {
  /** hands every event queued now to the subscriber before it returns */
  drain(): void;
  close(): void;
}

/** What the table is built from. */
export interface ConnectionsTableOptions {
  /** lists every IPv4 entry of the namespace (NftSocket.ctList) */
  list(): Promise<CtTuple[]>;
  /** subscribes to the namespace's events; called once, before the first listing */
  subscribe(onBatch: (batch: CtBatch) => void): CtEventSource;
  /** the addresses whose entries are kept (an entry with neither end covered is not) */
  covers(addr: string): boolean;
  /** false while the kernel sends no events (sysctl nf_conntrack_events = 0) */
  eventsEnabled(): boolean;
  /** how often eventsEnabled is read between lookups (default EVENTS_CHECK_MS) */
  eventsCheckMs?: number;
  log: Logger;
}

/**
 * Events switched off and on again between two lookups leave entries the table never saw,
 * and a read at lookup time finds the sysctl on: so it is also read this often, and one
 * read of 0 makes the next lookup list. A few microseconds a read.
 */
export const EVENTS_CHECK_MS = 50;

/** Why the last lookups listed conntrack, and how often; for logs and tests. */
export interface ConnectionsStats {
  /** lookups answered from memory */
  fromMemory: number;
  /** listings, including the ones that filled the table at open */
  listings: number;
  /** batches in which the kernel reported dropped events */
  overruns: number;
  /** entries held now */
  entries: number;
}

/** The namespace's conntrack entries by original tuple, indexed by both ends' addresses. */
export class ConnectionsTable {
  private readonly entries = new Map<string, CtTuple>();
  private readonly byAddress = new Map<string, Set<string>>();
  private readonly source: CtEventSource;
  /** true once a listing saw everything the events had not, with no event dropped since */
  private trusted = false;
  /** the socket failed: no event will come again, so every lookup lists */
  private broken = false;
  /** events that arrived while a listing ran, applied again on top of it */
  private replay: CtEvent[] | null = null;
  private overruns = 0;
  private listings = 0;
  private fromMemory = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly watch: NodeJS.Timeout;

  private constructor(private readonly o: ConnectionsTableOptions) {
    this.source = o.subscribe((batch) => this.take(batch));
    this.watch = setInterval(() => {
      if (!this.o.eventsEnabled()) this.trusted = false;
    }, o.eventsCheckMs ?? EVENTS_CHECK_MS);
    this.watch.unref();
  }

  /**
   * Subscribes, then fills the table from two listings. An entry the kernel allocated just
   * before the subscription carries no event extension (with nf_conntrack_events = 2 the
   * kernel adds it only while a listener exists), so it sends no event when it is
   * confirmed; the first listing can pass its bucket just before that, the second cannot.
   */
  static async open(o: ConnectionsTableOptions): Promise<ConnectionsTable> {
    const table = new ConnectionsTable(o);
    try {
      await table.relist();
      await table.relist();
    } catch (err) {
      table.close();
      throw err;
    }
    return table;
  }

  /**
   * The entries with one of `addresses` at either end of their original tuple: from
   * memory when the table is proven complete, else from a listing that starts now.
   */
  async of(addresses: Iterable<string>): Promise<CtTuple[]> {
    this.source.drain();
    const wanted = new Set(addresses);
    const reason = this.distrust(wanted);
    if (reason === null) {
      this.fromMemory++;
      return this.collect(wanted);
    }
    this.o.log.info({ reason }, 'conntrack listed instead of looked up');
    const listed = await this.relist();
    return listed.filter((t) => wanted.has(t.src) || wanted.has(t.dst));
  }

  /** Why memory cannot answer for `wanted` now; null when it can. */
  private distrust(wanted: Set<string>): string | null {
    if (this.broken) return 'event socket closed';
    if (!this.o.eventsEnabled()) return 'nf_conntrack_events is 0';
    if (!this.trusted) return 'events may have been missed';
    for (const addr of wanted) if (!this.o.covers(addr)) return `${addr} outside what is kept`;
    return null;
  }

  /** Counters of how lookups were answered. */
  stats(): ConnectionsStats {
    const { fromMemory, listings, overruns } = this;
    return { fromMemory, listings, overruns, entries: this.entries.size };
  }

  /** Stops the subscription; lookups list from then on. */
  close(): void {
    this.broken = true;
    clearInterval(this.watch);
    this.source.close();
  }

  /**
   * Lists conntrack and makes the table that listing plus every event that arrived while
   * it ran, in order. Trusted afterwards unless an event was dropped in the meantime.
   * Listings run one at a time.
   */
  private relist(): Promise<CtTuple[]> {
    const run = this.tail.then(async () => {
      const overruns = this.overruns;
      this.replay = [];
      let listed: CtTuple[];
      try {
        listed = await this.o.list();
        this.source.drain();
      } catch (err) {
        this.replay = null;
        throw new Error('listing conntrack for the connections table failed', { cause: err });
      }
      const replay = this.replay;
      this.replay = null;
      this.listings++;

      this.entries.clear();
      this.byAddress.clear();
      for (const t of listed) this.add(t);
      for (const e of replay) this.apply(e);
      this.trusted = !this.broken && this.overruns === overruns && this.o.eventsEnabled();
      return listed;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** One batch from the socket. */
  private take({ events, overrun, error }: CtBatch): void {
    if (overrun) {
      this.overruns++;
      this.trusted = false;
      this.o.log.warn({ overruns: this.overruns }, 'conntrack events dropped');
    }
    if (error) {
      this.broken = true;
      this.trusted = false;
      this.o.log.error({ errno: error.errno }, 'conntrack event socket failed');
    }
    this.replay?.push(...events);
    for (const e of events) this.apply(e);
  }

  private apply({ type, tuple }: CtEvent): void {
    if (type === 'new') this.add(tuple);
    else this.remove(tuple);
  }

  private add(t: CtTuple): void {
    if (!this.o.covers(t.src) && !this.o.covers(t.dst)) return;
    const key = keyOf(t);
    if (this.entries.has(key)) this.remove(t, key);
    this.entries.set(key, t);
    this.index(t.src, key);
    if (t.dst !== t.src) this.index(t.dst, key);
  }

  private index(addr: string, key: string): void {
    const keys = this.byAddress.get(addr);
    if (keys) keys.add(key);
    else this.byAddress.set(addr, new Set([key]));
  }

  private remove(t: CtTuple, key = keyOf(t)): void {
    if (!this.entries.delete(key)) return;
    for (const addr of [t.src, t.dst]) {
      const keys = this.byAddress.get(addr);
      if (keys?.delete(key) && keys.size === 0) this.byAddress.delete(addr);
    }
  }

  private collect(addresses: Set<string>): CtTuple[] {
    const keys = new Set<string>();
    for (const addr of addresses) for (const key of this.byAddress.get(addr) ?? []) keys.add(key);
    return [...keys].map((key) => this.entries.get(key)!);
  }
}

/** What identifies an entry: its original tuple (zones are not used on this host). */
function keyOf(t: CtTuple): string {
  const ends = `${t.proto} ${t.src}:${t.sport} ${t.dst}:${t.dport}`;
  return t.icmp ? `${ends} ${t.icmp.id}/${t.icmp.type}/${t.icmp.code}` : ends;
}
