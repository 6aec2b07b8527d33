/**
 * sync-collection (RFC 6578).
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { DavError, badRequest, forbidden } from '../errors.js';
import { itemHref } from '../href.js';
import { hrefOfResource } from '../properties.js';
import { multistatusStream, responseWithStatus } from '../multistatus.js';
import { NS, child, clark, elText, textContent, type XmlElement, type XmlNode } from '../xml.js';
import { StorageError, type ItemMeta, type SyncResult } from '../../storage/types.js';
import { listingProps } from '../item-responses.js';
import { itemAnswer, listingPropsOf, reportPropRequest } from '../prop-request.js';
import { DAV_CONDITIONS } from '../preconditions.js';

/**
 * The metadata of the changed items, in listing order: from the listing for a first sync (all
 * items), looked up one by one for an incremental one (in proportion to the changes).
 */
async function changedItems(req: DavRequest, path: string, changed: readonly string[]): Promise<ItemMeta[]> {
  if (changed.length > 64) {
    const wanted = new Set(changed);
    return (await req.storage.listItems(path)).filter((m) => wanted.has(m.href));
  }
  const out: ItemMeta[] = [];
  for (const href of changed) {
    const meta = await req.storage.getItemMeta(path, href);
    if (meta !== undefined) out.push(meta);
  }
  return out;
}

export async function syncCollection(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  if (res.kind !== 'collection' || res.info.tag === '') {
    throw forbidden('sync-collection needs a calendar or address book', DAV_CONDITIONS.validSyncToken);
  }
  const tokenEl = child(body, NS.D, 'sync-token');
  const oldToken = tokenEl ? textContent(tokenEl).trim() : '';
  const level = child(body, NS.D, 'sync-level');
  if (level && textContent(level).trim() !== '1' && textContent(level).trim() !== 'infinite') {
    throw badRequest('Invalid sync-level');
  }
  const limitEl = child(body, NS.D, 'limit');
  const nresults = limitEl ? child(limitEl, NS.D, 'nresults') : undefined;
  const limit = nresults ? Number.parseInt(textContent(nresults).trim(), 10) : undefined;
  if (limit !== undefined && (!Number.isFinite(limit) || limit < 1)) {
    throw new DavError(403, 'Invalid limit', DAV_CONDITIONS.numberOfMatchesWithinLimits);
  }
  const preq = reportPropRequest(body);
  let result: SyncResult;
  try {
    result = await req.storage.sync(res.path, oldToken, limit);
  } catch (e) {
    if (e instanceof StorageError && e.code === 'invalid-sync-token') {
      throw forbidden('The sync token is invalid or expired', DAV_CONDITIONS.validSyncToken);
    }
    throw e;
  }
  const collection = res.info;
  const props = listingProps(req, listingPropsOf(preq));
  const items = await changedItems(req, collection.path, result.changed);
  async function* all(): AsyncIterable<XmlNode> {
    for (const meta of items) {
      yield itemAnswer(
        req,
        { kind: 'item', path: collection.path, href: meta.href, meta, collection },
        preq,
        props,
      );
    }
    for (const href of result.deleted)
      yield responseWithStatus(itemHref(req.prefix, collection.path, href), 404);
    if (result.truncated) yield responseWithStatus(hrefOfResource(req, res), 507);
  }
  return multistatusStream(all(), () => [elText(clark(NS.D, 'sync-token'), result.token)]);
}
