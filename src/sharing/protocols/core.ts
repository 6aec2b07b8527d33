/** The core's own handling of a request that a sharing path target passes on. */
import type { DavRequest, DavResponse } from '../../dav/context.js';
import { DavError } from '../../dav/errors.js';
import { requireSomeRight } from '../../dav/handle.js';

export function core(req: DavRequest): Promise<DavResponse> {
  const registration = req.plugins.method(req.method);
  if (!registration) throw new DavError(405, 'Method not allowed');
  if (!registration.ownRightsCheck) requireSomeRight(req);
  return registration.handler(req);
}
