/**
 * sync-collection (RFC 6578).
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { DavError, badRequest, forbidden } from '../errors.js';
import { itemHref } from '../href.js';
import { evaluateProps, hrefOfResource } from '../properties.js';
import { multistatusStream, responseWithPropstats, responseWithStatus } from '../multistatus.js';
import { NS, child, clark, elText, textContent, type XmlElement, type XmlNode } from '../xml.js';
import { StorageError, type SyncResult } from '../../storage/types.js';

export async function syncCollection(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  if (res.kind !== 'collection' || res.info.tag === '') {
    throw forbidden('sync-collection needs a calendar or address book', clark(NS.D, 'valid-sync-token'));
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
    throw new DavError(403, 'Invalid limit', clark(NS.D, 'number-of-matches-within-limits'));
  }
  const wanted = child(body, NS.D, 'prop')?.children ?? [];
  let result: SyncResult;
  try {
    result = await req.storage.sync(res.path, oldToken, limit);
  } catch (e) {
    if (e instanceof StorageError && e.code === 'invalid-sync-token') {
      throw forbidden('The sync token is invalid or expired', clark(NS.D, 'valid-sync-token'));
    }
    throw e;
  }
  const changed = new Set(result.changed);
  const items = changed.size > 0 ? await req.storage.listItems(res.path) : [];
  const collection = res.info;
  async function* all(): AsyncIterable<XmlNode> {
    for (const meta of items) {
      if (!changed.has(meta.href)) continue;
      const itemRes: Resource = { kind: 'item', path: collection.path, href: meta.href, meta, collection };
      yield responseWithPropstats(hrefOfResource(req, itemRes), await evaluateProps(req, itemRes, wanted));
    }
    for (const href of result.deleted)
      yield responseWithStatus(itemHref(req.prefix, collection.path, href), 404);
    if (result.truncated) yield responseWithStatus(hrefOfResource(req, res), 507);
  }
  return multistatusStream(all(), () => [elText(clark(NS.D, 'sync-token'), result.token)]);
}
