/**
 * The enforcer that drives the kernel: compiles, diffs against what it last committed,
 * commits one batch per call, and ends the connections a tightened policy no longer allows.
 */
import type { Logger } from 'pino';
import type { CommitResult, CtTuple, Op, TableFlags, TableReadBack, Family } from '../nft/types';
import type { Workspace } from '../model/types';
import { Enforcer, KernelError, WorkspaceChange } from './types';
import { compileWorkspace, CompiledWorkspace, CompileOptions } from '../compile/workspace';
import { diffWorkspace } from '../compile/diff';
import { FAMILY, cleared, skeleton, LayoutOptions } from '../compile/layout';
import { closing } from '../compile/closed';
import { describeOp, hintFor } from './describe';
import { hasEgressNames } from '../model/egress';
import { onlyWidens } from '../policy/widening';
import {
  auditTable, expectedTable, keyed, KeyedTable, summarize, type WrittenKeys,
} from './audit';
import type { OutboundRouter } from '../outbound/router';
import type { RoutingPlan } from '../outbound/routes';
import {
  connectionContext, endedByChanges, judgedAddresses, refusedByPolicy, type Judged,
} from './ending';

/** A change waiting for a conntrack sweep, with the registry it was applied against. */
type SweptChange = WorkspaceChange & { registry: ReadonlyMap<string, Workspace> };

/** The part of the netlink addon the enforcer uses. */
export interface Netlink {
  commit(ops: Op[]): Promise<CommitResult>;
  readTable(family: Family, name: string): Promise<TableReadBack | null>;
  ctList(): Promise<CtTuple[]>;
  ctDelete(tuples: CtTuple[]): Promise<number>;
}

/** Everything the enforcer needs of the config. */
export type KernelOptions = LayoutOptions & CompileOptions & {
  /** the table's NFT_TABLE_F_* flags: owner and persist unless config table_owner is off */
  tableFlags?: TableFlags;
  /**
   * The keys (hex of their bytes) the daemon wrote into a timeout set and the kernel may
   * have held at `since` (a read's start, Date.now()) or after, a fresh set per call; an
   * element read back with another key is a difference. None: the elements of timeout
   * sets do not count.
   */
  timeoutKeys?: (set: string, since: number) => ReadonlySet<string>;
};

/** What an audit found and did. */
export interface AuditResult {
  /** what differed from the desired state (empty: the kernel matched) */
  differences: string[];
  /** true when the table was rebuilt to repair them */
  repaired: boolean;
  /** a repair's time: the rebuild's commit, then the read-back that proved it */
  ms?: { repair: number; verify: number };
}

/** What the caller of reconcile already knows. */
export interface ReconcileHint {
  /** the table was deleted (a notification said so): rebuild without reading it first */
  missing?: boolean;
  /**
   * another program changed the table (a notification said so): whatever it did, close
   * the table and rebuild it without reading it first, as fast as a deleted one
   */
  foreign?: boolean;
}

/** A read-back with what the enforcer knew when it was taken. */
interface Reading {
  actual: TableReadBack | null;
  /** the table the applied state builds, at the read */
  expected: KeyedTable;
  /** what the daemon wrote into each timeout set, taken once the read was done */
  written?: WrittenKeys;
  /** the enforcer's counters at the read */
  suspicions: number;
  commits: number;
}

/** Commits workspaces' policies to the daemon's table, one transaction per change. */
export class KernelEnforcer implements Enforcer {
  /** Addresses the daemon's DNS opened for egress names (src/dns); their connections stay. */
  learned: ((ws: Workspace, addr: string) => boolean) | null = null;
  /** The namespace's connections kept from events; none: every sweep lists conntrack. */
  connections: { of(addresses: string[]): Promise<CtTuple[]> } | null = null;
  private readonly applied = new Map<string, CompiledWorkspace>();
  private tail: Promise<unknown> = Promise.resolve();
  private started = false;
  /** false from a foreign change (or a failed repair) until an audit finds the kernel right */
  private inSync = false;
  /**
   * counts suspect() calls and repairs begun, so that an audit that read the table before
   * one cannot clear it
   */
  private suspicions = 0;
  /** counts the daemon's own commits, so that an audit knows whether one came after its read */
  private commits = 0;
  /** called after a repair rebuilt the table, e.g. to put the DNS side's cache back */
  rebuilt: (() => Promise<void>) | null = null;
  /** the expected table keyed, and the applied workspaces it was built from */
  private expected: { from: CompiledWorkspace[]; table: KeyedTable } | null = null;

