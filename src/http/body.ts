/**
 * Reading request bodies under `[server] max_content_length` and `[server] body_min_rate`. The server
 * refuses an oversize declared Content-Length before the handler runs; readBody also covers chunked bodies,
 * whose size is only known while reading. A body must keep coming at the minimum rate after a grace period
 * (as Apache's mod_reqtimeout MinRate): a client trickling a byte every few seconds is cut with 408
 * instead of holding the server's resources for as long as it likes.
 */
import type { IncomingMessage } from 'node:http';
import { DavError } from '../dav/errors.js';

/** The limit a body was cut short by, as named in the log line. */
export type BodyLimit = 'max_content_length' | 'body_min_rate';

const abortListeners = new WeakMap<IncomingMessage, (limit: BodyLimit) => void>();

/** Lets the server learn that a body was cut short, so it closes the connection and logs the limit. */
export function onBodyAbort(req: IncomingMessage, listener: (limit: BodyLimit) => void): void {
  abortListeners.set(req, listener);
}

export interface BodyRate {
  /** Bytes per second the body must average after the grace period; 0 = no minimum. */
  readonly minRate: number;
  /** Milliseconds before the minimum applies. */
  readonly graceMs: number;
}

const NO_RATE: BodyRate = { minRate: 0, graceMs: 0 };

/** The declared Content-Length, or undefined for a chunked (or body-less) request. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

export function tooLargeError(limit: number): DavError {
  return new DavError(413, `Request body larger than max_content_length (${limit} bytes)`);
}

function overflow(req: IncomingMessage, limit: number): DavError {
  abortListeners.get(req)?.('max_content_length');
  return tooLargeError(limit);
}

function tooSlow(req: IncomingMessage, rate: BodyRate, received: number, ms: number): DavError {
  abortListeners.get(req)?.('body_min_rate');
  return new DavError(
    408,
    `Request body too slow: ${received} bytes in ${(ms / 1000).toFixed(1)} s, under body_min_rate ` +
      `(${rate.minRate} bytes/s after ${rate.graceMs / 1000} s)`,
  );
}

/**
 * Calls `onLate` once the body has fallen behind: by `graceMs` + received / minRate after `start`.
 * Returns the function that stops watching.
 */
function watchRate(rate: BodyRate, received: () => number, onLate: (ms: number) => void): () => void {
  if (!(rate.minRate > 0)) return () => undefined;
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const deadline = start + rate.graceMs + (received() / rate.minRate) * 1000;
    const now = Date.now();
    if (now >= deadline) onLate(now - start);
    else timer = setTimeout(arm, deadline - now);
  };
  arm();
  return () => clearTimeout(timer);
}

/**
 * Reads the whole body; throws DavError(413) as soon as it grows past `limit` (0 = no limit) and
 * DavError(408) when it falls behind `rate`, leaving the rest unread. Rejects with DavError(400) when the
 * client aborts mid-body.
 */
export function readBody(req: IncomingMessage, limit: number, rate: BodyRate = NO_RATE): Promise<Buffer> {
  const declared = declaredLength(req);
  if (limit > 0 && declared !== undefined && declared > limit) return Promise.reject(overflow(req, limit));
  // Already consumed: nothing more will come ('end' would never fire again).
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    // A declared length is read straight into one buffer of that size (a 94 MB import is held once,
    // not as its chunks and then their concatenation); a chunked body is gathered and joined.
    let whole = declared !== undefined && declared > 64 * 1024 ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const stopWatching = watchRate(
      rate,
      () => size,
      (ms) => fail(tooSlow(req, rate, size, ms)),
    );
    const cleanup = (): void => {
      stopWatching();
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (err: DavError): void => {
      cleanup();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (limit > 0 && size > limit) {
        fail(overflow(req, limit));
        return;
      }
      if (whole && size <= whole.length) chunk.copy(whole, size - chunk.length);
      else {
        // More than declared (the parser does not let it happen): gathered as a chunked body.
        if (whole) chunks.push(whole.subarray(0, size - chunk.length));
        whole = undefined;
        chunks.push(chunk);
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve(whole ? whole.subarray(0, size) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new DavError(400, `Error reading the request body: ${err.message}`));
    };
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(new DavError(400, 'The client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Does the request carry a body still to read (a positive Content-Length, or chunked)? */
export function hasBodyToRead(req: IncomingMessage): boolean {
  if (req.readableEnded || req.complete) return false;
  const declared = declaredLength(req);
  if (declared !== undefined) return declared > 0;
  return req.headers['transfer-encoding'] !== undefined;
}
