/**
 * The shape shared by calendar-multiget and addressbook-multiget: a list of hrefs, each answered with
 * the requested properties or 404.
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { badRequest } from '../errors.js';
import { hrefToSegments } from '../href.js';
import { evaluateProps, hrefOfResource } from '../properties.js';
import { loadTexts } from '../item-text.js';
import { multistatus, responseWithPropstats, responseWithStatus } from '../multistatus.js';
import { NS, child, childrenNamed, textContent, type XmlElement, type XmlNode } from '../xml.js';

export async function multiget(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  if (res.kind !== 'collection') throw badRequest('multiget must target a collection');
  const prop = child(body, NS.D, 'prop');
  const wanted = prop?.children ?? [];
  const hrefs = childrenNamed(body, NS.D, 'href').map((h) => textContent(h).trim());
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
  for (const meta of await req.storage.listItems(res.path)) {
    if (!byHref.has(meta.href)) continue;
    found.add(meta.href);
    items.push({ kind: 'item', path: res.path, href: meta.href, meta, collection: res.info });
  }
  // One storage read for all texts the properties may need (calendar-data, address-data).
  await loadTexts(req, items);
  for (const itemRes of items) {
    responses.push(
      responseWithPropstats(hrefOfResource(req, itemRes), await evaluateProps(req, itemRes, wanted)),
    );
  }
  for (const [name, href] of byHref) if (!found.has(name)) responses.push(responseWithStatus(href, 404));
  return multistatus(responses);
}
