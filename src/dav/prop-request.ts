/**
 * Which properties a PROPFIND or a REPORT asks for (DAV:prop, DAV:allprop, DAV:propname, or none),
 * and a resource's DAV:response to such a request.
 */
import type { DavRequest, Resource } from './context.js';
import { badRequest } from './errors.js';
import { evaluateProps, hrefOfResource, propertyNames } from './properties.js';
import { responseWithPropstats, responseWithStatus } from './multistatus.js';
import { itemResponse, type ListingProps } from './item-responses.js';
import { NS, child, nameOf, type XmlElement, type XmlNode, type XmlOut } from './xml.js';

export type PropRequest =
  | { readonly kind: 'allprop'; readonly include: readonly string[] }
  | { readonly kind: 'propname' }
  /** `names` may be empty: a REPORT without DAV:prop, or with an empty one. */
  | { readonly kind: 'prop'; readonly names: readonly XmlElement[] };

/** The request inside `parent` (a DAV:propfind, or a REPORT body): `fallback` when it names none. */
function propRequestIn(parent: XmlElement, fallback: PropRequest): PropRequest {
  const prop = child(parent, NS.D, 'prop');
  if (prop) return { kind: 'prop', names: prop.children };
  if (child(parent, NS.D, 'propname')) return { kind: 'propname' };
  if (child(parent, NS.D, 'allprop')) {
    const inc = child(parent, NS.D, 'include');
    return { kind: 'allprop', include: inc ? inc.children.map(nameOf) : [] };
  }
  return fallback;
}

/** A PROPFIND body: no body at all is allprop (RFC 4918 §9.1). */
export function parsePropfindBody(body: XmlElement | undefined): PropRequest {
  if (!body) return { kind: 'allprop', include: [] };
  if (body.ns !== NS.D || body.local !== 'propfind') throw badRequest('Expected DAV:propfind');
  const preq = propRequestIn(body, { kind: 'prop', names: [] });
  if (preq.kind === 'prop' && !child(body, NS.D, 'prop')) {
    throw badRequest('DAV:propfind needs prop, propname or allprop');
  }
  return preq;
}

/**
 * The properties a REPORT asks for (calendar-query, multigets, sync-collection). Without DAV:prop
 * (RFC 4791 §7.8 makes it optional), no property is asked for: each member is answered with its href
 * and a 200 status, as with an empty DAV:prop.
 */
export function reportPropRequest(body: XmlElement): PropRequest {
  return propRequestIn(body, { kind: 'prop', names: [] });
}

/**
 * A resource's DAV:response: the properties asked for (200/404 propstats), all of them (allprop:
 * what exists), or their names. Asking for nothing gives a 200 status: a DAV:response needs a status
 * or a propstat (RFC 4918 §14.24).
 */
export async function propResponse(req: DavRequest, res: Resource, preq: PropRequest): Promise<XmlOut> {
  const href = hrefOfResource(req, res);
  if (preq.kind === 'prop') {
    if (preq.names.length === 0) return responseWithStatus(href, 200);
    return responseWithPropstats(href, await evaluateProps(req, res, preq.names));
  }
  if (preq.kind === 'propname') {
    return responseWithPropstats(
      href,
      await evaluateProps(req, res, await propertyNames(req, res, false), true),
    );
  }
  const names = await propertyNames(req, res, true);
  for (const n of preq.include) if (!names.includes(n)) names.push(n);
  const groups = await evaluateProps(req, res, names);
  // allprop answers only what exists.
  groups.delete(404);
  return responseWithPropstats(href, groups);
}

/** The properties of a request that listings may write per item (see item-responses.ts). */
export function listingPropsOf(preq: PropRequest): readonly XmlElement[] {
  return preq.kind === 'prop' ? preq.names : [];
}

/** An item's DAV:response in a listing, multiget or report (`listing` from listingProps). */
export async function itemAnswer(
  req: DavRequest,
  res: Resource & { kind: 'item' },
  preq: PropRequest,
  listing: ListingProps | undefined,
): Promise<XmlNode> {
  if (preq.kind === 'prop' && preq.names.length > 0) return itemResponse(req, res, preq.names, listing);
  return propResponse(req, res, preq);
}
