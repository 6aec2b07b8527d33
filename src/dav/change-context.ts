import type { ChangeContext } from '../storage/types.js';
import type { DavRequest } from './context.js';
import { hrefOf } from './href.js';

/** What the storage hook gets to know about a change. */
export function changeContext(req: DavRequest, toPath?: string): ChangeContext {
  const path = hrefOf('', req.segments, req.trailingSlash);
  return toPath === undefined
    ? { user: req.user, path, request: req.method }
    : { user: req.user, path, request: req.method, toPath };
}