  constructor(
    private readonly nl: Netlink,
    private readonly o: KernelOptions,
    private readonly log: Logger,
    /** the policy routing of dedicated outbound IPs; none: every workspace masquerades */
    private readonly router: OutboundRouter | null = null,
  ) {}

  /**
   * Replaces the table with the skeleton and `registry`'s workspaces in one transaction
   * (an old table is deleted in the same batch, so no packet ever sees it missing), then
   * reads it back: healthy() is true only when it matches. `committed` runs between the
   * commit and the read-back: the drift monitor subscribes there, so that a foreign change
   * after the commit is either in the read-back or in a notification, never in neither.
   */
  async start(registry: ReadonlyMap<string, Workspace>, committed?: () => void): Promise<void> {
    await this.exclusive(async () => {
      let started = performance.now();
      await this.close(registry, 'start', 'missing');
      const compiled = [...registry.values()].map((ws) => compileWorkspace(ws, registry, this.o));
      const routing = await this.router?.reconcile(registry);
      await this.withRoutes(routing, () => this.rebuild(compiled));
      this.started = true;
      this.log.info({ workspaces: compiled.length, ms: msSince(started) }, 'table replaced');
      committed?.();

      started = performance.now();
      const differences = await this.verify();
      if (differences.length > 0) {
        this.log.error({ differences: summarize(differences) }, 'table differs after start');
      } else this.log.info({ ms: msSince(started) }, 'table verified');
      this.registry = registry;
    });
    await this.sweepAll('start');
  }

  /**
   * Compares the kernel's table with the desired state and, when they differ, rebuilds
   * the table in one transaction. Throws (leaving healthy() false) when the kernel
   * refuses the repair, e.g. while another process owns the table. Both sides of the
   * comparison are taken at one moment, so a change applied while it runs changes
   * nothing it finds; a repair after such a change reads the table again first.
   */
  async reconcile(reason: string, hint: ReconcileHint = {}): Promise<AuditResult> {
    // The read is taken where nothing commits, the comparison after it, in slices: changes
    // queue behind the read alone, and requests are served while it is compared.
    let started = performance.now();
    let found: { differences: string[]; commits: number } | null = null;
    if (!hint.missing && !hint.foreign) {
      const reading = await this.exclusive(async () => (this.started ? this.read() : null));
      if (reading === null) return { differences: [], repaired: false };
      found = { differences: await this.judge(reading), commits: reading.commits };
      if (found.differences.length === 0) return { differences: [], repaired: false };
    }

    return this.exclusive(async () => {
      if (!this.started) return { differences: [], repaired: false };
      const gone = `table ${FAMILY} ${this.o.table} is missing`;
      const changed = 'changed by another program';
      let differences = found ? found.differences : hint.missing ? [gone] : [changed];
      // A change committed since the read may have changed what differs: read again.
      if (found && found.commits !== this.commits) {
        started = performance.now();
        differences = await this.verify();
        if (differences.length === 0) return { differences, repaired: false };
      }

      // The repair is the commit: once it is in, every packet sees the table again.
      this.suspicions++;
      this.inSync = false;
      // Closed first: the rebuild takes seconds at thousands of workspaces, and a table that
      // differs (a flushed chain, a deleted element) may let anything through meanwhile.
      // A table deleted and made again (a saved ruleset restored) is there to replace.
      if (!differences.includes(gone) || !await this.close(this.registry, 'repair', 'missing')) {
        await this.close(this.registry, 'repair', 'differs');
      }
      await this.rebuild([...this.applied.values()]);
      const repair = msSince(started);
      this.log.warn({ reason, differences: summarize(differences), ms: repair }, 'table repaired');
      // Connections opened while the table was missing are not the policy's: end them next.
      void this.sweepAll('repair');
      await this.rebuilt?.().catch((err) => this.log.error({ err }, 'after-repair hook failed'));

      // The proof follows: healthy() stays false until the table reads back right.
      started = performance.now();
      const left = await this.verify();
      if (left.length > 0) throw new Error(`the repaired table still differs: ${left[0]}`);
      const verify = msSince(started);
      this.log.info({ ms: verify }, 'repaired table verified');
      return { differences, repaired: true, ms: { repair, verify } };
    });
  }

