/**
 * Reading items: listings from the item index, item texts (through the text cache), UID lookups.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { CollectionInfo, CollectionTag, Item, ItemMeta } from '../types.js';
import { isErrno, readFileAndStatSync } from './fsutil.js';
import type { Listing } from './item-index.js';
import { checkName } from '../names.js';
import type { StoreContext } from './context.js';
import { getCollection, requireCollection } from './collections-read.js';

/** Item files up to this size are read synchronously (items are small; a big one must not stall others). */
const SYNC_READ_LIMIT = 256 * 1024;

/** A read of more items than this at once does not fill the text cache. */
const BULK_READ = 1000;

/** The collection's items; `exactOrder` for Radicale's directory order (the CTag and sync token). */
export async function listing(
  store: StoreContext,
  path: string,
  info?: CollectionInfo,
  exactOrder = false,
): Promise<{ info: CollectionInfo; list: Listing }> {
  const col = info ?? (await requireCollection(store, path));
  return { info: col, list: await store.index(path).list(col.tag, exactOrder) };
}

export async function listItems(store: StoreContext, path: string): Promise<ItemMeta[]> {
  return store.withLock([{ path, mode: 'read' }], async () => [...(await listing(store, path)).list.items]);
}

export async function listItemsInRange(
  store: StoreContext,
  path: string,
  range: { start: number; end: number },
  component?: string,
): Promise<ItemMeta[]> {
  const { list } = await store.withLock([{ path, mode: 'read' }], () => listing(store, path));
  return list.items.filter(
    (m) =>
      (!component || !m.component || m.component === component) &&
      ((m.start === 0 && m.end === 0) || (m.start <= range.end && m.end >= range.start)),
  );
}

export async function getItemMeta(
  store: StoreContext,
  path: string,
  href: string,
): Promise<ItemMeta | undefined> {
  checkName(href);
  const info = await getCollection(store, path);
  if (info === undefined) return undefined;
  return store.index(path).get(href, info.tag);
}

export async function* getItems(
  store: StoreContext,
  path: string,
  hrefs?: readonly string[],
): AsyncIterable<Item> {
  hrefs?.forEach(checkName);
  const { info, list } = await store.withLock([{ path, mode: 'read' }], () => listing(store, path));
  const wanted = hrefs === undefined ? list.items : hrefs.flatMap((h) => list.byHref.get(h) ?? []);
  const dir = store.dirOf(path);
  // A bulk read (an export, a query over a whole collection) goes around the text cache: it would
  // only push out what smaller reads keep there, and leave old-generation garbage behind.
  const keep = wanted.length <= BULK_READ;
  // Reads run 32 at a time (the thread pool overlaps them); items come out in listing order.
  for (let i = 0; i < wanted.length; i += 32) {
    const batch = await Promise.all(
      wanted.slice(i, i + 32).map((m) => readItem(store, path, dir, m, info.tag, keep)),
    );
    for (const item of batch) if (item !== undefined) yield item;
  }
}

/** Reads an item's text; files are replaced atomically, so no lock is needed. */
async function readItem(
  store: StoreContext,
  path: string,
  dir: string,
  meta: ItemMeta,
  tag: CollectionTag,
  keep: boolean,
): Promise<Item | undefined> {
  const key = join(dir, meta.href);
  const cached = store.texts.get(key, meta.etag);
  if (cached !== undefined) return { ...meta, text: cached };
  let bytes: Buffer;
  let st: Stats | undefined;
  try {
    if (meta.size <= SYNC_READ_LIMIT) {
      // A small file is read synchronously: a few microseconds, against four thread-pool round
      // trips. When the open file is the one the index described, its ETag needs no hashing.
      ({ bytes, st } = readFileAndStatSync(key));
      if (store.index(path).describes(meta, st)) return textOf(store, key, meta, bytes, keep);
    } else bytes = await readFile(key);
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
    throw e;
  }
  if (store.stock.etag(bytes) === meta.etag) return textOf(store, key, meta, bytes, keep);
  // Changed since it was listed: describe the new content.
  st ??= await stat(key).catch(() => undefined);
  if (st === undefined) return undefined;
  const fresh = store.index(path).describeBytes(meta.href, bytes, st, tag);
  return fresh === undefined ? undefined : { ...fresh.meta, text: fresh.text };
}

function textOf(store: StoreContext, key: string, meta: ItemMeta, bytes: Uint8Array, keep: boolean): Item {
  const text = store.stock.decode(bytes);
  if (keep) store.texts.set(key, meta.etag, text);
  return { ...meta, text };
}

export async function findByUid(
  store: StoreContext,
  path: string,
  uid: string,
): Promise<ItemMeta | undefined> {
  if (uid === '') return undefined;
  return store.withLock([{ path, mode: 'read' }], async () =>
    (await listing(store, path)).list.byUid.get(uid),
  );
}
