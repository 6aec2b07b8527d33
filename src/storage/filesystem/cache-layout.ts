/**
 * Where Radicale keeps a collection's caches (`.Radicale.cache/{item,history,sync-token}`): inside the
 * collection's folder, or, with `[storage] use_cache_subfolder_for_<kind>`, in a mirror of the
 * collection tree under `<filesystem_cache_folder or filesystem_folder>/collection-cache/`
 * (Radicale's _get_collection_cache_subfolder).
 */
import { join } from 'node:path';

export type CacheKind = 'item' | 'history' | 'sync-token';

export interface CacheLayout {
  /** `<filesystem_folder>/collection-root`. */
  readonly root: string;
  /** `<filesystem_cache_folder or filesystem_folder>/collection-cache`. */
  readonly cacheRoot: string;
  /** The kinds kept under `cacheRoot`. */
  readonly inSubfolder: ReadonlySet<CacheKind>;
}

/** The folder of one kind of cache of the collection at `collectionDir`. */
export function cacheDir(layout: CacheLayout | undefined, collectionDir: string, kind: CacheKind): string {
  const moved =
    layout !== undefined && layout.inSubfolder.has(kind) && collectionDir.startsWith(layout.root)
      ? layout.cacheRoot + collectionDir.slice(layout.root.length)
      : collectionDir;
  return join(moved, '.Radicale.cache', kind);
}

/**
 * A folder of Almanac's own beside the collection's `.Radicale.cache` (under `collection-cache/` when
 * the sync-token cache is kept there): a dot-name other than `.Radicale*`, which Radicale skips.
 */
export function ownCacheDir(layout: CacheLayout | undefined, collectionDir: string, name: string): string {
  return join(cacheDir(layout, collectionDir, 'sync-token'), '..', '..', name);
}