  /**
   * Compares the daemon's policy rules and routes with what it applied and puts back
   * what differs (logged `routes repaired`); cheap, so the drift monitor runs it often.
   */
  async auditRoutes(): Promise<string[]> {
    return this.exclusive(async () => (this.started && this.router ? this.router.audit() : []));
  }

  /** Marks the kernel as possibly changed by someone else: unhealthy until reconciled. */
  suspect(): void {
    this.suspicions++;
    if (this.started) this.inSync = false;
  }

  /** The registry the table was last built or changed from. */
  private registry: ReadonlyMap<string, Workspace> = new Map();
  /** Each workspace as the last committed change left it (null: deleted). */
  private readonly current = new Map<string, Workspace | null>();
  /** The conntrack sweep that has not started yet: changes committed since join it. */
  private sweepQueued: { changes: WorkspaceChange[]; done: Promise<void> } | null = null;

  /**
   * See Enforcer.apply. A change that may end connections resolves once they are ended:
   * by a sweep that starts after its commit and may serve other changes queued with it.
   */
  async apply(changes: WorkspaceChange[], registry: ReadonlyMap<string, Workspace>) {
    const conntrack = await this.exclusive(async () => {
      const started = process.hrtime.bigint();
      const ops: Op[] = [];
      const owners: (string | null)[] = [];
      const next = new Map<string, CompiledWorkspace | null>();

      for (const { prev, next: ws } of changes) {
        const id = (ws ?? prev)!.id;
        const compiled = ws ? compileWorkspace(ws, registry, this.o) : null;
        for (const op of diffWorkspace(this.o.table, this.applied.get(id) ?? null, compiled)) {
          ops.push(op);
          owners.push(id);
        }
        next.set(id, compiled);
      }
      await this.withRoutes(this.router?.plan(changes), async () => {
        if (ops.length > 0) await this.commit(ops, owners);
      });

      for (const [id, c] of next) {
        if (c) this.applied.set(id, c);
        else this.applied.delete(id);
      }
      for (const { prev, next: ws } of changes) this.current.set((ws ?? prev)!.id, ws);
      this.registry = registry;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Listing conntrack walks the host's whole table; a change that ends nothing skips it.
      const conntrack = onlyWidens(changes, registry) ? 'skipped' : 'listed';
      const workspaces = [...next.keys()];
      this.log.info({ workspaces, ops: ops.length, ms, conntrack }, 'policy applied');
      return conntrack;
    });
    if (conntrack === 'listed') await this.sweep(changes.map((c) => ({ ...c, registry })));
  }

  /**
   * Queues one listing of conntrack after every commit queued so far, or joins the one
   * queued and not yet started: changes committed in the meantime share a single walk.
   */
  private sweep(changes: SweptChange[]): Promise<void> {
    if (!this.sweepQueued) {
      const batch = { changes: [] as SweptChange[], done: Promise.resolve() };
      batch.done = this.exclusive(async () => {
        if (this.sweepQueued === batch) this.sweepQueued = null;
        await this.endDisallowed(batch.changes);
        // A deleted workspace needs no latest state once its own sweep has run.
        for (const { prev, next } of batch.changes) {
          const id = (next ?? prev)!.id;
          if (this.current.get(id) === null) this.current.delete(id);
        }
      });
      this.sweepQueued = batch;
    }
    this.sweepQueued.changes.push(...changes);
    return this.sweepQueued.done;
  }

  /**
   * See Enforcer.healthy. Cheap, for frequent polling: the comparison itself runs in
   * reconcile(), on every foreign change the monitor reports and periodically.
   */
  async healthy(): Promise<boolean> {
    return this.started && this.inSync;
  }

