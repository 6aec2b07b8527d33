/**
 * Reading request bodies under `[server] max_content_length`. The server refuses an oversize declared
 * Content-Length before the handler runs; readBody also covers chunked bodies, whose size is only known
 * while reading.
 */
import type { IncomingMessage } from 'node:http';
import { DavError } from '../dav/errors.js';

const overflowListeners = new WeakMap<IncomingMessage, () => void>();

/** Lets the server learn that a body was cut short, so it closes the connection and logs the limit. */
export function onBodyOverflow(req: IncomingMessage, listener: () => void): void {
  overflowListeners.set(req, listener);
}

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
  overflowListeners.get(req)?.();
  return tooLargeError(limit);
}

/**
 * Reads the whole body; throws DavError(413) as soon as it grows past `limit` (0 = no limit), leaving the
 * rest unread. Rejects with DavError(400) when the client aborts mid-body.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (limit > 0 && declared !== undefined && declared > limit) return Promise.reject(overflow(req, limit));
  // Already consumed: nothing more will come ('end' would never fire again).
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (limit > 0 && size > limit) {
        cleanup();
        req.pause();
        reject(overflow(req, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
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
