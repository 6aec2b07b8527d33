/**
 * The in-process cache of collection listings (item metadata) and item texts of the PostgreSQL
 * storage. Nothing here is ever served without a check against the database: a listing is for one
 * collection identity (id and random sync key) at one change-log position (`collections.seq`, raised
 * by every transaction that changes an item, under the collection's row lock). A read looks at the
 * collection's row (one indexed query, which it makes anyway) and uses the listing only if the
 * position is the same; otherwise it reads the changes after the cached position (one query on
 * changes_seq) and applies them, or reloads the listing when the log was pruned past it. So several
 * instances on one database each keep their own cache and none serves another state than the
 * database's at the time of the read.
 */
import type { ItemMeta } from '../types.js';
import { TextCache } from '../text-cache.js';

export interface Listing {
  /** `${id}/${sync_key}`: a deleted and recreated collection never matches. */
  readonly identity: string;
  /** The change-log position this listing is the state at. */
  readonly seq: number;
  /** Sorted by href (UTF-16 code units, as `<`). Never changed in place: a new listing replaces it. */
  readonly items: readonly ItemMeta[];
}

/** Position of `href` in the sorted items, or -(insertion point) - 1. */
export function findHref(items: readonly ItemMeta[], href: string): number {
  let lo = 0;
  let hi = items.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const h = (items[mid] as ItemMeta).href;
    if (h < href) lo = mid + 1;
    else if (h > href) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

export const byHref = (a: ItemMeta, b: ItemMeta): number => (a.href < b.href ? -1 : a.href > b.href ? 1 : 0);

/** A listing with some hrefs changed (meta) or gone (undefined). */
export function applyChanges(
  base: Listing,
  seq: number,
  changes: ReadonlyMap<string, ItemMeta | undefined>,
): Listing {
  const items = base.items.slice();
  for (const [href, meta] of changes) {
    const at = findHref(items, href);
    if (at >= 0) {
      if (meta === undefined) items.splice(at, 1);
      else items[at] = meta;
    } else if (meta !== undefined) {
      items.splice(-at - 1, 0, meta);
    }
  }
  return { identity: base.identity, seq, items };
}

/**
 * Listings by collection id, least recently used dropped first once they hold more than `maxItems`
 * items in all (a meta is ~200 bytes: 200,000 items are ~40 MB).
 */
export class ListingCache {
  private readonly map = new Map<string, Listing>();
  private count = 0;
  /** Item texts by `${collection id}/${href}`, valid for one ETag. */
  readonly texts: TextCache;

  constructor(
    private readonly maxItems: number,
    maxTextBytes: number,
  ) {
    this.texts = new TextCache(maxTextBytes);
  }

  get(id: string): Listing | undefined {
    const l = this.map.get(id);
    if (l === undefined) return undefined;
    this.map.delete(id);
    this.map.set(id, l);
    return l;
  }

  /** Keeps `l` unless a listing of a later position of the same collection is already there. */
  set(id: string, l: Listing): void {
    const old = this.map.get(id);
    if (old !== undefined) {
      if (old.identity === l.identity && old.seq > l.seq) return;
      this.map.delete(id);
      this.count -= old.items.length;
    }
    if (l.items.length > this.maxItems) return;
    this.map.set(id, l);
    this.count += l.items.length;
    for (const [k, v] of this.map) {
      if (this.count <= this.maxItems) break;
      this.map.delete(k);
      this.count -= v.items.length;
    }
  }

  clear(): void {
    this.map.clear();
    this.count = 0;
    this.texts.clear();
  }
}
