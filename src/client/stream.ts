import type { AdiError } from "../errors.ts";

/**
 * A push queue exposed as an async iterator: the connection pushes frames,
 * the caller pulls with `for await`. `return()` (leaving the loop) runs
 * `onCancel` so the daemon ends the stream.
 */
export class PushIterator<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private done = false;
  private error: AdiError | null = null;
  /** Items pushed so far, taken or not: where the stream stands against other answers of the same connection. */
  received = 0;
  /** Items dropped since the queue was full; told by one `skipped(n)` item once the reader has caught up. */
  private dropped = 0;

  /**
   * `maxQueued`: items kept waiting for a reader that does not keep up; the
   * rest are dropped, and once the reader has taken half of what waits,
   * `skipped(count)` stands in for them (a log follow's "… N lines skipped"
   * line, as the daemon sends when a reader falls behind on its side).
   */
  constructor(
    private readonly onCancel: () => void,
    private readonly maxQueued = Infinity,
    private readonly skipped?: (count: number) => T,
  ) {}

  push(item: T): void {
    if (this.done) return;
    this.received++;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
    } else if (this.dropped > 0 || this.items.length >= this.maxQueued) {
      this.dropped++;
    } else {
      this.items.push(item);
    }
  }

  end(error?: AdiError): void {
    if (this.done) return;
    this.done = true;
    this.error = error ?? null;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      if (this.error) w.reject(this.error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.dropped > 0 && this.items.length <= this.maxQueued / 2) {
      if (this.skipped) this.items.push(this.skipped(this.dropped));
      this.dropped = 0;
    }
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.done) {
      return this.error ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.done) {
      this.end();
      this.onCancel();
    }
    this.items.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
