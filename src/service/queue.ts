/**
 * Ordering for registry operations: one queue per workspace, so that requests for one
 * workspace take effect strictly in arrival order while different workspaces proceed
 * side by side.
 */

/** Runs tasks one at a time per key, in the order they were queued. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Queues `task` behind every earlier task of `key`; settles as `task` does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const result = before.then(task);

    // The tail only records when the task is over; a failure belongs to its own caller.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** How many keys have work queued or running. */
  get busyKeys(): number {
    return this.tails.size;
  }
}
