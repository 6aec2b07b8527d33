/**
 * Errors that become HTTP/DAV responses. Any layer may throw a DavError; the one place that turns
 * errors into responses is `src/http/respond-error.ts`.
 */
import type { Precondition } from './preconditions.js';

export class DavError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The `DAV:error` precondition/postcondition element (declared in a preconditions table). */
    readonly precondition?: Precondition,
    /** Extra children of the precondition element (e.g. the conflicting href), as plain text hrefs. */
    readonly preconditionHrefs: readonly string[] = [],
    /** Extra response headers (e.g. Allow, Retry-After, WWW-Authenticate). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'DavError';
  }
}

/**
 * A refusal by the rights (who may do what where). It is the only 403 that asks an anonymous client to log
 * in (401 with WWW-Authenticate, in src/http/respond-error.ts): refusing content (invalid data, a missing
 * UID, a bad sync token) stays 403 whoever sent it, since logging in would not change the answer.
 */
export class AccessDenied extends DavError {
  constructor(message = 'Access denied') {
    super(403, message);
    this.name = 'AccessDenied';
  }
}

export const accessDenied = (msg?: string): DavError => new AccessDenied(msg);
export const badRequest = (msg: string, pre?: Precondition): DavError => new DavError(400, msg, pre);
export const forbidden = (msg: string, pre?: Precondition, hrefs: readonly string[] = []): DavError =>
  new DavError(403, msg, pre, hrefs);
export const notFound = (msg = 'Not Found'): DavError => new DavError(404, msg);
export const conflict = (msg: string, pre?: Precondition, hrefs: readonly string[] = []): DavError =>
  new DavError(409, msg, pre, hrefs);
export const preconditionFailed = (msg: string, pre?: Precondition): DavError => new DavError(412, msg, pre);
export const tooLarge = (msg: string, pre?: Precondition): DavError => new DavError(413, msg, pre);
export const unsupportedMediaType = (msg: string, pre?: Precondition): DavError =>
  new DavError(415, msg, pre);

/** Thrown by an ItemWritePlan's check: the item changed since the plan was made; the write is planned again. */
export class StaleWrite extends Error {
  constructor() {
    super('the item changed while its write was planned');
    this.name = 'StaleWrite';
  }
}
