/**
 * PROPPATCH (RFC 4918 §9.2): set/remove in document order, all or nothing, one status per property.
 */
import type { DavRequest, DavResponse } from '../context.js';
import { accessDenied, badRequest, notFound } from '../errors.js';
import { hrefOfResource } from '../properties.js';
import { multistatus, responseWithPropstats } from '../multistatus.js';
import { bodyText, xmlBody } from '../request-body.js';
import { NS, el, elText, type XmlElement } from '../xml.js';
import { resolve } from '../resource.js';
import { changeContext } from '../change-context.js';
import { applyPropUpdates, failedUpdatePropstats, operations } from '../prop-updates.js';

function updates(body: XmlElement | undefined): ReturnType<typeof operations> {
  if (!body) throw badRequest('PROPPATCH needs a DAV:propertyupdate body');
  if (body.ns !== NS.D || body.local !== 'propertyupdate') throw badRequest('Expected DAV:propertyupdate');
  return operations(body);
}

export async function proppatch(req: DavRequest): Promise<DavResponse> {
  const res = await resolve(req.storage, req.segments);
  // Rights before the body, as Radicale: a client without write access learns that first.
  if (!req.access.canWrite(res)) throw accessDenied();
  if (res.kind === 'missing') throw notFound();
  const ops = updates(await xmlBody(req));
  const href = hrefOfResource(req, res);
  const props: Record<string, string> =
    res.kind === 'collection'
      ? { ...res.info.props }
      : { ...(await req.storage.getItemProps(res.path, res.href)) };
  const result = applyPropUpdates(req, props, ops, res.kind === 'collection' ? 'collection' : 'item');
  if (result.failed.length > 0) {
    return multistatus([
      el(`{${NS.D}}response`, elText(`{${NS.D}}href`, href), ...failedUpdatePropstats(result)),
    ]);
  }
  if (res.kind === 'item') await req.storage.setItemProps(res.path, res.href, props);
  else {
    if (!props.tag) delete props.tag;
    // The body was read and parsed above (xmlBody); [hook] notifications report it as sent.
    await req.storage.setProps(res.path, props, { ...changeContext(req), body: await bodyText(req) });
  }
  return multistatus([responseWithPropstats(href, new Map([[200, result.done]]))]);
}
