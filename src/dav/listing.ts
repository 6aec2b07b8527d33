/**
 * Children of a collection as resources (sub-collections, then items).
 */
import type { DavRequest, Resource } from './context.js';

export async function children(req: DavRequest, res: Resource & { kind: 'collection' }): Promise<Resource[]> {
  const out: Resource[] = [];
  for (const info of await req.storage.listCollections(res.path)) {
    out.push({ kind: 'collection', path: info.path, info });
  }
  for (const meta of await req.storage.listItems(res.path)) {
    out.push({ kind: 'item', path: res.path, href: meta.href, meta, collection: res.info });
  }
  return out;
}
