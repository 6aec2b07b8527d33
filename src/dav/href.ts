/**
 * URL paths and hrefs. Radicale quotes hrefs like Python's `urllib.parse.quote` (safe: letters, digits,
 * `_.-~` and `/`), so `newyear@example.org.ics` is served as `newyear%40example.org.ics`; we do the same
 * so clients see identical hrefs after switching.
 */
import { badRequest } from './errors.js';

const SAFE = /[A-Za-z0-9_.\-~]/;
const ALL_SAFE = /^[A-Za-z0-9_.\-~]*$/;

/** Percent-encodes one path segment like Python's quote (UTF-8). */
export function quoteSegment(segment: string): string {
  if (ALL_SAFE.test(segment)) return segment;
  let out = '';
  for (const ch of segment) {
    if (SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Builds an href from the proxy prefix and decoded segments; collections end with '/'. */
export function hrefOf(prefix: string, segments: readonly string[], collection: boolean): string {
  const body = segments.map(quoteSegment).join('/');
  if (segments.length === 0) return `${prefix}/`;
  return `${prefix}/${body}${collection ? '/' : ''}`;
}

export function collectionHref(prefix: string, path: string): string {
  return hrefOf(prefix, splitPath(path), true);
}

/** Quoted collection hrefs of recent calls: listings build one href per item of the same collection. */
const collectionHrefs = new Map<string, string>();

export function itemHref(prefix: string, path: string, href: string): string {
  const key = `${prefix}\u0000${path}`;
  let base = collectionHrefs.get(key);
  if (base === undefined) {
    base = collectionHref(prefix, path);
    if (collectionHrefs.size >= 256) collectionHrefs.clear();
    collectionHrefs.set(key, base);
  }
  return base + quoteSegment(href);
}

export function splitPath(path: string): string[] {
  return path === '' ? [] : path.split('/');
}

export interface ParsedPath {
  /** Decoded segments. */
  readonly segments: string[];
  /** The URL ended with '/'. */
  readonly trailingSlash: boolean;
}

/**
 * Decodes and checks a request path (without query). Empty segments are dropped. Anything that
 * could escape the collection tree is refused with 400: `.`/`..` segments (also percent-encoded),
 * encoded slashes, backslashes, NUL and other control characters, invalid percent-encoding.
 */
export function parseRequestPath(rawPath: string): ParsedPath {
  if (!rawPath.startsWith('/')) throw badRequest('Request path must start with /');
  const rawSegments = rawPath.split('/');
  const segments: string[] = [];
  for (const raw of rawSegments) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw badRequest('Invalid percent-encoding in path');
    }
    checkSegment(seg);
    segments.push(seg);
  }
  return { segments, trailingSlash: rawPath.endsWith('/') };
}

/** Refuses a decoded segment that is not a safe name. */
export function checkSegment(seg: string): void {
  if (seg === '.' || seg === '..') throw badRequest('Path traversal is not allowed');
  if (seg.includes('/') || seg.includes('\\'))
    throw badRequest('Slashes inside a path segment are not allowed');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(seg)) throw badRequest('Control characters in path are not allowed');
}

/** Parses an href from a request body or a Destination header into decoded segments, given our prefix. */
export function hrefToSegments(href: string, prefix: string): ParsedPath | undefined {
  let path = href;
  const schemeMatch = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (schemeMatch) path = path.slice(schemeMatch[0].length) || '/';
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  if (prefix) {
    if (path === prefix) path = '/';
    else if (path.startsWith(`${prefix}/`)) path = path.slice(prefix.length);
    else return undefined;
  }
  try {
    return parseRequestPath(path);
  } catch {
    return undefined;
  }
}
