/**
 * From method to handler: the methods are registered by plugins (the core's in `core-plugin.ts`,
 * MKCALENDAR by CalDAV), see `DavPlugin.methods` and docs/architecture.md ("How to add a method").
 */
import type { DavRequest, DavResponse } from './context.js';
import { accessDenied } from './errors.js';

/**
 * Like Radicale, rights are checked on the path before storage is looked at: a user without any
 * right there learns nothing about what exists (403, not 404), and an anonymous client gets 401.
 */
export function requireSomeRight(req: DavRequest): void {
  const own = req.access.letters(req.segments.join('/'));
  const parent = req.segments.length > 0 ? req.access.letters(req.segments.slice(0, -1).join('/')) : '';
  if (!(/[rRwWi]/.test(own) || /[rw]/.test(parent))) throw accessDenied();
}

export function handleDav(req: DavRequest): Promise<DavResponse> {
  const owner = req.plugins.pathTargets().find((t) => t.matches(req));
  if (owner) return owner.handle(req);
  const registration = req.plugins.method(req.method);
  if (!registration) throw new Error(`not a DAV method: ${req.method}`);
  if (!registration.ownRightsCheck) requireSomeRight(req);
  return registration.handler(req);
}