  /**
   * The whole table as one batch: replace the old one (if any) by skeleton and workspaces,
   * with no read first (`cleared`). An orphaned persist table is taken over.
   */
  private async rebuild(compiled: CompiledWorkspace[]): Promise<void> {
    const ops: Op[] = cleared(this.o.table);
    const owners: (string | null)[] = ops.map(() => null);
    for (const op of this.tableOps(compiled)) (ops.push(op.op), owners.push(op.owner));

    // The kernel inserts on the addon's worker thread: key the table the read-back after
    // this rebuild expects meanwhile, on the main thread.
    const committed = this.commit(ops, owners);
    try {
      this.expectation(compiled);
    } finally {
      await committed;
    }
    this.applied.clear();
    for (const c of compiled) this.applied.set(c.id, c);
  }

  /**
   * Commits the closed table (src/compile/closed.ts), so that every workspace is cut off
   * within milliseconds instead of exposed until the rebuild's commit (seconds at thousands
   * of workspaces). `missing`: only if no table exists, which the kernel answers itself
   * (`create table` is refused with EEXIST, and nothing changed). `differs`: in place of
   * the table that differs, in one transaction. Returns true when it closed the table; a
   * refusal is left to the rebuild, which reports it.
   */
  private async close(registry: ReadonlyMap<string, Workspace>, reason: string,
    when: 'missing' | 'differs'): Promise<boolean> {
    const started = performance.now();
    const taps: string[] = [];
    for (const ws of registry.values()) if (ws.interface !== null) taps.push(ws.interface);
    this.commits++;
    const result = await this.nl.commit(closing(this.o, taps, this.o.tableFlags, when));
    if (!result.ok) {
      // A table of that name exists (EEXIST), or another process owns it (EPERM).
      if (when === 'missing' && result.index === 0) return false;
      this.log.error({ reason, errno: result.errno, message: result.message },
        'closing the table was refused');
      return false;
    }
    // To a tenth of a millisecond: at a few hundred taps it takes about one.
    const ms = Math.round((performance.now() - started) * 10) / 10;
    this.log.warn({ reason, taps: taps.length, ms }, `table ${when}: closed until rebuilt`);
    return true;
  }

  /** The operations that build the desired table from nothing, each with its workspace. */
  private tableOps(compiled: Iterable<CompiledWorkspace>): { op: Op; owner: string | null }[] {
    const out = skeleton(this.o).map((op) => ({ op, owner: null as string | null }));
    const first = out[0].op;
    if (first.kind === 'table' && first.op !== 'delete' && this.o.tableFlags) {
      out[0] = { op: { ...first, flags: this.o.tableFlags }, owner: null };
    }
    for (const c of compiled) {
      for (const op of diffWorkspace(this.o.table, null, c)) out.push({ op, owner: c.id });
    }
    return out;
  }

  /** Reads the table back and records whether it matches; returns the differences. */
  private async verify(): Promise<string[]> {
    return this.judge(await this.read());
  }

  /** Reads the table back; run it where nothing commits, so both sides are of one moment. */
  private async read(): Promise<Reading> {
    const [suspicions, commits] = [this.suspicions, this.commits];
    const expected = this.expectation();
    const started = Date.now();
    const actual = await this.nl.readTable(FAMILY, this.o.table);
    return { actual, expected, written: this.written(expected, started), suspicions, commits };
  }

  /**
   * The keys the daemon wrote into each timeout set, taken after the read: the DNS side
   * writes outside the exclusive section, and records a key before its commit and the time
   * its element left the kernel, so anything of its own the read (from `started`) saw is
   * here, and a key it deleted before the read is not.
   */
  private written(expected: KeyedTable, started: number): WrittenKeys | undefined {
    const source = this.o.timeoutKeys;
    if (!source) return undefined;
    const timeout = expected.state.sets.filter((s) => s.spec.timeout);
    return new Map(timeout.map((s) => [s.spec.name, source(s.spec.name, started)]));
  }

  /**
   * Compares a reading, in slices, and records whether the kernel matched. Commits of the
   * daemon's own after the read keep a table that matched matching; anything else that
   * could change it (suspect(), a repair begun) leaves healthy() false.
   */
  private async judge(reading: Reading): Promise<string[]> {
    const { expected, actual, written } = reading;
    const differences = await auditTable(expected, actual, undefined, written);
    if (differences.length > 0) this.inSync = false;
    else if (this.suspicions === reading.suspicions) this.inSync = true;
    return differences;
  }

