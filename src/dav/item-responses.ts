/**
 * The <D:response> of an item in a listing (PROPFIND Depth 1, sync-collection). Clients poll big
 * collections for the same few properties (getetag, getcontenttype...), whose values depend on the
 * item's metadata only: those answers are written straight from the metadata, a string per item,
 * without the generic property evaluation and XML tree (a 10,000-item listing in a few milliseconds,
 * and nothing kept in memory).
 */
import type { DavRequest, Resource } from './context.js';
import { ITEM_METADATA_PROPERTIES, evaluateProps, hrefOfResource } from './properties.js';
import { responseWithPropstats, statusLine } from './multistatus.js';
import { NS, escapeXml, nameOf, splitClark, type XmlElement, type XmlNode } from './xml.js';

type ItemResource = Resource & { kind: 'item' };

/** A request for metadata properties only, ready to be written per item. */
export interface MetadataProps {
  readonly names: readonly { clark: string; qname: string }[];
}

/** The properties of a request when all are metadata properties (then listings use `itemResponse`). */
export function metadataProps(wanted: readonly XmlElement[]): MetadataProps | undefined {
  if (wanted.length === 0) return undefined;
  const names: { clark: string; qname: string }[] = [];
  for (const w of wanted) {
    const clark = nameOf(w);
    if (!ITEM_METADATA_PROPERTIES.has(clark) || w.children.length > 0) return undefined;
    const { ns, local } = splitClark(clark);
    // All are DAV: properties, and the multistatus root declares DAV: as D.
    if (ns !== NS.D) return undefined;
    names.push({ clark, qname: `D:${local}` });
  }
  return { names };
}

const OK = `<D:status>${statusLine(200)}</D:status>`;

/** An item's response to a request for `wanted` (`props` from metadataProps, when it gave some). */
export async function itemResponse(
  req: DavRequest,
  res: ItemResource,
  wanted: readonly XmlElement[],
  props: MetadataProps | undefined,
): Promise<XmlNode> {
  if (props === undefined) {
    return responseWithPropstats(hrefOfResource(req, res), await evaluateProps(req, res, wanted));
  }
  let body = '';
  for (const { clark, qname } of props.names) {
    const value = ITEM_METADATA_PROPERTIES.get(clark)?.(res, req) ?? '';
    body += value === '' ? `<${qname}/>` : `<${qname}>${escapeXml(value)}</${qname}>`;
  }
  const href = escapeXml(hrefOfResource(req, res));
  return {
    raw: `<D:response><D:href>${href}</D:href><D:propstat><D:prop>${body}</D:prop>${OK}</D:propstat></D:response>`,
  };
}
