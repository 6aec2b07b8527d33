/**
 * PROPFIND (RFC 4918 §9.1). Depth infinity is answered as depth 1, as Radicale does.
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { DavError, badRequest, notFound } from '../errors.js';
import { evaluateProps, hrefOfResource, propertyNames } from '../properties.js';
import { multistatus, multistatusStream, responseWithPropstats } from '../multistatus.js';
import { depthHeader, xmlBody } from '../request-body.js';
import { NS, child, nameOf, type XmlElement, type XmlNode, type XmlOut } from '../xml.js';
import { listingProps, itemResponse } from '../item-responses.js';
import { resolve } from '../resource.js';
import { children } from '../listing.js';

export type PropRequest =
  { kind: 'allprop'; include: string[] } | { kind: 'propname' } | { kind: 'prop'; names: XmlElement[] };

export function parsePropfindBody(body: XmlElement | undefined): PropRequest {
  if (!body) return { kind: 'allprop', include: [] };
  if (body.ns !== NS.D || body.local !== 'propfind') throw badRequest('Expected DAV:propfind');
  const prop = child(body, NS.D, 'prop');
  if (prop) return { kind: 'prop', names: prop.children };
  if (child(body, NS.D, 'propname')) return { kind: 'propname' };
  if (child(body, NS.D, 'allprop')) {
    const inc = child(body, NS.D, 'include');
    return { kind: 'allprop', include: inc ? inc.children.map(nameOf) : [] };
  }
  throw badRequest('DAV:propfind needs prop, propname or allprop');
}

export async function propfindResponse(req: DavRequest, res: Resource, preq: PropRequest): Promise<XmlOut> {
  let groups;
  if (preq.kind === 'prop') groups = await evaluateProps(req, res, preq.names);
  else if (preq.kind === 'propname') {
    groups = await evaluateProps(req, res, await propertyNames(req, res, false), true);
  } else {
    const names = await propertyNames(req, res, true);
    for (const n of preq.include) if (!names.includes(n)) names.push(n);
    groups = await evaluateProps(req, res, names);
    // allprop answers only what exists.
    groups.delete(404);
  }
  return responseWithPropstats(hrefOfResource(req, res), groups);
}

export async function propfind(req: DavRequest): Promise<DavResponse> {
  const preq = parsePropfindBody(await xmlBody(req));
  const depth = depthHeader(req, 'infinity');
  const res = await resolve(req.storage, req.segments);
  if (res.kind === 'missing') throw notFound();
  if (!req.access.canRead(res)) throw new DavError(403, 'Access denied');
  if (
    !req.user &&
    preq.kind === 'prop' &&
    preq.names.some((n) => n.ns === NS.D && n.local === 'current-user-principal')
  ) {
    // DAVx5 and others expect to be asked for credentials here.
    throw new DavError(401, 'Authentication required');
  }
  const first = await propfindResponse(req, res, preq);
  if (depth === '0' || res.kind !== 'collection') return multistatus([first]);
  const members = await children(req, res);
  const props = preq.kind === 'prop' ? listingProps(req, preq.names) : undefined;
  async function* all(): AsyncIterable<XmlNode> {
    yield first;
    for (const c of members) {
      if (!req.access.canRead(c)) continue;
      if (c.kind === 'item' && preq.kind === 'prop') yield await itemResponse(req, c, preq.names, props);
      else yield await propfindResponse(req, c, preq);
    }
  }
  return multistatusStream(all());
}
