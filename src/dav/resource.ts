/**
 * Resolving a request path to a collection, an item or a missing resource.
 */
import type { Storage } from '../storage/types.js';
import type { Resource } from './context.js';

export async function resolve(storage: Storage, segments: readonly string[]): Promise<Resource> {
  const path = segments.join('/');
  const info = await storage.getCollection(path);
  if (info) return { kind: 'collection', path, info };
  const parentPath = segments.slice(0, -1).join('/');
  const name = segments[segments.length - 1] ?? '';
  const parent = segments.length > 0 ? await storage.getCollection(parentPath) : undefined;
  if (parent) {
    const meta = await storage.getItemMeta(parentPath, name);
    if (meta) return { kind: 'item', path: parentPath, href: name, meta, collection: parent };
  }
  return { kind: 'missing', parentPath, name, parent };
}

/** The path of the resource itself (collection path, or collection/href for items). */
export function resourcePath(res: Resource): string {
  switch (res.kind) {
    case 'collection':
      return res.path;
    case 'item':
      return res.path ? `${res.path}/${res.href}` : res.href;
    case 'missing':
      return res.parentPath ? `${res.parentPath}/${res.name}` : res.name;
  }
}

/** Depth of a collection path: 0 root, 1 principal, 2 calendar. */
export function depthOf(path: string): number {
  return path === '' ? 0 : path.split('/').length;
}
