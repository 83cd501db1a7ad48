/**
 * A test double for the kernel boundary: records every apply() call, and can be told to
 * refuse the next one with a KernelError or to hold it until the test releases it. The
 * real enforcer is tested against the kernel elsewhere.
 */
import { type Enforcer, KernelError, type WorkspaceChange } from '../../src/enforce/types';
import type { Workspace } from '../../src/model/types';

/** One recorded apply() call. */
export interface ApplyCall {
  changes: WorkspaceChange[];
  registry: ReadonlyMap<string, Workspace>;
}

/** An Enforcer that records instead of touching the kernel. */
export class RecordingEnforcer implements Enforcer {
  /** every apply() call, in the order it was made (including refused ones) */
  readonly calls: ApplyCall[] = [];
  /** what healthy() answers */
  ready = true;
  private refusals: KernelError[] = [];
  private holds: Map<string, Promise<void>> = new Map();
  private refused = new Set<string>();

  /** Records the call; refuses it if told to; waits while its workspace is held. */
  async apply(changes: WorkspaceChange[], registry: ReadonlyMap<string, Workspace>) {
    this.calls.push({ changes, registry });
    const id = (changes[0].next ?? changes[0].prev)!.id;

    const hold = this.holds.get(id);
    if (hold) await hold;

    const refusal = this.refusals.shift();
    if (refusal) throw refusal;
    const always = changes.map((c) => (c.next ?? c.prev)!.id).find((i) => this.refused.has(i));
    if (always) throw new KernelError(`add element ${always} in_port`, always, 17, 'File exists');
  }

  /** Refuses every apply() that changes workspace `id`, alone or with others. */
  refuseAlways(id: string): void {
    this.refused.add(id);
  }

  /** See Enforcer.healthy. */
  async healthy(): Promise<boolean> {
    return this.ready;
  }

  /** Makes the next apply() throw a KernelError like the real enforcer's. */
  refuseNext(operation = 'add element ws_a in_port', errno = 17, reason = 'File exists') {
    this.refusals.push(new KernelError(operation, 'ws_a', errno, reason, 'a stale element'));
  }

  /** Holds every apply() for workspace `id` until the returned function is called. */
  hold(id: string): () => void {
    let release!: () => void;
    this.holds.set(id, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.holds.delete(id);
      release();
    };
  }

  /** The ids of each change of call `n`. */
  changedIds(n: number): string[] {
    return this.calls[n].changes.map((c) => (c.next ?? c.prev)!.id);
  }
}
