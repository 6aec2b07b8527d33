/**
 * POST: no meaning of its own in WebDAV (RFC 4918 §9.5); features give it one each, by target
 * (`PostTarget`: sharing's API, a scheduling outbox, WebDAV-Push registration). The first registered
 * target that matches the request answers it.
 */
import type { DavRequest, DavResponse } from '../context.js';
import { DavError } from '../errors.js';
import { requireSomeRight } from '../handle.js';

export async function post(req: DavRequest): Promise<DavResponse> {
  const target = req.kinds.postTargets().find((t) => t.matches(req));
  if (!target) {
    throw new DavError(405, 'POST is not supported here', undefined, [], {
      Allow: req.kinds.methods().join(', '),
    });
  }
  if (!target.ownRightsCheck) requireSomeRight(req);
  return target.handle(req);
}
