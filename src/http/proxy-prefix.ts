/**
 * The href prefix of a server behind a reverse proxy: `X-Script-Name` from a trusted proxy, else
 * `[server] script_name`. Either is a plain absolute path (`/radicale`, `/a b`), as in Radicale, and is
 * percent-encoded like every other href segment (`/a%20b`). A value that is not one absolute path is
 * refused: `//evil.example` would make every Location and href protocol-relative (pointing at another host).
 */
import type { IncomingMessage } from 'node:http';
import { badRequest } from '../dav/errors.js';
import { quoteSegment } from '../dav/href.js';
import type { RequestContext } from './types.js';

/**
 * The encoded href form of a prefix ('' for none; no trailing slash), or throws an Error saying what is
 * wrong with it.
 */
export function encodePrefix(value: string): string {
  const path = value.replace(/\/+$/, '');
  if (path === '') return '';
  if (!path.startsWith('/')) throw new Error('it must start with /');
  const segments = path.slice(1).split('/');
  for (const segment of segments) {
    if (segment === '') throw new Error('it must be a single absolute path (no empty segment, no //)');
    if (segment === '.' || segment === '..') throw new Error('it must not contain . or .. segments');
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f\\?#]/.test(segment)) {
      throw new Error('it must not contain control characters, backslashes, ? or #');
    }
  }
  return `/${segments.map(quoteSegment).join('/')}`;
}

/** `[server] script_name` in href form; a bad value is a start-up error. */
export function configuredPrefix(scriptName: string): string {
  try {
    return encodePrefix(scriptName);
  } catch (err) {
    throw new Error(`[server] script_name ${JSON.stringify(scriptName)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Headers set by a reverse proxy are believed only from a trusted peer or a verified client certificate. */
export function proxyTrusted(ctx: RequestContext): boolean {
  return ctx.peerTrusted || ctx.clientCertVerified;
}

/**
 * The prefix for generated hrefs (encoded) and the raw path inside our tree. `configured` is
 * `[server] script_name` in href form: a request path starting with it has it removed.
 */
export function prefixAndPath(
  req: IncomingMessage,
  ctx: RequestContext,
  configured: string,
): { prefix: string; rawPath: string } {
  const url = req.url ?? '/';
  let rawPath = url.split('?')[0] ?? '/';
  if (!rawPath.startsWith('/')) rawPath = `/${rawPath}`;
  let prefix = '';
  const raw = req.headers['x-script-name'];
  const xsn = Array.isArray(raw) ? raw.join(', ') : raw;
  if (xsn !== undefined && xsn !== '') {
    if (!proxyTrusted(ctx)) {
      ctx.log.warn(`ignoring X-Script-Name from untrusted peer ${ctx.peerAddress}`);
    } else {
      try {
        prefix = encodePrefix(xsn);
      } catch (err) {
        ctx.log.warn(
          `refusing X-Script-Name ${JSON.stringify(xsn)} from ${ctx.peerAddress}: ${(err as Error).message}`,
        );
        throw badRequest(`Invalid X-Script-Name header: ${(err as Error).message}`);
      }
    }
  }
  if (configured) {
    if (rawPath === configured || rawPath.startsWith(`${configured}/`)) {
      rawPath = rawPath.slice(configured.length) || '/';
    }
    if (!prefix) prefix = configured;
  }
  return { prefix, rawPath };
}
