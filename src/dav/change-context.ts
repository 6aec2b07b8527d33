import type { ChangeContext } from '../storage/types.js';
import type { DavRequest } from './context.js';

/** A path as the storage hook names it: percent-decoded, without the proxy prefix. */
function decodedPath(segments: readonly string[], collection: boolean): string {
  if (segments.length === 0) return '/';
  return `/${segments.join('/')}${collection ? '/' : ''}`;
}

/** The same for a destination href (`<prefix>/alice/cal/x%40y.ics`). */
function decodedHref(href: string, prefix: string): string {
  const path = prefix !== '' && href.startsWith(`${prefix}/`) ? href.slice(prefix.length) : href;
  return path
    .split('/')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    })
    .join('/');
}

/** What the storage hook gets to know about a change. */
export function changeContext(req: DavRequest, toHref?: string): ChangeContext {
  const path = decodedPath(req.segments, req.trailingSlash);
  return toHref === undefined
    ? { user: req.user, path, request: req.method }
    : { user: req.user, path, request: req.method, toPath: decodedHref(toHref, req.prefix) };
}
