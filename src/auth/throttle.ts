/**
 * Per-client-address throttling of failed logins (beyond Radicale, which leaves this to fail2ban).
 *
 * After `threshold` failures with no quiet gap longer than `quietMs` between them, the address is blocked
 * for 2^k seconds (k = 1, 2, ... for each further failure after a block ends), capped at `maxBlockMs`.
 * A success or `quietMs` without failures forgets the address. Memory is bounded: at most `maxEntries`
 * addresses are remembered, the least recently seen are dropped first (a Map keeps insertion order).
 */

export interface ThrottleOptions {
  readonly threshold: number;
  readonly quietMs: number;
  readonly maxBlockMs: number;
  readonly maxEntries: number;
  readonly now: () => number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  threshold: 10,
  quietMs: 15 * 60_000,
  maxBlockMs: 15 * 60_000,
  maxEntries: 10_000,
  now: Date.now,
};

interface Entry {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
  level: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: ThrottleOptions;

  constructor(opts: Partial<ThrottleOptions> = {}) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
  }

  /** Seconds the address must wait before trying again, or 0 when it may try now. */
  retryAfter(address: string): number {
    const entry = this.current(address);
    if (entry === undefined) return 0;
    const left = entry.blockedUntil - this.opts.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  recordFailure(address: string): void {
    const now = this.opts.now();
    const entry = this.current(address) ?? { failures: 0, lastFailure: now, blockedUntil: 0, level: 0 };
    entry.failures += 1;
    entry.lastFailure = now;
    if (entry.failures >= this.opts.threshold) {
      entry.level += 1;
      const blockMs = Math.min(2 ** entry.level * 1000, this.opts.maxBlockMs);
      entry.blockedUntil = now + blockMs;
    }
    this.touch(address, entry);
  }

  recordSuccess(address: string): void {
    this.entries.delete(address);
  }

  /** Number of remembered addresses (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** The entry of `address`, forgotten when the address has been quiet long enough. */
  private current(address: string): Entry | undefined {
    const entry = this.entries.get(address);
    if (entry === undefined) return undefined;
    const now = this.opts.now();
    if (now >= entry.blockedUntil && now - entry.lastFailure > this.opts.quietMs) {
      this.entries.delete(address);
      return undefined;
    }
    return entry;
  }

  private touch(address: string, entry: Entry): void {
    this.entries.delete(address);
    this.entries.set(address, entry);
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}
