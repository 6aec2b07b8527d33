/**
 * Errors that become HTTP/DAV responses. Any layer may throw a DavError; the one place that turns
 * errors into responses is `src/http/respond-error.ts`.
 */
export class DavError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Clark name of a `DAV:error` precondition/postcondition element, e.g. `{urn:ietf:params:xml:ns:caldav}valid-calendar-data`. */
    readonly precondition?: string,
    /** Extra children of the precondition element (e.g. the conflicting href), as plain text hrefs. */
    readonly preconditionHrefs: readonly string[] = [],
    /** Extra response headers (e.g. Allow, Retry-After, WWW-Authenticate). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'DavError';
  }
}

export const badRequest = (msg: string, pre?: string): DavError => new DavError(400, msg, pre);
export const forbidden = (msg: string, pre?: string, hrefs: readonly string[] = []): DavError =>
  new DavError(403, msg, pre, hrefs);
export const notFound = (msg = 'Not Found'): DavError => new DavError(404, msg);
export const conflict = (msg: string, pre?: string, hrefs: readonly string[] = []): DavError =>
  new DavError(409, msg, pre, hrefs);
export const preconditionFailed = (msg: string, pre?: string): DavError => new DavError(412, msg, pre);
export const tooLarge = (msg: string, pre?: string): DavError => new DavError(413, msg, pre);
export const unsupportedMediaType = (msg: string, pre?: string): DavError => new DavError(415, msg, pre);
