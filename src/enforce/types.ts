/**
 * The boundary between the registry (desired state) and the kernel: the registry says
 * what a set of workspaces should now be, the enforcer makes the kernel match in one
 * transaction, or throws and leaves the kernel as it was.
 */
import type { Workspace } from '../model/types';

/** One workspace's move from `prev` to `next`; null on either side means absent. */
export interface WorkspaceChange {
  prev: Workspace | null;
  next: Workspace | null;
}

/** Makes the kernel follow the registry. */
export interface Enforcer {
  /**
   * Applies every change in one atomic transaction. `registry` is the whole desired state
   * after the change (used to resolve private links). Throws KernelError when the kernel
   * refuses; then nothing changed.
   */
  apply(changes: WorkspaceChange[], registry: ReadonlyMap<string, Workspace>): Promise<void>;
  /** True once the kernel state matches the last applied desired state. */
  healthy(): Promise<boolean>;
}

/** The kernel refused a transaction: which operation, for which workspace, and why. */
export class KernelError extends Error {
  /** @param operation a readable name of the refused operation, e.g. "add rule ws_a_out" */
  constructor(
    readonly operation: string,
    readonly workspace: string | null,
    readonly errno: number,
    readonly reason: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(`kernel refused ${operation}${workspace ? ` for ${workspace}` : ''}: ${reason}`, options);
    this.name = 'KernelError';
  }
}
