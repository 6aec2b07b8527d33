/**
 * REPORT: dispatch on the body's root element to a core or plugin report.
 */
import type { DavRequest, DavResponse } from '../context.js';
import { accessDenied, badRequest, DavError, notFound } from '../errors.js';
import { resolve } from '../resource.js';
import { xmlBody } from '../request-body.js';
import { nameOf } from '../xml.js';
import { DAV_CONDITIONS } from '../preconditions.js';

export async function report(req: DavRequest): Promise<DavResponse> {
  const res = await resolve(req, req.segments);
  if (res.kind === 'missing') throw notFound();
  // Access first: an anonymous client must get 401 (and log in), not a complaint about its body.
  if (!req.access.canRead(res)) throw accessDenied();
  const body = await xmlBody(req);
  if (!body) throw badRequest('REPORT needs a body');
  const name = nameOf(body);
  const handler = req.plugins.report(name);
  if (!handler || !req.plugins.reportsFor(res).includes(name)) {
    throw new DavError(403, `Unsupported report ${name}`, DAV_CONDITIONS.supportedReport);
  }
  return handler(req, res, body);
}
