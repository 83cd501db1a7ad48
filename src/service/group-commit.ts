/**
 * Group commit: the registry's requests that queue while a transaction is in flight go
 * into the next one together, as one kernel transaction and one SQLite transaction, and
 * each caller is answered once both are done. A lone request starts at once (on the next
 * microtask). Every commit that adds a jump makes nf_tables validate the whole table, and
 * each SQLite commit is an fsync, so under load one batch costs about what one request did
 * (README: Performance).
 *
 * Each request is planned against the state the requests before it in the batch leave, as
 * if they ran one after another; one whose plan throws fails alone. When the kernel or the
 * store refuses the batch, which request caused it is not known: the requests go again one
 * by one, each its own transaction, so that only the refused one fails and changes nothing.
 */
import type { Logger } from 'pino';
import type { Enforcer, WorkspaceChange } from '../enforce/types';
import type { Workspace } from '../model/types';
import type { DurableState } from '../state/durable';
import type { PersistentMap } from './persistent-map';

/** The desired state: immutable maps, one after another. */
export type Registry = PersistentMap<Workspace>;

/** What one request changes, planned against the state before it. */
export interface Step {
  /** the state once the request is done */
  after: Registry;
  /** workspaces the kernel recompiles: the request's own, and those whose links follow it */
  applied: readonly string[];
  /** workspaces stored without a kernel change (remote ones a DELETE unlinks) */
  stored?: readonly string[];
}

/** A request waiting for its transaction. */
export interface Request<R> {
  /** the workspace the request names, for the log */
  id: string;
  /** checks the request against `state` and plans it; throws what its caller should hear */
  plan(state: Registry): Step;
  /** once the change is in the kernel, on disk and in memory: follow-ups and the answer */
  done(): Promise<R>;
  /** once the change was refused: undoes what was done before it was planned */
  refused?(): Promise<void>;
}

/** What group commit needs of the registry. */
export interface GroupCommitOptions {
  enforcer: Enforcer;
  durable?: DurableState;
  logger?: Logger;
  /** the current desired state */
  current(): Registry;
  /** replaces it, once a batch is in the kernel and on disk */
  commit(state: Registry): void;
}

interface Queued {
  request: Request<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** Runs the registry's requests in batches; see the module comment. */
export class GroupCommit {
  private pending: Queued[] = [];
  private running = false;

  constructor(private readonly o: GroupCommitOptions) {}

  /** Queues `request` for the next transaction; settles as the request does. */
  submit<R>(request: Request<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queued = { request, resolve, reject } as Queued;
      this.pending.push(queued);
      if (this.running) return;
      this.running = true;
      queueMicrotask(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await this.run(batch);
    }
    this.running = false;
  }

  /** Plans, commits and answers one batch; every request settles, nothing throws. */
  private async run(batch: Queued[]): Promise<void> {
    const base = this.o.current();
    let state = base;
    const planned: { queued: Queued; step: Step }[] = [];
    for (const queued of batch) {
      try {
        const step = queued.request.plan(state);
        planned.push({ queued, step });
        state = step.after;
      } catch (err) {
        await refuse(queued, err);
      }
    }
    if (planned.length === 0) return;

    const steps = planned.map((p) => p.step);
    try {
      await this.transaction(base, state, steps, planned[0].queued.request.id);
    } catch (err) {
      if (planned.length === 1) return refuse(planned[0].queued, err);
      // Which request was refused is not known from the batch: each goes again alone.
      this.o.logger?.info({ requests: planned.length, err }, 'batch refused; one by one');
      for (const { queued } of planned) await this.run([queued]);
      return;
    }
    this.o.commit(state);
    for (const { queued } of planned) {
      await queued.request.done().then(queued.resolve, queued.reject);
    }
  }

  /** Applies and stores the move from `base` to `after` that `steps` make, in one go. */
  private async transaction(base: Registry, after: Registry, steps: Step[], first: string) {
    const applied = new Set(steps.flatMap((s) => s.applied));
    const ids = new Set([...applied, ...steps.flatMap((s) => s.stored ?? [])]);
    const changes: WorkspaceChange[] = [];
    for (const id of applied) {
      const change = { prev: base.get(id) ?? null, next: after.get(id) ?? null };
      if (change.prev || change.next) changes.push(change);
    }
    if (changes.length === 0 && [...ids].every((id) => base.get(id) === after.get(id))) return;

    const started = performance.now();
    // Only the ids a batch names, as they were: the durable layer needs no copy of the rest.
    const before = new Map<string, Workspace>();
    for (const id of ids) {
      const ws = base.get(id);
      if (ws) before.set(id, ws);
    }
    if (changes.length > 0) await this.o.enforcer.apply(changes, after);
    await this.o.durable?.record(changes, before, after, ids);

    const ms = Math.round(performance.now() - started);
    const who = steps.length === 1 ? { workspace: first } : { requests: steps.length };
    this.o.logger?.info({ ...who, changes: changes.length, ms }, 'desired state changed');
  }
}

/** Fails `queued` with `err`, after its undo step (whose own failure it then reports). */
async function refuse(queued: Queued, err: unknown): Promise<void> {
  try {
    await queued.request.refused?.();
  } catch (undoErr) {
    return queued.reject(undoErr);
  }
  queued.reject(err);
}
