/**
 * Identity headers set by a reverse proxy that already logged the user in: X-Remote-User
 * (http_x_remote_user), Remote-User (http_remote_user and remote_user). Unlike Radicale, the header is
 * believed only from a trusted proxy or a verified client certificate (anyone can send it otherwise),
 * and Basic credentials are ignored for these types (Radicale accepts any password there).
 */
import type { Logger } from 'pino';
import type { FailureDelay } from './delay.js';
import type { GroupSource } from './groups/types.js';
import type { AuthOutcome, AuthRequest } from './types.js';
import { invalidUserReason, normaliseLogin, type UsernameOptions } from './username.js';

export interface ExternalPipeline {
  /** Lower-case header name. */
  readonly header: string;
  readonly username: UsernameOptions;
  readonly delay: FailureDelay;
  readonly groups: GroupSource;
  readonly log: Logger;
}

export async function externalLogin(pipeline: ExternalPipeline, req: AuthRequest): Promise<AuthOutcome> {
  const raw = req.headers[pipeline.header];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return { kind: 'anonymous' };
  if (!req.identityHeadersTrusted) {
    return {
      kind: 'forbidden',
      reason: `${pipeline.header} header from ${req.clientAddress}, which is not a trusted proxy`,
    };
  }
  const user = normaliseLogin(value, pipeline.username);
  const invalid =
    user === undefined ? 'bad percent-encoding' : invalidUserReason(user, pipeline.username.policy);
  if (user === undefined || invalid !== undefined) {
    pipeline.log.warn(
      `Refused ${pipeline.header} user ${JSON.stringify(value)} from ${req.clientAddress}: ${invalid ?? ''}`,
    );
    return { kind: 'failed', user: value, delayMs: pipeline.delay.randomDelayMs() };
  }
  return { kind: 'user', user, groups: await pipeline.groups.groupsOf(user, []) };
}
