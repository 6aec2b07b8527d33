/**
 * POST: no meaning of its own in WebDAV (RFC 4918 §9.5); features give it one each, by target
 * (`PostTarget`: sharing's API and protocols, a scheduling outbox, WebDAV-Push registration). The first
 * registered target that matches the request (and, for a target that names XML roots, whose roots hold
 * the body's) answers it.
 */
import type { DavRequest, DavResponse, PostTarget } from '../context.js';
import { DavError } from '../errors.js';
import { requireSomeRight } from '../handle.js';
import { xmlBody } from '../request-body.js';
import { nameOf } from '../xml.js';

async function chooseTarget(req: DavRequest): Promise<PostTarget | undefined> {
  const matching = req.plugins.postTargets().filter((t) => t.matches(req));
  // The body is parsed only when some matching target asks for its root (it is read once either way).
  let root: string | null | undefined;
  for (const t of matching) {
    if (t.xmlRoots === undefined) return t;
    if (root === undefined) {
      try {
        const body = await xmlBody(req);
        root = body ? nameOf(body) : null;
      } catch {
        root = null; // not XML: no root target takes it; a later target answers (or refuses) it
      }
    }
    if (root !== null && t.xmlRoots.includes(root)) return t;
  }
  return undefined;
}

export async function post(req: DavRequest): Promise<DavResponse> {
  const target = await chooseTarget(req);
  if (!target) {
    throw new DavError(405, 'POST is not supported here', undefined, [], {
      Allow: req.plugins.methods().join(', '),
    });
  }
  if (!target.ownRightsCheck) requireSomeRight(req);
  return target.handle(req);
}
