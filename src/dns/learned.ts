/**
 * Addresses learned from DNS answers for allowed names, kept as elements of the shared
 * timeout set egress_learned (tap . address). The kernel drops an element when its timeout
 * runs out; the daemon sets that timeout to the answer's TTL plus a grace period, restarts
 * it while a connection to the address is open, and deletes elements at once when the
 * policy that justified them goes away. All changes to the set run one at a time.
 */
import type { Logger } from 'pino';
import type { CommitResult, CtTuple, Element, Op } from '../nft/types';
import type { Workspace } from '../model/types';
import { concat, ifname, ipv4 } from '../nft/bytes';
import { FAMILY, SETS } from '../compile/layout';
import { egressNames, type AnsweredAddress, type DnsWorkspace } from './policy';

/** The part of the addon the learned set uses. */
export interface LearnedNetlink {
  commit(ops: Op[]): Promise<CommitResult>;
  ctList(): Promise<CtTuple[]>;
}

/** How the learned set behaves. */
export interface LearnedOptions {
  table: string;
  /** kept this long past an answer's TTL */
  graceMs: number;
  /** how often open connections are looked for among entries about to expire */
  sweepMs: number;
  /** the workspace as the DNS service knows it now (policies change while answers fly) */
  current(id: string): DnsWorkspace | undefined;
  log: Logger;
}

/** A TTL above a day is taken as a day: the daemon re-resolves long before anyway. */
export const MAX_TTL_S = 86_400;
// An answer that would extend an entry by less than this leaves the kernel alone.
const SLACK_MS = 1000;
const ENOENT = 2;
/**
 * How long the time a key's element left the kernel is kept: an audit asks for the keys
 * of a read that started before it left (README: Drift), and no read takes this long.
 */
const RETIRED_KEEP_MS = 60_000;

interface Entry {
  wsId: string;
  wsIp: string;
  tap: string;
  addr: string;
  /** the listed names whose answers gave this address */
  origins: Set<string>;
  /** when the kernel drops it, by the daemon's clock (never later than the kernel's) */
  expiresAt: number;
  /** when the kernel drops it at the latest: its clock starts at the commit, not before */
  kernelBy: number;
  /** the element's key, in hex */
  hex: string;
}

