/**
 * What a password backend (htpasswd, ldap, imap...) implements. The pipeline in login.ts normalises and
 * validates the login, consults the cache and only then calls `login`.
 */

export type BackendResult =
  | {
      readonly ok: true;
      /** A different user name to use (ldap_user_attribute); undefined keeps the login. */
      readonly user?: string;
      /** Groups found by the backend (ldap, pam), used by [group] type = from_auth. */
      readonly groups?: readonly string[];
    }
  | {
      readonly ok: false;
      /** Why, for the log, when it is not a wrong user name or password (denyall). */
      readonly reason?: string;
    };

export interface LoginContext {
  /** Client address for backends that pass it on (dovecot `rip=`). */
  readonly clientAddress: string;
}

export interface PasswordBackend {
  /** Whether results may be cached when [auth] cache_logins is on (Radicale caches only remote backends). */
  readonly cacheable: boolean;
  login(user: string, password: string, ctx: LoginContext): Promise<BackendResult>;
  close(): Promise<void>;
}

export const FAILED: BackendResult = { ok: false };

/** [auth] type = denyall: the password is not looked at, so the log must not blame it. */
export const DENIED_BY_CONFIG: BackendResult = {
  ok: false,
  reason: '[auth] type = denyall refuses every login; set [auth] type to let users in',
};
