/**
 * The shape shared by calendar-multiget and addressbook-multiget: a list of hrefs, each answered with
 * the requested properties or 404.
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { badRequest } from '../errors.js';
import { hrefToSegments } from '../href.js';
import { loadTexts, loadedText } from '../item-text.js';
import { itemResponseNow, listingProps, needsText } from '../item-responses.js';
import { itemAnswer, listingPropsOf } from '../prop-request.js';
import { parseMultiget } from '../requests/multiget.js';
import { multistatus, responseWithStatus } from '../multistatus.js';
import type { XmlElement, XmlNode } from '../xml.js';

export async function multiget(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  if (res.kind !== 'collection') throw badRequest('multiget must target a collection');
  const { hrefs, props: preq } = parseMultiget(body);
  const byHref = new Map<string, string>(); // item name -> href as sent
  const responses: XmlNode[] = [];
  for (const href of hrefs) {
    const parsed = hrefToSegments(href, req.prefix);
    const segs = parsed?.segments;
    const inCollection = segs && segs.slice(0, -1).join('/') === res.path && segs.length > 0;
    if (!inCollection) {
      responses.push(responseWithStatus(href, 404));
      continue;
    }
    byHref.set(segs[segs.length - 1] ?? '', href);
  }
  const found = new Set<string>();
  const items: (Resource & { kind: 'item' })[] = [];
  // Looked up by name (one read where the backend can): a multiget of 100 costs the same in a
  // collection of 100 or 100,000 items.
  for (const meta of await req.storage.getItemMetas(res.path, [...byHref.keys()])) {
    found.add(meta.href);
    items.push({ kind: 'item', path: res.path, href: meta.href, meta, collection: res.info });
  }
  // One storage read for all texts the properties may need (calendar-data, address-data).
  const props = listingProps(req, listingPropsOf(preq));
  const withText = props === undefined || needsText(props);
  if (withText) await loadTexts(req, items);
  for (const itemRes of items) {
    // Written without a promise per item when the properties allow (a promise costs microseconds).
    const text = withText ? loadedText(req, itemRes) : '';
    const now =
      props !== undefined && text !== undefined ? itemResponseNow(req, itemRes, props, text) : undefined;
    responses.push(now ?? (await itemAnswer(req, itemRes, preq, props)));
  }
  for (const [name, href] of byHref) if (!found.has(name)) responses.push(responseWithStatus(href, 404));
  return multistatus(responses);
}
