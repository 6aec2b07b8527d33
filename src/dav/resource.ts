/**
 * Resolving a request path to a collection, an item or a missing resource.
 */
import type { CollectionInfo, Storage } from '../storage/types.js';
import type { Resource } from './context.js';

/** Calendars and address books hold items (and, rarely, nothing else). */
function holdsItems(info: CollectionInfo): boolean {
  return info.tag === 'VCALENDAR' || info.tag === 'VADDRESSBOOK';
}

export async function resolve(storage: Storage, segments: readonly string[]): Promise<Resource> {
  const path = segments.join('/');
  const parentPath = segments.slice(0, -1).join('/');
  const name = segments[segments.length - 1] ?? '';
  const parent = segments.length > 0 ? await storage.getCollection(parentPath) : undefined;
  // In a calendar or an address book a name is nearly always an item, which the storage's index
  // knows without touching the disk: it is looked up first, before a collection of that name.
  const itemsFirst = parent !== undefined && holdsItems(parent);
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
