/**
 * A counting semaphore with a FIFO queue: `max_connections` requests are handled at once, the others wait
 * their turn (never refused). A limit of 0 means unlimited.
 */
export type Release = () => void;

export class Semaphore {
  private activeCount = 0;
  private readonly queue: Array<(release: Release) => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`invalid concurrency limit ${limit}`);
  }

  /** Requests being handled now. */
  get active(): number {
    return this.activeCount;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function once a slot is free; calling the release more than once is harmless. */
  acquire(): Promise<Release> {
    if (this.limit === 0 || this.activeCount < this.limit) {
      this.activeCount++;
      return Promise.resolve(this.makeRelease());
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  private makeRelease(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // The slot passes straight to the next waiter, so a newcomer can never overtake the queue.
      if (next) next(this.makeRelease());
      else this.activeCount--;
    };
  }
}