/** The daemon's record of egress_learned, and the only writer of it. */
export class LearnedAddresses {
  private readonly entries = new Map<string, Entry>();
  /** keys of elements in a commit not yet answered */
  private readonly pending = new Set<string>();
  /** keys no longer entries whose element the kernel may still hold: until when */
  private readonly retired = new Map<string, number>();
  private tail: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly nl: LearnedNetlink,
    private readonly o: LearnedOptions,
  ) {}

  /** Starts the sweep that keeps entries with open connections alive. */
  start(): void {
    this.timer = setInterval(() => void this.serial(() => this.sweep()), this.o.sweepMs);
    this.timer.unref();
  }

  /** Stops the sweep; the kernel's elements run out by themselves. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Opens `addrs` for `ws`, reached from its listed name `origin`, until their TTL plus the
   * grace period. Resolves once the kernel has them; throws when the kernel refused.
   */
  learn(ws: DnsWorkspace, origin: string, addrs: readonly AnsweredAddress[]): Promise<void> {
    return this.serial(async () => {
      // Checked here, in order with retain(): a policy that dropped the name wins.
      const now = this.o.current(ws.id);
      if (!now || now.tap !== ws.tap || !now.names.has(origin) || now.mode !== 'allowlist') return;

      const started = Date.now();
      const stated: Entry[] = [];
      const updates: Entry[] = [];
      for (const { addr, ttl } of addrs) {
        const need = started + Math.min(ttl, MAX_TTL_S) * 1000 + this.o.graceMs;
        const known = this.entries.get(key(ws.id, addr));
        // One learned under another tap is forgotten: the audit has its element removed.
        if (known && known.tap !== ws.tap) this.retire(known, started);
        const entry: Entry = known && known.tap === ws.tap
          ? { ...known, origins: new Set(known.origins).add(origin) }
          : { wsId: ws.id, wsIp: ws.ip, tap: ws.tap, addr, origins: new Set([origin]),
            expiresAt: 0, kernelBy: 0, hex: hexOf(elementKey(ws.tap, addr)) };
        if (entry.expiresAt < need - SLACK_MS) {
          entry.expiresAt = Math.max(entry.expiresAt, need);
          stated.push(entry);
        }
        updates.push(entry);
      }

      if (stated.length > 0) await this.add(stated, started);
      for (const e of updates) this.entries.set(key(e.wsId, e.addr), e);
    });
  }

  /**
   * Keeps what `workspaces` (every local workspace, now) still justify and deletes the
   * rest from the kernel: a workspace gone, its tap changed, or its names no longer listed.
   */
  retain(workspaces: ReadonlyMap<string, DnsWorkspace>): Promise<void> {
    return this.serial(async () => {
      const doomed: Entry[] = [];
      for (const entry of this.entries.values()) {
        const ws = workspaces.get(entry.wsId);
        const listed = ws && ws.tap === entry.tap && ws.mode === 'allowlist'
          ? [...entry.origins].filter((o) => ws.names.has(o)) : [];
        if (listed.length > 0) entry.origins = new Set(listed);
        else doomed.push(entry);
      }
      if (doomed.length === 0) return;

      // Forgotten once deleted (or refused: the audit then has the table rebuilt without it).
      const now = Date.now();
      const live = doomed.filter((e) => e.kernelBy > now);
      try {
        await this.remove(live.map((e) => ({ key: elementKey(e.tap, e.addr) })));
      } finally {
        for (const e of doomed) (this.entries.delete(key(e.wsId, e.addr)), this.retire(e, now));
      }
      this.o.log.info({ addresses: doomed.length }, 'learned addresses withdrawn');
    });
  }

  /**
   * Puts every learned address that has not run out back into the kernel, with the time it
   * has left: after the daemon rebuilt its table (a repair), the set started empty.
   */
  reinstate(): Promise<void> {
    return this.serial(async () => {
      const now = Date.now();
      const live = [...this.entries.values()].filter((e) => e.expiresAt > now + SLACK_MS);
      if (live.length > 0) await this.add(live, now);
    });
  }

  /**
   * The keys (hex of their bytes) of every element the daemon wrote and the kernel may
   * have held at `since` or after, in a set of their own: each entry's, however close to
   * its expiry, those being committed, and those deleted or run out since then. An audit
   * passes the time its read started, so that a key deleted before it is no longer the
   * daemon's: an element with it is foreign.
   */
  writtenKeys(since = -Infinity): Set<string> {
    const now = Date.now();
    const out = new Set(this.pending);
    for (const e of this.entries.values()) out.add(e.hex);
    for (const [hex, gone] of this.retired) {
      if (gone >= since) out.add(hex);
      if (gone < now - RETIRED_KEEP_MS) this.retired.delete(hex);
    }
    return out;
  }

  /** True while `addr` is open for `ws` by an answer for a name on its egress list now. */
  isLearned(ws: Workspace, addr: string): boolean {
    const entry = this.entries.get(key(ws.id, addr));
    if (!entry || entry.tap !== ws.interface || entry.expiresAt <= Date.now()) return false;
    const names = egressNames(ws.network.egress);
    return [...entry.origins].some((o) => names.has(o));
  }

  /** Every entry, for tests and diagnostics: workspace, address, ms left. */
  list(): { workspace: string; addr: string; msLeft: number }[] {
    const now = Date.now();
    return [...this.entries.values()].map((e) => ({
      workspace: e.wsId, addr: e.addr, msLeft: e.expiresAt - now,
    }));
  }

  /**
   * Restarts the clock of entries about to expire whose address has an open connection,
   * and restates every entry in one batch: that also puts back what a rebuild of the table
   * (a repair after a foreign change) took away, within one sweep.
   */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [k, e] of this.entries) {
      if (e.expiresAt <= now) (this.entries.delete(k), this.retire(e, e.kernelBy));
    }
    if (this.entries.size === 0) return;

    const keepFor = 3 * this.o.sweepMs;
    const soon = [...this.entries.values()].filter((e) => e.expiresAt - now < 2 * this.o.sweepMs);
    try {
      const tuples = soon.length > 0 ? (await this.nl.ctList()).filter(isOpen) : [];
      const open = new Set(tuples.map((t) => `${t.src} ${t.dst}`));
      for (const e of soon) {
        if (open.has(`${e.wsIp} ${e.addr}`)) e.expiresAt = Math.max(e.expiresAt, now + keepFor);
      }
      await this.add([...this.entries.values()], now);
    } catch (err) {
      this.o.log.error({ err }, 'restating learned addresses failed');
    }
  }

  /** Deletes elements; one that already timed out in the kernel is ENOENT and is skipped. */
  private async remove(elements: Element[]): Promise<void> {
    if (elements.length === 0) return;
    const res = await this.nl.commit([this.op('delete', elements)]);
    if (res.ok) return;
    if (res.errno !== ENOENT) throw commitError('delete', res.message);

    for (const el of elements) {
      const one = await this.nl.commit([this.op('delete', [el])]);
      if (!one.ok && one.errno !== ENOENT) throw commitError('delete', one.message);
    }
  }

  /**
   * Adds (or restates) the elements of `entries` with the time each has left at `from`.
   * Their keys are reported from before the commit, so that an audit that reads the table
   * meanwhile knows them; each entry's kernelBy follows the commit.
   */
  private async add(entries: Entry[], from: number): Promise<void> {
    const timeouts = entries.map((e) => Math.max(1, e.expiresAt - from));
    const elements = entries.map((e, i) => ({ key: elementKey(e.tap, e.addr),
      timeout: timeouts[i] }));
    for (const e of entries) this.pending.add(e.hex);
    try {
      const res = await this.nl.commit([this.op('add', elements)]);
      if (!res.ok) throw commitError('add', res.message);
      const done = Date.now();
      entries.forEach((e, i) => (e.kernelBy = Math.max(e.kernelBy, done + timeouts[i])));
    } finally {
      this.pending.clear();
    }
  }

  /** Records that `e`'s element left the kernel at `gone` (or will have by then). */
  private retire(e: Entry, gone: number): void {
    this.retired.set(e.hex, Math.max(this.retired.get(e.hex) ?? 0, gone));
  }

  private op(verb: 'add' | 'delete', elements: Element[]): Op {
    return { op: verb, kind: 'elements', family: FAMILY, table: this.o.table,
      set: SETS.egressLearned, elements };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

// TCP_CONNTRACK_TIME_WAIT and _CLOSE (linux/netfilter/nf_conntrack_tcp.h): a closed
// connection's entry lingers for minutes and keeps nothing open.
const TCP_TIME_WAIT = 7;
const TCP_CLOSE = 8;

/** True for an entry of a connection still open (any UDP flow conntrack still holds). */
function isOpen(t: CtTuple): boolean {
  return t.tcpState !== TCP_TIME_WAIT && t.tcpState !== TCP_CLOSE;
}

function key(wsId: string, addr: string): string {
  return `${wsId} ${addr}`;
}

function elementKey(tap: string, addr: string): Uint8Array {
  return concat(ifname(tap), ipv4(addr));
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function commitError(verb: string, reason: string): Error {
  return new Error(`kernel refused to ${verb} learned addresses: ${reason}`);
}
