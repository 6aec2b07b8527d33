/**
 * The one place that turns errors into HTTP responses: DavErrors keep their status and DAV:error
 * precondition, storage errors map to their status, anything else is a 500 with a log line and no
 * details for the client. Every 4xx body says what was wrong: the message as text, or beside the
 * DAV:error precondition as `<s:message>` (SabreDAV's element). It is also the one place of 401: a rights denial (AccessDenied) to an anonymous
 * client of Basic authentication becomes 401, and every 401 carries WWW-Authenticate, but for the refusal
 * of an unknown sharing token (`refusedTokenResponse`). The web interface's answers and the DAV ones
 * all come back to `http/dispatch.ts`, which writes them (and delays 401/403) in one place.
 */
import type { DavResponse } from '../dav/context.js';
import { AccessDenied, DavError } from '../dav/errors.js';
import { NS, clark, el, elText, serializeDocument } from '../dav/xml.js';
import { StorageError } from '../storage/types.js';
import type { Logger } from 'pino';
import { DAV_CONDITIONS } from '../dav/preconditions.js';

const SABRE_NS = 'http://sabredav.org/ns';

function storageErrorToDav(e: StorageError): DavError {
  switch (e.code) {
    case 'not-found':
      return new DavError(404, e.message);
    case 'exists':
      return new DavError(405, e.message);
    case 'conflict':
      return new DavError(409, e.message);
    case 'invalid-name':
      return new DavError(400, e.message);
    case 'no-space':
      return new DavError(507, e.message);
    case 'not-permitted':
      return new DavError(403, e.message);
    case 'unencodable':
      return new DavError(415, e.message);
    case 'invalid-sync-token':
      return new DavError(403, e.message, DAV_CONDITIONS.validSyncToken);
  }
}

/**
 * A file the server may not read or write (a folder restored with the wrong owner, a file edited by
 * hand as another user) is the administrator's to fix, not a server fault: 403 for the client, and a
 * log line naming the path and the fix. Writes under the storage's locks already come as StorageError
 * not-permitted; this covers every other read.
 */
function refusedByFilesystem(err: unknown, log: Logger): DavError {
  const { code, syscall, path } = err as NodeJS.ErrnoException;
  const why = code === 'EROFS' ? 'the filesystem is read-only' : `permission denied (${code ?? ''})`;
  log.error(
    { path, syscall, code },
    `the storage cannot ${syscall ?? 'read'} ${path ?? 'a file'}: ${why}; the user Almanac runs as needs access to the storage folder and everything in it`,
  );
  return new DavError(403, 'The server is not allowed to access this part of its storage');
}

export function toDavError(err: unknown, log: Logger): DavError {
  if (err instanceof DavError) return err;
  if (err instanceof StorageError) return storageErrorToDav(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DavError(507, 'Insufficient storage');
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return refusedByFilesystem(err, log);
  log.error({ err }, 'internal error');
  return new DavError(500, 'Internal Server Error');
}

/** Who asked, for the decision between 401 and 403. */
export interface Challenge {
  /** No login came with the request, and the server asks for Basic credentials itself. */
  readonly anonymousBasic: boolean;
  /** `[auth] realm`. */
  readonly realm: string;
}

export function errorResponse(e: DavError, challenge?: Challenge): DavResponse {
  const headers: Record<string, string> = { ...e.headers };
  // Logging in can change a rights decision; it cannot make invalid data valid.
  const status = e instanceof AccessDenied && challenge?.anonymousBasic === true ? 401 : e.status;
  if (status === 401 && challenge) {
    headers['WWW-Authenticate'] = `Basic realm="${challenge.realm.replace(/"/g, "'")}", charset="UTF-8"`;
  }
  if (e.precondition) {
    const pre = el(e.precondition, ...e.preconditionHrefs.map((h) => elText(clark(NS.D, 'href'), h)));
    // The reason, beside the precondition, where SabreDAV puts it (Evolution and others show it).
    const message = elText(clark(SABRE_NS, 'message'), e.message);
    headers['Content-Type'] = 'application/xml; charset=utf-8';
    return { status, headers, body: serializeDocument(el(clark(NS.D, 'error'), pre, message)) };
  }
  headers['Content-Type'] = 'text/plain; charset=utf-8';
  return { status, headers, body: `${e.message}\n` };
}

/**
 * An unknown or disabled sharing token (`/.token/...`): Radicale's 403, reported as 401 to an anonymous
 * client but without WWW-Authenticate (logging in would not help); delayed like every 401/403.
 */
export function refusedTokenResponse(anonymous: boolean): DavResponse {
  return {
    status: anonymous ? 401 : 403,
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    body: 'Access to the requested resource forbidden.',
  };
}
