/**
 * Resolving a request path to a collection, an item or a missing resource.
 */
import type { DavRequest, Resource } from './context.js';

/**
 * Where the request path points, with the request's storage; a collection of a tag some plugin's
 * kind owns (a calendar, an address book) holds items, and (rarely) nothing else.
 */
export async function resolve(
  req: Pick<DavRequest, 'storage' | 'plugins'>,
  segments: readonly string[],
): Promise<Resource> {
  const { storage, plugins } = req;
  const path = segments.join('/');
  const parentPath = segments.slice(0, -1).join('/');
  const name = segments[segments.length - 1] ?? '';
  const parent = segments.length > 0 ? await storage.getCollection(parentPath) : undefined;
  // In a calendar or an address book a name is nearly always an item, which the storage's index
  // knows without touching the disk: it is looked up first, before a collection of that name.
  const itemsFirst = parent !== undefined && plugins.byTag(parent.tag) !== undefined;
  if (itemsFirst) {
    const meta = await storage.getItemMeta(parentPath, name);
    if (meta) return { kind: 'item', path: parentPath, href: name, meta, collection: parent };
  }
  const info = await storage.getCollection(path);
  if (info) return { kind: 'collection', path, info };
  if (parent && !itemsFirst) {
    const meta = await storage.getItemMeta(parentPath, name);
    if (meta) return { kind: 'item', path: parentPath, href: name, meta, collection: parent };
  }
  return { kind: 'missing', parentPath, name, parent };
}
