/**
 * The one place that turns errors into HTTP responses: DavErrors keep their status and DAV:error
 * precondition, storage errors map to their status, anything else is a 500 with a log line and no
 * details for the client.
 */
import type { DavResponse } from '../dav/context.js';
import { DavError } from '../dav/errors.js';
import { NS, clark, el, elText, serializeDocument } from '../dav/xml.js';
import { StorageError } from '../storage/types.js';
import type { Logger } from 'pino';

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
    case 'invalid-sync-token':
      return new DavError(403, e.message, clark(NS.D, 'valid-sync-token'));
  }
}

export function toDavError(err: unknown, log: Logger): DavError {
  if (err instanceof DavError) return err;
  if (err instanceof StorageError) return storageErrorToDav(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DavError(507, 'Insufficient storage');
  log.error({ err }, 'internal error');
  return new DavError(500, 'Internal Server Error');
}

export function errorResponse(e: DavError): DavResponse {
  const headers: Record<string, string> = { ...e.headers };
  if (e.precondition) {
    const pre = el(e.precondition, ...e.preconditionHrefs.map((h) => elText(clark(NS.D, 'href'), h)));
    headers['Content-Type'] = 'application/xml; charset=utf-8';
    return { status: e.status, headers, body: serializeDocument(el(clark(NS.D, 'error'), pre)) };
  }
  headers['Content-Type'] = 'text/plain; charset=utf-8';
  return { status: e.status, headers, body: `${e.message}\n` };
}
