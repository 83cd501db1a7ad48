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

interface Entry {
  wsId: string;
  wsIp: string;
  tap: string;
  addr: string;
  /** the listed names whose answers gave this address */
  origins: Set<string>;
  /** when the kernel drops it, by the daemon's clock (never later than the kernel's) */
  expiresAt: number;
}

/** The daemon's record of egress_learned, and the only writer of it. */
export class LearnedAddresses {
  private readonly entries = new Map<string, Entry>();
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
      const elements: Element[] = [];
      const updates: Entry[] = [];
      for (const { addr, ttl } of addrs) {
        const need = started + Math.min(ttl, MAX_TTL_S) * 1000 + this.o.graceMs;
        const known = this.entries.get(key(ws.id, addr));
        const entry: Entry = known && known.tap === ws.tap
          ? { ...known, origins: new Set(known.origins).add(origin) }
          : { wsId: ws.id, wsIp: ws.ip, tap: ws.tap, addr, origins: new Set([origin]),
            expiresAt: 0 };
        if (entry.expiresAt < need - SLACK_MS) {
          entry.expiresAt = Math.max(entry.expiresAt, need);
          elements.push({ key: elementKey(ws.tap, addr), timeout: entry.expiresAt - started });
        }
        updates.push(entry);
      }

      if (elements.length > 0) await this.commit('add', elements);
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

      for (const e of doomed) this.entries.delete(key(e.wsId, e.addr));
      const now = Date.now();
      const live = doomed.filter((e) => e.expiresAt > now);
      await this.remove(live.map((e) => ({ key: elementKey(e.tap, e.addr) })));
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
      const elements = live.map((e) => ({ key: elementKey(e.tap, e.addr),
        timeout: e.expiresAt - now }));
      if (elements.length > 0) await this.commit('add', elements);
    });
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
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
    if (this.entries.size === 0) return;

    const keepFor = 3 * this.o.sweepMs;
    const soon = [...this.entries.values()].filter((e) => e.expiresAt - now < 2 * this.o.sweepMs);
    try {
      const tuples = soon.length > 0 ? (await this.nl.ctList()).filter(isOpen) : [];
      const open = new Set(tuples.map((t) => `${t.src} ${t.dst}`));
      for (const e of soon) {
        if (open.has(`${e.wsIp} ${e.addr}`)) e.expiresAt = Math.max(e.expiresAt, now + keepFor);
      }
      const elements = [...this.entries.values()].map((e) => ({
        key: elementKey(e.tap, e.addr), timeout: Math.max(1, e.expiresAt - now),
      }));
      await this.commit('add', elements);
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

  private async commit(verb: 'add', elements: Element[]): Promise<void> {
    const res = await this.nl.commit([this.op(verb, elements)]);
    if (!res.ok) throw commitError(verb, res.message);
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

function commitError(verb: string, reason: string): Error {
  return new Error(`kernel refused to ${verb} learned addresses: ${reason}`);
}
