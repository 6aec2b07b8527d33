/**
 * The authentication contract used by the request dispatcher (src/http/dispatch.ts).
 *
 * Delays: authenticate() never sleeps. A failed login returns `delayMs`, the time the answer must be held
 * back (Radicale's `delay` × U(0.5, 1.5), plus padding up to the slowest failure seen so unknown users and
 * wrong passwords take the same time). The dispatcher releases its max_connections slot first and then
 * awaits `sleep(delayMs)` (src/auth/delay.ts) before answering 401, so a password-guessing client cannot
 * fill every slot with sleeping requests. For 401/403 answers to anonymous (or logged-in but refused)
 * requests the dispatcher takes `deniedDelayMs()` the same way, as Radicale does.
 */
import type { GroupSource } from './groups/types.js';

export interface AuthRequest {
  /** Value of the Authorization header, if any. */
  readonly authorization: string | undefined;
  /** All request headers, lower-case names (for X-Remote-User, Remote-User, X-Remote-Addr). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client address (the proxy's X-Forwarded-For client when the peer is a trusted proxy). */
  readonly clientAddress: string;
  /**
   * True when identity headers (X-Remote-User, Remote-User) may be believed: the peer is a trusted
   * proxy, or a TLS client certificate was verified against certificate_authority.
   */
  readonly identityHeadersTrusted: boolean;
}

export type AuthOutcome =
  /** No credentials were given: the request goes on as anonymous (rights decide, 401 if refused). */
  | { readonly kind: 'anonymous' }
  /** Logged in as `user` (already normalised: lc/uc, urldecode, strip_domain) with its groups. */
  | { readonly kind: 'user'; readonly user: string; readonly groups: ReadonlySet<string> }
  /**
   * Credentials were wrong (or the login name is invalid). `user` is the normalised login for the log.
   * The dispatcher must wait `delayMs` (after releasing its connection slot) before answering 401.
   */
  | { readonly kind: 'failed'; readonly user: string; readonly delayMs: number }
  /** This client address is throttled after repeated failures: answer 429 with Retry-After seconds. */
  | { readonly kind: 'throttled'; readonly retryAfter: number }
  /** An identity header came from an untrusted peer: answer 403 (and log `reason`). */
  | { readonly kind: 'forbidden'; readonly reason: string };

export interface Auth {
  /** 'basic' when the dispatcher should answer 401 with WWW-Authenticate; 'external' when the proxy logs in. */
  readonly style: 'basic' | 'external' | 'none';
  readonly realm: string;
  authenticate(req: AuthRequest): Promise<AuthOutcome>;
  /** Milliseconds to hold back a 401/403 answer to a request that did not fail a login (`delay` × U(0.5,1.5)). */
  deniedDelayMs(): number;
  /** The `[group]` source, for checks made outside a request (WebDAV-Push re-checks rights at each push). */
  readonly groups?: GroupSource;
  /** Release resources (LDAP connections, file watchers); the Auth must not be used afterwards. */
  close(): Promise<void>;
}
