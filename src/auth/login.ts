/**
 * The Basic-auth login pipeline (Radicale BaseAuth.login, plus throttling of failed logins):
 * decode → normalise (lc/uc, urldecode, strip_domain) → throttle check → validate → cache → backend →
 * groups. Failures are counted per client, per user and per (client, user) (see throttle.ts) and carry
 * the delay the dispatcher must wait.
 */
import type { Logger } from 'pino';
import type { BackendResult, PasswordBackend } from './backend.js';
import { parseBasic } from './basic.js';
import type { LoginCache } from './cache.js';
import type { FailureDelay } from './delay.js';
import type { GroupSource } from './groups/types.js';
import type { LoginThrottle } from './throttle.js';
import type { AuthOutcome, AuthRequest } from './types.js';
import { invalidUserReason, normaliseLogin, type UsernameOptions } from './username.js';

export interface LoginPipeline {
  readonly backend: PasswordBackend;
  readonly username: UsernameOptions;
  readonly charset: string;
  readonly cache: LoginCache | undefined;
  readonly throttle: LoginThrottle;
  readonly delay: FailureDelay;
  readonly groups: GroupSource;
  readonly now: () => number;
  readonly log: Logger;
  /** `[auth] remote_ip_source`: where the address handed to the backend (dovecot `rip=`) comes from. */
  readonly remoteIpSource: 'REMOTE_ADDR' | 'X-Remote-Addr';
}

/**
 * The client address the backend gets: the connection's (through trusted proxies' X-Forwarded-For),
 * or with remote_ip_source = X-Remote-Addr the X-Remote-Addr header a trusted proxy sets. From any
 * other peer the header is ignored: a client could otherwise name any address to dovecot, whose
 * per-address penalties then hit someone else.
 */
function backendAddress(pipeline: LoginPipeline, req: AuthRequest): string {
  if (pipeline.remoteIpSource !== 'X-Remote-Addr') return req.clientAddress;
  const header = req.headers['x-remote-addr'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return req.clientAddress;
  if (!req.identityHeadersTrusted) {
    pipeline.log.debug(`X-Remote-Addr ignored: ${req.clientAddress} is not a trusted proxy`);
    return req.clientAddress;
  }
  return value;
}

export async function basicLogin(pipeline: LoginPipeline, req: AuthRequest): Promise<AuthOutcome> {
  const creds = parseBasic(req.authorization, pipeline.charset);
  if (creds.kind === 'none') return { kind: 'anonymous' };
  // Radicale treats an empty login as no login at all.
  if (creds.kind === 'credentials' && creds.login === '') return { kind: 'anonymous' };
  const start = pipeline.now();
  // The login as normalised (undefined when it cannot even be decoded): failures are counted for it.
  const user = creds.kind === 'malformed' ? undefined : normaliseLogin(creds.login, pipeline.username);
  const throttled = pipeline.throttle.check(req.clientAddress, user);
  if (throttled.retryAfter > 0) {
    const who = user === undefined ? '' : ` as ${JSON.stringify(user)}`;
    pipeline.log.warn(
      `Login attempt from ${req.clientAddress}${who} refused: too many failed logins (${throttled.scope ?? 'client'}), ` +
        `throttled for ${throttled.retryAfter} s`,
    );
    return { kind: 'throttled', retryAfter: throttled.retryAfter };
  }
  const fail = (name: string, why: string): AuthOutcome => {
    pipeline.throttle.recordFailure(req.clientAddress, user);
    pipeline.log.warn(`Failed login attempt from ${req.clientAddress}: ${JSON.stringify(name)} (${why})`);
    return { kind: 'failed', user: name, delayMs: pipeline.delay.afterFailure(pipeline.now() - start) };
  };
  if (creds.kind === 'malformed') return fail('', 'malformed Authorization header');
  if (user === undefined) return fail(creds.login, 'bad percent-encoding');
  const invalid = invalidUserReason(user, pipeline.username.policy);
  if (invalid !== undefined) return fail(user, `invalid user name: ${invalid}`);

  const result = await checkPassword(pipeline, user, creds.password, backendAddress(pipeline, req));
  if (!result.ok) return fail(user, result.reason ?? 'wrong user name or password');
  const finalUser = result.user ?? user;
  const renamedInvalid = invalidUserReason(finalUser, pipeline.username.policy);
  if (renamedInvalid !== undefined)
    return fail(finalUser, `invalid user name from backend: ${renamedInvalid}`);
  pipeline.throttle.recordSuccess(req.clientAddress, user);
  const groups = await pipeline.groups.groupsOf(finalUser, result.groups ?? []);
  pipeline.log.info(`Successful login: ${JSON.stringify(finalUser)}`);
  return { kind: 'user', user: finalUser, groups };
}

async function checkPassword(
  pipeline: LoginPipeline,
  user: string,
  password: string,
  address: string,
): Promise<BackendResult> {
  const cache = pipeline.backend.cacheable ? pipeline.cache : undefined;
  const cached = cache?.get(user, password);
  if (cached !== undefined) return cached;
  let result: BackendResult;
  try {
    result = await pipeline.backend.login(user, password, { clientAddress: address });
  } catch (err) {
    pipeline.log.error({ err }, `Authentication backend error for ${JSON.stringify(user)}: ${String(err)}`);
    return { ok: false };
  }
  cache?.set(user, password, result);
  return result;
}
