/**
 * sync-collection (RFC 6578).
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { forbidden } from '../errors.js';
import { itemHref } from '../href.js';
import { hrefOfResource } from '../properties.js';
import { multistatusStream, responseWithStatus } from '../multistatus.js';
import { NS, clark, elText, type XmlElement, type XmlNode } from '../xml.js';
import { StorageError, type ItemMeta, type SyncResult } from '../../storage/types.js';
import { listingProps } from '../item-responses.js';
import { itemAnswer, listingPropsOf } from '../prop-request.js';
import { DAV_CONDITIONS } from '../preconditions.js';
import { parseSyncCollection } from '../requests/sync-collection.js';

/**
 * The metadata of the changed items, in listing order: from the listing for a first sync (all
 * items), looked up by name for an incremental one (in proportion to the changes).
 */
async function changedItems(req: DavRequest, path: string, changed: readonly string[]): Promise<ItemMeta[]> {
  if (changed.length > 64) {
    const wanted = new Set(changed);
    return (await req.storage.listItems(path)).filter((m) => wanted.has(m.href));
  }
  return req.storage.getItemMetas(path, changed);
}

export async function syncCollection(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  if (res.kind !== 'collection' || res.info.tag === '') {
    throw forbidden('sync-collection needs a calendar or address book', DAV_CONDITIONS.validSyncToken);
  }
  const { token: oldToken, limit, props: preq } = parseSyncCollection(body);
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
