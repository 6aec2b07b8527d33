/**
 * The authentication contract used by the request dispatcher (src/http/dispatch.ts).
 */

export interface AuthRequest {
  /** Value of the Authorization header, if any. */
  readonly authorization: string | undefined;
  /** All request headers, lower-case names (for X-Remote-User, Remote-User). */
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
  /** Credentials were wrong; the delay has already been waited. */
  | { readonly kind: 'failed'; readonly user: string }
  /** This client address is throttled after repeated failures: answer 429 with Retry-After seconds. */
  | { readonly kind: 'throttled'; readonly retryAfter: number }
  /** An identity header came from an untrusted peer: answer 403. */
  | { readonly kind: 'forbidden'; readonly reason: string };

export interface Auth {
  /** 'basic' when the dispatcher should answer 401 with WWW-Authenticate; 'external' when the proxy logs in. */
  readonly style: 'basic' | 'external' | 'none';
  readonly realm: string;
  authenticate(req: AuthRequest): Promise<AuthOutcome>;
  /** Wait the failed-login delay (for 401/403 answers to anonymous requests, as Radicale does). */
  close(): Promise<void>;
}
