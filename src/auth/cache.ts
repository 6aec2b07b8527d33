/**
 * [auth] cache_logins: remembers backend answers for a while so a busy client does not cost one LDAP/IMAP
 * round trip per request. The key is the login plus sha256(password): the plain password is never kept.
 */
import { createHash } from 'node:crypto';
import type { BackendResult } from './backend.js';

interface Cached {
  readonly result: BackendResult;
  readonly expires: number;
}

const MAX_ENTRIES = 10_000;

export class LoginCache {
  private readonly entries = new Map<string, Cached>();

  constructor(
    private readonly successSeconds: number,
    private readonly failureSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(user: string, password: string): BackendResult | undefined {
    const key = cacheKey(user, password);
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (this.now() >= hit.expires) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.result;
  }

  set(user: string, password: string, result: BackendResult): void {
    const seconds = result.ok ? this.successSeconds : this.failureSeconds;
    if (!(seconds > 0)) return;
    const key = cacheKey(user, password);
    this.entries.delete(key);
    this.entries.set(key, { result, expires: this.now() + seconds * 1000 });
    this.prune();
  }

  /** Drops expired entries, then the oldest ones beyond the size bound. */
  private prune(): void {
    if (this.entries.size <= MAX_ENTRIES) return;
    const now = this.now();
    for (const [key, value] of this.entries) if (now >= value.expires) this.entries.delete(key);
    for (const key of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(key);
    }
  }
}

function cacheKey(user: string, password: string): string {
  return `${user}\u0000${createHash('sha256').update(password, 'utf8').digest('hex')}`;
}
