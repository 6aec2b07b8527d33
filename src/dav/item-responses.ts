/**
 * The <D:response> of an item in a listing or multiget (PROPFIND Depth 1, sync-collection,
 * calendar-/addressbook-multiget). Clients ask big collections for the same few properties again
 * and again: getetag, getcontenttype... (values from the item's metadata) and calendar-data or
 * address-data without a selection (the stored text as it is). Those answers are written straight
 * into a string per item, without the generic property evaluation and XML tree: a 10,000-item
 * listing in a few milliseconds, a multiget of 100 with a fraction of the garbage.
 */
import type { DavRequest, ItemResource, LiveProperty } from './context.js';
import { evaluateProps, hrefOfResource, liveProperty } from './properties.js';
import { responseWithPropstats, statusLine } from './multistatus.js';
import { itemText } from './item-text.js';
import { PREFIXES, escapeXml, nameOf, splitClark, type XmlElement, type XmlNode } from './xml.js';

type ListedProp =
  | { readonly qname: string; readonly value: (res: ItemResource, req: DavRequest) => string }
  | { readonly qname: string; readonly text: LiveProperty['appliesTo'] };

/** A request whose properties can all be written per item from metadata and stored text. */
export interface ListingProps {
  readonly names: readonly ListedProp[];
}

/** For `LiveProperty.verbatimText`: an element without attributes or children asks for no more. */
export function asksForStoredText(requested: XmlElement): boolean {
  return requested.children.length === 0 && Object.keys(requested.attrs).length === 0;
}

function listedProp(req: DavRequest, w: XmlElement): ListedProp | undefined {
  const clark = nameOf(w);
  const { ns, local } = splitClark(clark);
  // Every multistatus root declares the known prefixes.
  const prefix = PREFIXES[ns];
  if (prefix === undefined) return undefined;
  const qname = `${prefix}:${local}`;
  const live = liveProperty(req, clark);
  const value = live?.itemMetadata;
  if (value !== undefined) return w.children.length === 0 ? { qname, value } : undefined;
  if (live?.verbatimText?.(w) === true) return { qname, text: (res, req) => live.appliesTo(res, req) };
  return undefined;
}

/** The properties of a request when every one can be written per item (then use `itemResponse`). */
export function listingProps(req: DavRequest, wanted: readonly XmlElement[]): ListingProps | undefined {
  if (wanted.length === 0) return undefined;
  const names: ListedProp[] = [];
  for (const w of wanted) {
    const listed = listedProp(req, w);
    if (listed === undefined) return undefined;
    names.push(listed);
  }
  return { names };
}

/** Whether writing these properties reads the items' texts. */
export function needsText(props: ListingProps): boolean {
  return props.names.some((p) => 'text' in p);
}

const OK = `<D:status>${statusLine(200)}</D:status>`;

/** An item's response to a request for `wanted` (`props` from listingProps, when it gave some). */
export async function itemResponse(
  req: DavRequest,
  res: ItemResource,
  wanted: readonly XmlElement[],
  props: ListingProps | undefined,
): Promise<XmlNode> {
  const now =
    props === undefined ? undefined : itemResponseNow(req, res, props, await textIfNeeded(req, res, props));
  return now ?? responseWithPropstats(hrefOfResource(req, res), await evaluateProps(req, res, wanted));
}

async function textIfNeeded(req: DavRequest, res: ItemResource, props: ListingProps): Promise<string> {
  return needsText(props) ? itemText(req, res) : '';
}

/**
 * The response written straight from metadata and `text` (the item's stored text, when the
 * properties need it), without a promise: undefined when the generic evaluation is needed (a
 * property that does not apply to this item). A multiget of 100 answers each item this way.
 */
export function itemResponseNow(
  req: DavRequest,
  res: ItemResource,
  props: ListingProps,
  text: string,
): XmlNode | undefined {
  if (props.names.some((p) => 'text' in p && !p.text(res, req))) return undefined;
  let body = '';
  for (const listed of props.names) {
    const value = 'value' in listed ? listed.value(res, req) : text;
    body += value === '' ? `<${listed.qname}/>` : `<${listed.qname}>${escapeXml(value)}</${listed.qname}>`;
  }
  return { raw: responseXml(req, res, body) };
}

function responseXml(req: DavRequest, res: ItemResource, body: string): string {
  const href = escapeXml(hrefOfResource(req, res));
  return `<D:response><D:href>${href}</D:href><D:propstat><D:prop>${body}</D:prop>${OK}</D:propstat></D:response>`;
}

/**
 * The same response as `itemResponse`, as XML text, when `props` needs only the item's metadata (no
 * stored text): no promise per item, which a listing of 100,000 items would otherwise pay for
 * (each promise also costs the request scope's async hooks).
 */
export function metadataResponse(
  req: DavRequest,
  res: ItemResource,
  props: ListingProps,
): string | undefined {
  let body = '';
  for (const listed of props.names) {
    if (!('value' in listed)) return undefined;
    const value = listed.value(res, req);
    body += value === '' ? `<${listed.qname}/>` : `<${listed.qname}>${escapeXml(value)}</${listed.qname}>`;
  }
  return responseXml(req, res, body);
}
