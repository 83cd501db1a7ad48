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

interface Waiter {
  exclusive: boolean;
  start: () => void;
}

/**
 * A readers-writer gate, first come first served. Shared holders run together; an
 * exclusive holder runs alone. A waiting exclusive holder blocks later shared ones, so a
 * stream of PATCHes cannot starve a DELETE.
 */
export class Gate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: Waiter[] = [];

  /** Runs `task` alongside other shared holders. */
  withShared<T>(task: () => Promise<T>): Promise<T> {
    return this.hold(false, task);
  }

  /** Runs `task` alone. */
  withExclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.hold(true, task);
  }

  private async hold<T>(exclusive: boolean, task: () => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      this.waiting.push({ exclusive, start });
      this.admit();
    });
    try {
      return await task();
    } finally {
      if (exclusive) this.exclusive = false;
      else this.shared -= 1;
      this.admit();
    }
  }

  private admit(): void {
    while (this.waiting.length > 0 && !this.exclusive) {
      const next = this.waiting[0];
      if (next.exclusive && this.shared > 0) return;

      this.waiting.shift();
      if (next.exclusive) this.exclusive = true;
      else this.shared += 1;
      next.start();
    }
  }
}
