/**
 * A pool of `limit` permits shared fairly between keys (clients, users): a key holds at most `perKey` of
 * them at once, and a freed permit goes to the waiting key that holds the fewest (first come first served
 * among equals), so a key with many requests never starves one with few. Waiters are never refused. A limit
 * of 0 means unlimited.
 */
export type Release = () => void;

interface Waiter {
  readonly key: string;
  readonly grant: (release: Release) => void;
}

export class FairPool {
  private activeCount = 0;
  private readonly held = new Map<string, number>();
  private readonly queue: Waiter[] = [];
  readonly perKey: number;

  constructor(
    readonly limit: number,
    perKey: number = limit,
  ) {
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`invalid concurrency limit ${limit}`);
    this.perKey = limit === 0 ? 0 : Math.max(1, Math.min(perKey, limit));
  }

  /** Permits in use now. */
  get active(): number {
    return this.activeCount;
  }

  /** Requests waiting for a permit. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Permits `key` holds now. */
  heldBy(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** Resolves with a release function once `key` may have a permit; releasing twice is harmless. */
  acquire(key: string): Promise<Release> {
    if (this.limit === 0) return Promise.resolve(this.take(key));
    // Every waiter that could be served already was, so a free permit cannot be anyone else's turn.
    if (this.activeCount < this.limit && this.heldBy(key) < this.perKey)
      return Promise.resolve(this.take(key));
    return new Promise((grant) => this.queue.push({ key, grant }));
  }

  private take(key: string): Release {
    this.activeCount++;
    this.held.set(key, this.heldBy(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.activeCount--;
      const left = this.heldBy(key) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
      this.serveWaiters();
    };
  }

  /** Gives free permits to the waiters whose keys hold the fewest, earliest first. */
  private serveWaiters(): void {
    while (this.activeCount < this.limit) {
      let best = -1;
      for (let i = 0; i < this.queue.length; i++) {
        const held = this.heldBy(this.queue[i]?.key ?? '');
        if (held >= this.perKey) continue;
        if (best < 0 || held < this.heldBy(this.queue[best]?.key ?? '')) best = i;
      }
      if (best < 0) return;
      const [waiter] = this.queue.splice(best, 1);
      if (waiter) waiter.grant(this.take(waiter.key));
    }
  }
}
