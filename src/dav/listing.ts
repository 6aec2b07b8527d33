/**
 * Children of a collection as resources (sub-collections, then items), and the group collections
 * Radicale adds to a member's listing of their home.
 */
import type { DavRequest, Resource } from './context.js';
import { StorageError } from '../storage/types.js';

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

/** Where Radicale keeps the collection of a group: `GROUPS/<base64 of the group's name>`. */
export function groupCollectionPath(group: string): string {
  return `GROUPS/${Buffer.from(group, 'utf8').toString('base64')}`;
}

/**
 * The group collections of the user's groups that exist and that the rights let the user read, for
 * a Depth 1 listing of the user's own home: clients find calendars there, so a member's clients find
 * the group's calendar too (Radicale lists them in every Depth 1 listing; a calendar's own listing
 * is no place for them).
 */
export async function groupCollections(
  req: DavRequest,
  home: Resource & { kind: 'collection' },
): Promise<Resource[]> {
  if (req.user === '' || home.path !== req.user) return [];
  const out: Resource[] = [];
  for (const group of [...req.groups].sort()) {
    const info = await req.storage.getCollection(groupCollectionPath(group)).catch((e: unknown) => {
      // A group whose name gives no storable path has no collection.
      if (e instanceof StorageError && e.code === 'invalid-name') return undefined;
      throw e;
    });
    if (info === undefined) continue;
    const res: Resource = { kind: 'collection', path: info.path, info };
    if (req.access.canRead(res)) out.push(res);
  }
  return out;
}
