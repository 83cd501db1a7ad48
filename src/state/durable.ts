/**
 * The order that makes a 200 mean "in the kernel and on disk": the kernel first, then one
 * SQLite transaction, then the answer. A crash between the two leaves a change that was
 * never acknowledged in the kernel only; at the next start the database is the truth and
 * the table is rebuilt from it, so that change is gone whole, never half there. When the
 * write itself fails, the change is taken back out of the kernel before the error goes
 * back to the caller, so a refused request still changes nothing.
 */
import type { Logger } from 'pino';
import type { Enforcer, WorkspaceChange } from '../enforce/types';
import type { Workspace } from '../model/types';
import type { StateChange } from './store';

/** What the durable layer writes to: StateStore. */
export interface ChangeSink {
  save(change: StateChange): void;
}

/** Called when a change is in the kernel but neither stored nor taken back. */
export type Fatal = (err: Error) => void;

/** Records each change the kernel accepted; see the module comment. */
export class DurableState {
  /**
   * @param fatal what to do when the kernel keeps a change the store lost: the daemon
   *   exits, and its next start rebuilds the table from the database
   */
  constructor(
    private readonly store: ChangeSink,
    private readonly enforcer: Enforcer,
    private readonly log: Logger,
    private readonly fatal: Fatal,
  ) {}

  /**
   * Stores the move from `before` to `after`, which the kernel has just accepted as
   * `changes`. Throws after taking them back out of the kernel when the write fails.
   * `ids`, when given, are every id that may differ between the two (StateChange.ids);
   * then `before` need hold only those ids, as they were.
   */
  async record(
    changes: readonly WorkspaceChange[],
    before: ReadonlyMap<string, Workspace>,
    after: ReadonlyMap<string, Workspace>,
    ids?: ReadonlySet<string>,
  ): Promise<void> {
    let failure: unknown;
    try {
      this.store.save({ before, after, ids });
      return;
    } catch (err) {
      failure = err;
    }

    this.log.error({ err: failure }, 'storing the desired state failed; reverting the kernel');
    const inverse = changes.map(({ prev, next }) => ({ prev: next, next: prev }));
    try {
      await this.enforcer.apply(inverse, ids ? restore(after, before, ids) : before);
    } catch (err) {
      const lost = new Error('a change is in the kernel but not stored, and reverting it failed',
        { cause: err });
      this.fatal(lost);
      throw lost;
    }
    throw new Error('the change could not be stored; it was taken back out of the kernel', {
      cause: failure,
    });
  }
}

/** The whole registry before a change: `after` with the `ids` put back as `before` has them. */
function restore(
  after: ReadonlyMap<string, Workspace>,
  before: ReadonlyMap<string, Workspace>,
  ids: ReadonlySet<string>,
): Map<string, Workspace> {
  const registry = new Map(after);
  for (const id of ids) {
    const ws = before.get(id);
    if (ws) registry.set(id, ws);
    else registry.delete(id);
  }
  return registry;
}
