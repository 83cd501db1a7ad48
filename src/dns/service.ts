/**
 * DNS for workspaces: the daemon answers on each workspace's gateway, forwards allowed
 * questions to the host's resolvers, and learns the addresses of allowed names into the
 * kernel before the answer goes back, so that the first connection already passes.
 */
import type { Logger } from 'pino';
import type { Answer } from 'dns-packet';
import type { Enforcer, WorkspaceChange } from '../enforce/types';
import type { Workspace } from '../model/types';
import type { Ipv4Range } from '../net/ipv4';
import { encodeReply, rcodeOf, readQuery, type Query, type Rcode } from './message';
import {
  AliasBook, dnsWorkspace, followChain, type AnsweredAddress, type Chain, type DnsWorkspace,
} from './policy';
import { LearnedAddresses, type LearnedNetlink } from './learned';
import { hostAddressReader, rebindingReason } from './rebinding';
import { NameRefresher } from './refresh';
import { GatewayListeners, type Peer } from './listeners';
import type { Upstream } from './upstream';
import { SETS } from '../compile/layout';

/** What the DNS service needs of the daemon. */
export interface DnsServiceOptions {
  nl: LearnedNetlink;
  table: string;
  upstream: Upstream;
  /** how long learned addresses outlive their answer's TTL */
  graceMs: number;
  workspaceNet: Ipv4Range;
  log: Logger;
  /** the port listened on; 53 but in tests */
  port?: number;
  /** how often open connections are looked for; default sweepInterval(graceMs) */
  sweepMs?: number;
  hostAddresses?: () => ReadonlySet<string>;
}

/**
 * How often the learned set looks for open connections: at least twice within the grace
 * period, so that no entry runs out between two looks (every entry lives its grace at least).
 */
export function sweepInterval(graceMs: number): number {
  return Math.min(5000, Math.max(500, graceMs / 2));
}

/** Questions of one workspace in flight at once; more are SERVFAIL until some finish. */
export const MAX_IN_FLIGHT = 128;

const PASSED_RCODES: readonly string[] = ['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED', 'NOTIMP'];

/** The daemon's DNS for its workspaces. */
export class DnsService {
  private readonly workspaces = new Map<string, DnsWorkspace>();
  private byIp = new Map<string, DnsWorkspace>();
  private readonly inFlight = new Map<string, number>();
  private readonly aliases = new AliasBook();
  private readonly learned: LearnedAddresses;
  private readonly refresher: NameRefresher;
  private readonly listeners: GatewayListeners;
  private readonly hostAddresses: () => ReadonlySet<string>;

  constructor(private readonly o: DnsServiceOptions) {
    const log = o.log.child({ part: 'dns' });
    this.learned = new LearnedAddresses(o.nl, {
      table: o.table, graceMs: o.graceMs, sweepMs: o.sweepMs ?? sweepInterval(o.graceMs), log,
      current: (id) => this.workspaces.get(id),
    });
    this.refresher = new NameRefresher(o.upstream, (name, chain) => this.learnFor(name, chain),
      log);
    this.listeners = new GatewayListeners((msg, peer) => this.answer(msg, peer), log, o.port);
    this.hostAddresses = o.hostAddresses ?? hostAddressReader();
  }

  /** Starts serving the workspaces of `registry` (the desired state the kernel holds). */
  async start(registry: ReadonlyMap<string, Workspace>): Promise<void> {
    this.learned.start();
    await this.update([...registry.values()].map((ws) => ({ prev: null, next: ws })));
  }

  /** Stops listening and resolving; learned addresses run out in the kernel by themselves. */
  close(): void {
    this.listeners.close();
    this.refresher.stop();
    this.learned.stop();
  }

  /**
   * `inner`, with DNS following every change it applies. The DNS side changes first, so a
   * name taken off a list is refused and its addresses withdrawn before the new rules
   * commit; when the kernel refuses the change, the DNS side goes back.
   */
  watch(inner: Enforcer): Enforcer {
    return {
      apply: async (changes, registry) => {
        await this.update(changes);
        try {
          await inner.apply(changes, registry);
        } catch (err) {
          await this.update(changes.map(({ prev, next }) => ({ prev: next, next: prev })));
          throw err;
        }
      },
      healthy: () => inner.healthy(),
    };
  }

  /** True while `addr` is open for `ws` through an answer for a name on its list now. */
  readonly isLearned = (ws: Workspace, addr: string): boolean => this.learned.isLearned(ws, addr);

  /** Puts the learned addresses back after the table was rebuilt (see LearnedAddresses). */
  reinstate(): Promise<void> {
    return this.learned.reinstate();
  }

  /**
   * The keys (hex) the daemon wrote into timeout set `set` and the kernel may still hold,
   * for the audit: egress_learned is the only timeout set, and the learned set its writer.
   */
  writtenKeys(set: string, since?: number): ReadonlySet<string> {
    return set === SETS.egressLearned ? this.learned.writtenKeys(since) : new Set();
  }

  /** The learned addresses, for diagnostics and tests. */
  learnedAddresses(): { workspace: string; addr: string; msLeft: number }[] {
    return this.learned.list();
  }

  /** The gateways listened on. */
  listening(): string[] {
    return this.listeners.listening();
  }

