/**
 * Request and response content in the log, with Radicale's switches ([logging]):
 *   request_content_on_debug   the request body, at debug level
 *   response_content_on_debug  the response body (streamed ones too), at debug level
 *   bad_put_request_content    the body of a PUT refused for its content, at warning level
 *   limit_content              at most this many characters of each (0: no limit), then a note of
 *                              the original length, as Radicale's limit_str writes it
 * Content lines are indented by one space, as Radicale's textwrap_str does. With a switch off, a debug
 * line says which option would show the content, as Radicale's does.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { logNotice } from './logger.js';

export type ContentLogOptions = Pick<
  Config['logging'],
  'limit_content' | 'request_content_on_debug' | 'response_content_on_debug' | 'bad_put_request_content'
>;

type Body = string | Buffer | AsyncIterable<string | Uint8Array>;

/** Radicale's limit_str: the first `limit` characters and a note, when the text is that long. */
export function limitContent(text: string, limit: number, originalLength = text.length): string {
  if (limit > 0 && originalLength >= limit) {
    return `${text.slice(0, limit)}...(shortened because original length ${originalLength} > limit ${limit})`;
  }
  return text;
}

/**
 * One space before every line that is not blank, as Radicale's textwrap.indent(text, " "); line ends become `\n` so a
 * CRLF item reads as lines in the log.
 */
function indent(text: string): string {
  return text === '' ? '' : text.replace(/\r\n?/g, '\n').replace(/^(?=[^\S\n]*\S)/gm, ' ');
}

/**
 * The text of a body for the log: only the bytes that can hold `limit` characters are decoded.
 * `length` is the body's whole length when `bytes` is only its start (see keepForLog).
 */
export function bodyForLog(bytes: Uint8Array, limit: number, length = bytes.length): string {
  const cut = limit > 0 && bytes.length > limit * 4 ? bytes.subarray(0, limit * 4) : bytes;
  const text = Buffer.from(cut.buffer, cut.byteOffset, cut.byteLength).toString('utf8');
  const whole = cut === bytes && length === bytes.length;
  return limitContent(text, limit, whole ? text.length : Math.max(text.length, length));
}

/** What the log lines written after a request still show of its body (see keepForLog). */
export interface KeptBody {
  /** The body, or its start: the bytes that can hold `limit_content` characters. */
  readonly bytes: Uint8Array;
  /** The body's length. */
  readonly length: number;
}

/**
 * A request body kept for the log lines written once the request is answered: for a body longer than
 * the log shows, a copy of its start only, so that a big upload is not held for them.
 */
export function keepForLog(bytes: Uint8Array, limit: number): KeptBody {
  if (limit > 0 && bytes.length > limit * 4)
    return { bytes: Buffer.from(bytes.subarray(0, limit * 4)), length: bytes.length };
  return { bytes, length: bytes.length };
}

function suppressed(log: Logger, what: string, option: string): void {
  log.debug(`${what}: suppressed by config/option [logging] ${option}`);
}

/** Logs a request body that was read (debug level). */
export function logRequestContent(log: Logger, options: ContentLogOptions, bytes: Uint8Array): void {
  if (!log.isLevelEnabled('debug')) return;
  if (!options.request_content_on_debug)
    return suppressed(log, 'Request content', 'request_content_on_debug');
  log.debug(`Request content:\n${indent(bodyForLog(bytes, options.limit_content))}`);
}

/**
 * Passes a streamed body through, collecting up to `limit` characters of it; `done` gets them (Radicale's
 * limit_str applied) when the stream ends or is abandoned.
 */
async function* collectStreamed(
  limit: number,
  body: AsyncIterable<string | Uint8Array>,
  done: (text: string) => void,
): AsyncIterable<string | Uint8Array> {
  let text = '';
  let total = 0;
  try {
    for await (const chunk of body) {
      const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      total += s.length;
      if (limit <= 0 || text.length < limit) text += s.slice(0, limit > 0 ? limit - text.length : undefined);
      yield chunk;
    }
  } finally {
    done(limitContent(text, limit, total));
  }
}

/**
 * Logs a response body (debug level): a whole one now, a streamed one as it is written (the returned
 * body must be the one sent).
 */
export function logResponseContent<B extends Body>(
  log: Logger,
  options: ContentLogOptions,
  body: B | undefined,
): B | Body | undefined {
  if (body === undefined || !log.isLevelEnabled('debug')) return body;
  if (!options.response_content_on_debug) {
    suppressed(log, 'Response content', 'response_content_on_debug');
    return body;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text =
      typeof body === 'string'
        ? limitContent(body, options.limit_content)
        : bodyForLog(body, options.limit_content);
    log.debug(`Response content:\n${indent(text)}`);
    return body;
  }
  return collectStreamed(options.limit_content, body as AsyncIterable<string | Uint8Array>, (text) =>
    log.debug(`Response content:\n${indent(text)}`),
  );
}

/**
 * A PUT refused for what it carries: 400, 413 and 415, and 403/409/412 with a DAV:error precondition
 * (valid-calendar-data, no-uid-conflict, max-resource-size…). A rights denial or a failed If-Match
 * carries none, so it is not "bad content".
 */
export function isBadPut(method: string, status: number, contentType: string | undefined): boolean {
  if (method !== 'PUT') return false;
  if (status === 400 || status === 413 || status === 415) return true;
  return (status === 403 || status === 409 || status === 412) && /xml/.test(contentType ?? '');
}

/** Logs the body of a bad PUT at warning level when bad_put_request_content is on. */
export function logBadPutContent(
  log: Logger,
  options: ContentLogOptions,
  path: string,
  body: KeptBody | undefined,
): void {
  if (body === undefined) return;
  if (!options.bad_put_request_content)
    return suppressed(log, 'Bad PUT request content', 'bad_put_request_content');
  const text = bodyForLog(body.bytes, options.limit_content, body.length);
  log.warn(`Bad PUT request content of ${JSON.stringify(path)}:\n${indent(text)}`);
}

/** Header lines for the log, one `Name: value` per line. */
export function headerLines(
  headers: Readonly<Record<string, string | string[] | number | undefined>>,
): string {
  return Object.entries(headers)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
    .join('\n');
}

/** `[logging] *_on_notice_condition`: one part of a request (`what`: "Request header"...) at notice level. */
export function logOnNotice(log: Logger, what: string, text: string): void {
  logNotice(log, `${what} (on notice condition):\n${indent(text)}`);
}

/** A request body for the notice log (limit_content applies), or a note that none was read. */
export function requestContentForNotice(body: KeptBody | undefined, limit: number): string {
  return body === undefined ? '(no body read)' : bodyForLog(body.bytes, limit, body.length);
}

/**
 * `response_content_on_notice_condition`: logs a response body at notice level, a streamed one as it is
 * written (the returned body must be the one sent).
 */
export function logResponseOnNotice<B extends Body>(
  log: Logger,
  limit: number,
  body: B | undefined,
): B | Body | undefined {
  const what = 'Response content';
  if (body === undefined) {
    logOnNotice(log, what, '');
    return body;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    logOnNotice(log, what, typeof body === 'string' ? limitContent(body, limit) : bodyForLog(body, limit));
    return body;
  }
  return collectStreamed(limit, body as AsyncIterable<string | Uint8Array>, (text) =>
    logOnNotice(log, what, text),
  );
}
