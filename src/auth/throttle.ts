/**
 * Throttling of failed logins (beyond Radicale, which leaves this to fail2ban). Failures are counted three
 * ways, each with its own threshold:
 *
 * - per (client, user): one client guessing one user's password. A success clears this count only, so a
 *   user who mistyped is not held back once they got it right.
 * - per client: one client trying many users (password spraying). A success does not clear it: with one
 *   valid account of their own, an attacker would otherwise reset their count at will.
 * - per user, across clients: many addresses guessing one user's password. A client that logged in as that
 *   user before (within `trustedMs`) is exempt from this count's block, so an attack cannot lock the real
 *   user out of the devices they use.
 *
 * A client is an IPv4 address or an IPv6 /64 (`clientBlock`). After `threshold` failures with no quiet gap
 * longer than `quietMs` between them, the key is blocked for 2^k seconds (k = 1, 2, ... for each further
 * failure after a block ends), capped at `maxBlockMs`; `quietMs` without failures forgets it. Memory is
 * bounded: each map remembers at most `maxEntries` keys, the least recently seen are dropped first.
 */
import { clientBlock } from '../net/address.js';

export interface ThrottleOptions {
  /** Failures of one client for one user before that pair is blocked. */
  readonly threshold: number;
  /** Failures of one client, whatever the users, before the client is blocked. */
  readonly clientThreshold: number;
  /** Failures for one user, whatever the clients, before the user is blocked (for clients not trusted). */
  readonly userThreshold: number;
  readonly quietMs: number;
  readonly maxBlockMs: number;
  /** How long a successful login keeps a client exempt from the per-user block. */
  readonly trustedMs: number;
  readonly maxEntries: number;
  readonly now: () => number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  threshold: 10,
  clientThreshold: 30,
  userThreshold: 30,
  quietMs: 15 * 60_000,
  maxBlockMs: 15 * 60_000,
  trustedMs: 30 * 24 * 3600_000,
  maxEntries: 10_000,
  now: Date.now,
};

interface Entry {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
  level: number;
}

/** Which count blocked a login, for the log line. */
export type ThrottleScope = 'client and user' | 'client' | 'user';

export interface ThrottleDecision {
  /** Seconds to wait before trying again; 0 = may try now. */
  readonly retryAfter: number;
  readonly scope?: ThrottleScope;
}

/** A bounded map whose iteration order is least recently touched first. */
class Recent<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  touch(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
  }
  get size(): number {
    return this.map.size;
  }
}

/** Failures of one kind of key (pairs, clients or users), with the exponential block. */
class FailureCounts {
  private readonly entries: Recent<Entry>;
  constructor(
    private readonly threshold: number,
    private readonly opts: ThrottleOptions,
  ) {
    this.entries = new Recent(opts.maxEntries);
  }

  /** Milliseconds `key` is still blocked for (0 when it may try). */
  blockedFor(key: string): number {
    const entry = this.current(key);
    return entry === undefined ? 0 : Math.max(0, entry.blockedUntil - this.opts.now());
  }

  recordFailure(key: string): void {
    const now = this.opts.now();
    const entry = this.current(key) ?? { failures: 0, lastFailure: now, blockedUntil: 0, level: 0 };
    entry.failures += 1;
    entry.lastFailure = now;
    if (entry.failures >= this.threshold) {
      entry.level += 1;
      entry.blockedUntil = now + Math.min(2 ** entry.level * 1000, this.opts.maxBlockMs);
    }
    this.entries.touch(key, entry);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry of `key`, forgotten when it has been quiet long enough. */
  private current(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.opts.now();
    if (now >= entry.blockedUntil && now - entry.lastFailure > this.opts.quietMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

export class LoginThrottle {
  private readonly opts: ThrottleOptions;
  private readonly pairs: FailureCounts;
  private readonly clients: FailureCounts;
  private readonly users: FailureCounts;
  /** (client, user) pairs that logged in, with the time of the last success. */
  private readonly trusted: Recent<number>;

  constructor(opts: Partial<ThrottleOptions> = {}) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
    this.pairs = new FailureCounts(this.opts.threshold, this.opts);
    this.clients = new FailureCounts(this.opts.clientThreshold, this.opts);
    this.users = new FailureCounts(this.opts.userThreshold, this.opts);
    this.trusted = new Recent(this.opts.maxEntries);
  }

  /**
   * May `address` try to log in as `user` now? `user` is undefined when the credentials could not even
   * be decoded (then only the client's own count applies).
   */
  check(address: string, user?: string): ThrottleDecision {
    const client = clientBlock(address);
    const waits: [number, ThrottleScope][] = [[this.clients.blockedFor(client), 'client']];
    if (user !== undefined) {
      waits.push([this.pairs.blockedFor(pairKey(client, user)), 'client and user']);
      if (!this.isTrusted(client, user)) waits.push([this.users.blockedFor(user), 'user']);
    }
    const [ms, scope] = waits.reduce((a, b) => (b[0] > a[0] ? b : a));
    return ms > 0 ? { retryAfter: Math.ceil(ms / 1000), scope } : { retryAfter: 0 };
  }

  /** Seconds before `address` may try again as `user` (0 = now). */
  retryAfter(address: string, user?: string): number {
    return this.check(address, user).retryAfter;
  }

  recordFailure(address: string, user?: string): void {
    const client = clientBlock(address);
    this.clients.recordFailure(client);
    if (user === undefined) return;
    this.pairs.recordFailure(pairKey(client, user));
    this.users.recordFailure(user);
  }

  /** Clears the failures of this client for this user only, and trusts the pair from now on. */
  recordSuccess(address: string, user: string): void {
    const client = clientBlock(address);
    const key = pairKey(client, user);
    this.pairs.forget(key);
    this.trusted.touch(key, this.opts.now());
  }

  /** Number of remembered (client, user) pairs, clients and users with failures (for tests and metrics). */
  get size(): { pairs: number; clients: number; users: number } {
    return { pairs: this.pairs.size, clients: this.clients.size, users: this.users.size };
  }

  private isTrusted(client: string, user: string): boolean {
    const since = this.trusted.get(pairKey(client, user));
    return since !== undefined && this.opts.now() - since <= this.opts.trustedMs;
  }
}

const pairKey = (client: string, user: string): string => `${client}\u0000${user}`;