  /** The keyed expected table of `from`, built again only when the workspaces changed. */
  private expectation(from = [...this.applied.values()]): KeyedTable {
    const kept = this.expected;
    if (kept && kept.from.length === from.length && kept.from.every((c, i) => c === from[i])) {
      return kept.table;
    }
    const table = keyed(expectedTable(this.tableOps(from).map((o) => o.op)));
    this.expected = { from, table };
    return table;
  }

  /**
   * Routes first, then the table: the plan's rules and routes are sent (undone op by op
   * when the kernel refuses one), then `commitTable` runs; when that is refused the routes
   * are undone as well. A failure at any step leaves neither side half done.
   */
  private async withRoutes(plan: RoutingPlan | undefined, commitTable: () => Promise<void>) {
    if (!plan || !this.router) return commitTable();
    await this.router.apply(plan);
    try {
      await commitTable();
    } catch (err) {
      await this.router.undo(plan);
      throw err;
    }
    this.router.keep(plan);
  }

  private async commit(ops: Op[], owners: (string | null)[]): Promise<void> {
    this.commits++;
    const result = await this.nl.commit(ops);
    if (result.ok) return;
    const op = ops[result.index];
    throw new KernelError(
      op ? describeOp(op) : `operation ${result.index}`,
      owners[result.index] ?? null,
      result.errno,
      result.message,
      hintFor(result.errno, this.o.table),
    );
  }

  /**
   * Ends open connections of the changed workspaces that their policies no longer allow,
   * judged by each workspace's latest committed state (a later change may have widened it
   * again since the change that queued this).
   */
  private async endDisallowed(changes: SweptChange[]) {
    const judged: Judged[] = changes.map(({ prev, next, registry }) => {
      const id = (next ?? prev)!.id;
      const latest = this.current.has(id) ? (this.current.get(id) ?? null) : next;
      return { prev, next: latest, ctx: this.context(registry) };
    });
    try {
      // Only entries with a judged workspace's old or new address at one end can be ended.
      const tuples = this.connections
        ? await this.connections.of(judgedAddresses(judged))
        : await this.nl.ctList();
      const deletable = endedByChanges(tuples, judged, this.o.zones ?? []);
      if (deletable.length === 0) return;
      const ended = await this.nl.ctDelete(deletable);
      this.log.info({ ended, changes: changes.length }, 'connections ended');
    } catch (err) {
      this.log.error({ err }, 'ending disallowed connections failed');
    }
  }

  /**
   * After a start or a repair: ends every connection that no workspace's policy admits.
   * While the table was missing (deleted by hand, or flushed while the daemon was down),
   * conntrack may have taken in connections the policy refuses, and the forward chain
   * accepts established connections first. One listing, each entry judged by the
   * workspaces at its two ends, found by address.
   */
  private sweepAll(reason: string): Promise<void> {
    return this.exclusive(async () => {
      // At start the DNS side has learned nothing yet: a workspace with names on its egress
      // list keeps its connections to addresses it may have resolved before the restart.
      const learned = reason === 'start'
        ? (ws: Workspace) => hasEgressNames(ws.network.egress)
        : this.learned ?? undefined;
      const ctx = connectionContext(this.o, this.registry, learned);
      try {
        const doomed = refusedByPolicy(await this.nl.ctList(), ctx);
        if (doomed.length === 0) return;
        const ended = await this.nl.ctDelete(doomed);
        this.log.warn({ ended, reason }, 'connections the policy refuses ended');
      } catch (err) {
        this.log.error({ err, reason }, 'ending refused connections failed');
      }
    });
  }

  /** What stillAllowed needs to know of the host, for `registry`. */
  private context(registry: ReadonlyMap<string, Workspace>) {
    return connectionContext(this.o, registry, this.learned ?? undefined);
  }

  /** Runs `fn` after every earlier kernel operation, so transactions never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function msSince(started: number): number {
  return Math.round(performance.now() - started);
}