  private async update(changes: readonly WorkspaceChange[]): Promise<void> {
    let changed = false;
    for (const { prev, next } of changes) {
      const id = (next ?? prev)!.id;
      const view = next ? dnsWorkspace(next) : null;
      if (sameView(this.workspaces.get(id) ?? null, view)) continue;
      changed = true;
      if (view) this.workspaces.set(id, view);
      else this.workspaces.delete(id);
    }
    // Most changes (ports, links, public access) leave every DNS view as it was; the steps
    // below walk every workspace, which a PATCH at thousands of workspaces would feel.
    if (!changed) return;
    this.byIp = new Map([...this.workspaces.values()].map((w) => [w.ip, w]));
    this.aliases.retain(this.workspaces);
    this.refresher.follow(new Set([...this.workspaces.values()].flatMap((w) => [...w.names])));

    try {
      await this.learned.retain(this.workspaces);
    } catch (err) {
      this.o.log.error({ err }, 'withdrawing learned addresses failed');
    }
    await this.listeners.follow(new Set([...this.workspaces.values()].map((w) => w.gateway)));
  }

  /** One message from a workspace to its gateway. */
  private async answer(msg: Buffer, peer: Peer): Promise<Buffer | null> {
    const read = readQuery(msg);
    if (!read.ok) return read.reply;
    const q = read.query;
    const udp = peer.transport === 'udp';

    // Only a workspace of this host, asking its own gateway, while it has the internet.
    const ws = this.byIp.get(peer.address);
    if (!ws || ws.gateway !== peer.local || ws.mode === 'off') {
      return encodeReply(q, 'REFUSED', {}, udp);
    }
    const origin = this.aliases.admit(ws, q.name);
    if (origin === null || (ws.mode === 'allowlist' && q.question.class !== 'IN')) {
      this.o.log.debug({ workspace: ws.id, name: q.name }, 'dns name refused');
      return encodeReply(q, 'REFUSED', {}, udp);
    }

    // A workspace cannot queue unbounded work on the host's resolvers.
    const busy = this.inFlight.get(ws.id) ?? 0;
    if (busy >= MAX_IN_FLIGHT) return encodeReply(q, 'SERVFAIL', {}, udp);
    this.inFlight.set(ws.id, busy + 1);
    let res;
    try {
      res = await this.o.upstream.query(q.question);
    } catch (err) {
      this.o.log.warn({ err, workspace: ws.id, name: q.name }, 'dns upstream failed');
      return encodeReply(q, 'SERVFAIL', {}, udp);
    } finally {
      const left = (this.inFlight.get(ws.id) ?? 1) - 1;
      if (left > 0) this.inFlight.set(ws.id, left);
      else this.inFlight.delete(ws.id);
    }
    const rcode = (PASSED_RCODES.includes(rcodeOf(res)) ? rcodeOf(res) : 'SERVFAIL') as Rcode;
    const answers = (res.answers ?? []).filter((a) => a.type !== 'OPT');
    if (ws.mode === 'open') {
      return encodeReply(q, rcode, { answers, authorities: res.authorities ?? [] }, udp);
    }
    return this.answerListed(ws, origin, q, rcode, followChain(q.name, answers),
      res.authorities ?? [], udp);
  }

  /** An answer for a listed name: its addresses learned first, rebinding answers withheld. */
  private async answerListed(
    ws: DnsWorkspace, origin: string, q: Query, rcode: Rcode, chain: Chain,
    authorities: Answer[], udp: boolean,
  ): Promise<Buffer> {
    const { open, withheld } = this.screen(ws, chain);
    this.aliases.note(ws.id, origin, chain.aliases, this.o.graceMs);
    try {
      if (open.length > 0) await this.learned.learn(ws, origin, open);
    } catch (err) {
      this.o.log.error({ err, workspace: ws.id, name: q.name }, 'learning an answer failed');
      return encodeReply(q, 'SERVFAIL', {}, udp);
    }

    const answers = chain.records.filter((a) => !(a.type === 'A' && withheld.has(a.data)));
    const soa = authorities.filter((a) => a.type === 'SOA');
    return encodeReply(q, rcode, { answers, authorities: soa }, udp);
  }

  /** Splits a chain's addresses into those to open and those that must not be. */
  private screen(ws: DnsWorkspace, chain: Chain, quiet = false) {
    const open: AnsweredAddress[] = [];
    const withheld = new Set<string>();
    const ctx = { workspaceNet: this.o.workspaceNet, hostAddresses: this.hostAddresses };
    for (const a of chain.addresses) {
      const reason = rebindingReason(a.addr, ctx);
      if (reason === null) open.push(a);
      else withheld.add(a.addr);
      if (reason !== null && !quiet) {
        this.o.log.info({ workspace: ws.id, addr: a.addr, reason }, 'dns answer withheld');
      }
    }
    return { open, withheld };
  }

  /** The daemon's own answer for a listed name, learned for every workspace listing it. */
  private async learnFor(name: string, chain: Chain): Promise<void> {
    for (const ws of this.workspaces.values()) {
      if (ws.mode !== 'allowlist' || !ws.names.has(name)) continue;
      const { open } = this.screen(ws, chain, true);
      this.aliases.note(ws.id, name, chain.aliases, this.o.graceMs);
      try {
        if (open.length > 0) await this.learned.learn(ws, name, open);
      } catch (err) {
        this.o.log.error({ err, workspace: ws.id, name }, 'learning a refreshed answer failed');
      }
    }
  }
}

/** True when two DNS views (or absences) answer, learn and listen alike. */
function sameView(a: DnsWorkspace | null, b: DnsWorkspace | null): boolean {
  if (a === null || b === null) return a === b;
  return a.id === b.id && a.ip === b.ip && a.gateway === b.gateway && a.tap === b.tap &&
    a.mode === b.mode && a.names.size === b.names.size && [...a.names].every((n) => b.names.has(n));
}
