/**
 * PROPFIND (RFC 4918 §9.1). Without a Depth header it is Depth 0, as Radicale answers (clients written
 * against it rely on that); Depth infinity on a collection is refused with propfind-finite-depth.
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { accessDenied, DavError, forbidden, notFound } from '../errors.js';
import { multistatus, multistatusStream } from '../multistatus.js';
import { depthHeader, xmlBody } from '../request-body.js';
import { NS, type XmlNode } from '../xml.js';
import { listingProps, metadataResponse, needsText } from '../item-responses.js';
import { itemAnswer, listingPropsOf, parsePropfindBody, propResponse } from '../prop-request.js';
import { resolve } from '../resource.js';
import { children, groupCollections } from '../listing.js';
import { DAV_CONDITIONS } from '../preconditions.js';

export async function propfind(req: DavRequest): Promise<DavResponse> {
  const preq = parsePropfindBody(await xmlBody(req));
  const depth = depthHeader(req, '0');
  const res = await resolve(req, req.segments);
  if (res.kind === 'missing') throw notFound();
  if (!req.access.canRead(res)) throw accessDenied();
  if (
    !req.user &&
    preq.kind === 'prop' &&
    preq.names.some((n) => n.ns === NS.D && n.local === 'current-user-principal')
  ) {
    // DAVx5 and others expect to be asked for credentials here.
    throw new DavError(401, 'Authentication required');
  }
  if (depth === 'infinity' && res.kind === 'collection') {
    // RFC 4918 §9.1: a server may refuse infinite depth; clients then walk with Depth 1.
    throw forbidden('Depth: infinity is not supported, use Depth: 1', DAV_CONDITIONS.propfindFiniteDepth);
  }
  const first = await propResponse(req, res, preq);
  if (depth === '0' || res.kind !== 'collection') return multistatus([first]);
  const members = [...(await children(req, res)), ...(await groupCollections(req, res))];
  const props = listingProps(req, listingPropsOf(preq));
  const fast = props !== undefined && !needsText(props) ? props : undefined;
  // Whether an item may be read follows from its collection's rights letters alone (Radicale's
  // rule, src/rights/access.ts): asked once per collection, not for each of 100,000 items.
  let itemsOf: string | undefined;
  let itemsReadable = false;
  const readable = (c: Resource): boolean => {
    if (c.kind !== 'item') return req.access.canRead(c);
    if (c.path !== itemsOf) {
      itemsOf = c.path;
      itemsReadable = req.access.canRead(c);
    }
    return itemsReadable;
  };
  async function* all(): AsyncIterable<XmlNode> {
    yield first;
    // Items answered from their metadata are written synchronously into one raw node per ~64 KiB.
    let raw = '';
    for (const c of members) {
      if (!readable(c)) continue;
      const text = fast !== undefined && c.kind === 'item' ? metadataResponse(req, c, fast) : undefined;
      if (text !== undefined) {
        raw += text;
        if (raw.length >= 65536) {
          yield { raw };
          raw = '';
        }
        continue;
      }
      if (raw !== '') {
        yield { raw };
        raw = '';
      }
      yield c.kind === 'item' ? await itemAnswer(req, c, preq, props) : await propResponse(req, c, preq);
    }
    if (raw !== '') yield { raw };
  }
  return multistatusStream(all());
}
