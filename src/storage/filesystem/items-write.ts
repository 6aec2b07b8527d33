/**
 * Writing items: PUT, DELETE, MOVE and COPY of one item. Each write decides on this process's view
 * first, then again on the folder under `.Radicale.lock`, and records the change (Radicale's item
 * cache, the change log, the history).
 */
import { readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type CollectionInfo, type ItemMeta, type NewItem, StorageError, type WriteCheck } from '../types.js';
import type { AfterChange, ItemCollectionCheck, ItemTransfer } from '../backend.js';
import { atomicWrite, isErrno, mapFsError, syncDir, tmpName, unlinkIfExists, writeSynced } from './fsutil.js';
import type { FileSet } from './history.js';
import type { Listing } from './item-index.js';
import { propsOf, readItemProps, updateItemProps } from './item-props.js';
import type { StoreContext } from './context.js';
import { readCollection, requireItemCollection } from './collections-read.js';
import { listing } from './items-read.js';

export interface Target {
  readonly path: string;
  readonly href: string;
}

/** What a MOVE/COPY of an item decided on: the source, the item it replaces, both listings. */
interface TransferState {
  readonly source: ItemMeta;
  readonly existing: ItemMeta | undefined;
  readonly src: Listing;
  readonly dst: Listing;
}

function sameUid(list: Listing, uid: string, href: string, ignore?: string): ItemMeta | undefined {
  if (uid === '') return undefined;
  const other = list.byUid.get(uid);
  if (other === undefined) return undefined;
  if (other.href !== href && other.href !== ignore) return other;
  // byUid keeps the first item per UID; only a UID held more than once has other holders.
  if (!list.sharedUids.has(uid)) return undefined;
  return list.items.find((m) => m.uid === uid && m.href !== href && m.href !== ignore);
}

/** After an item file changed: drop Radicale's item cache for it, advance its history. */
async function recordChange(
  store: StoreContext,
  path: string,
  href: string,
  etag: string,
  files: FileSet,
  written?: { bytes: Uint8Array; uid: string; component: string },
): Promise<void> {
  const dir = store.dirOf(path);
  await store.radicaleCache.remove(dir, href);
  if (written) {
    const entry = {
      uid: written.uid,
      etag,
      text: store.stock.decode(written.bytes),
      component: written.component,
    };
    await store.radicaleCache.write(dir, href, written.bytes, entry, store.fsOpts);
  }
  await store.changeLog(path).record(href, etag);
  const history = store.history(path);
  await history.update(href, etag);
  await history.cleanDeleted(files);
}

/** Records an item just put in place (call under `.Radicale.lock`, before anyone can replace it). */
async function finishWrite(
  store: StoreContext,
  path: string,
  href: string,
  bytes: Uint8Array,
  meta: Omit<ItemMeta, 'lastModifiedMs'>,
): Promise<ItemMeta> {
  const st = await stat(join(store.dirOf(path), href));
  const full: ItemMeta = { ...meta, size: bytes.length, lastModifiedMs: st.mtimeMs };
  store.index(path).remember(href, st, full);
  return full;
}

/**
 * The item collection at `path` and its listing as they are on disk now. Called holding
 * `.Radicale.lock` to decide a write: another process (Radicale, a second Almanac) may have changed
 * the folder since this process last looked, and a precondition or UID check decided on that older
 * view would let two writers both win.
 */
async function onDisk(
  store: StoreContext,
  path: string,
  collection: ItemCollectionCheck,
): Promise<{ info: CollectionInfo; list: Listing }> {
  const info = collection(path, readCollection(store, path));
  return { info, list: await store.index(path).list(info.tag, false, true) };
}

export async function putItem(
  store: StoreContext,
  path: string,
  href: string,
  item: Omit<NewItem, 'href'>,
  check: WriteCheck,
  collection: ItemCollectionCheck,
  after?: AfterChange,
): Promise<{ meta: ItemMeta; created: boolean }> {
  const decide = ({ info, list }: { info: CollectionInfo; list: Listing }): ItemMeta | undefined => {
    const existing = list.byHref.get(href);
    check(existing, info, sameUid(list, item.description.uid, href));
    return existing;
  };
  return store.withLock([{ path, mode: 'write' }], async () => {
    // A first look at this process's view: a refused write costs no temp file.
    decide(await listing(store, path, await requireItemCollection(store, path, collection)));
    let existing: ItemMeta | undefined;
    const meta = await writeItem(
      store,
      path,
      href,
      store.stock.encode(item.text),
      item.description,
      async () => {
        const now = await onDisk(store, path, collection);
        existing = decide(now);
        return now.list;
      },
    );
    await after?.();
    return { meta, created: existing === undefined };
  });
}

/**
 * Writes the item to a temp file, then, holding `.Radicale.lock`, asks `decide` (which checks the
 * preconditions on the folder as it is now and returns its listing) and renames it into place.
 */
async function writeItem(
  store: StoreContext,
  path: string,
  href: string,
  bytes: Buffer,
  d: NewItem['description'],
  decide: () => Promise<Listing>,
): Promise<ItemMeta> {
  const dir = store.dirOf(path);
  const tmp = join(dir, tmpName());
  const etag = store.stock.etag(bytes);
  try {
    await writeSynced(tmp, bytes, store.fsOpts);
  } catch (e) {
    await unlinkIfExists(tmp);
    mapFsError(e);
  }
  const index = store.index(path);
  let renamed = false;
  try {
    return await store.underFolderLock(async () => {
      const list = await decide();
      // Expected only now: a name another process created before is a new name to list.
      index.expect(href);
      await rename(tmp, join(dir, href)).catch(mapFsError);
      renamed = true;
      await syncDir(dir, store.fsOpts);
      const files = { has: (h: string) => h === href || list.files.has(h) };
      await recordChange(store, path, href, etag, files, { bytes, ...d });
      return finishWrite(store, path, href, bytes, { href, etag, size: bytes.length, ...pickDescription(d) });
    });
  } catch (e) {
    if (renamed) index.invalidateNames();
    else {
      index.unexpect(href);
      await unlinkIfExists(tmp);
    }
    throw e;
  }
}

export async function deleteItem(
  store: StoreContext,
  path: string,
  href: string,
  check: WriteCheck,
  collection: ItemCollectionCheck,
  after?: AfterChange,
): Promise<void> {
  const decide = ({ info, list }: { info: CollectionInfo; list: Listing }): void => {
    const existing = list.byHref.get(href);
    check(existing, info);
    if (existing === undefined) throw new StorageError('not-found', `item ${path}/${href} not found`);
  };
  await store.withLock([{ path, mode: 'write' }], async () => {
    decide(await listing(store, path, await requireItemCollection(store, path, collection)));
    const dir = store.dirOf(path);
    await store.underFolderLock(async () => {
      const now = await onDisk(store, path, collection);
      decide(now);
      await unlink(join(dir, href)).catch(mapFsError);
      await syncDir(dir, store.fsOpts);
      await updateItemProps(dir, store.fsOpts, (m) => m.delete(href));
      const files = { has: (h: string) => h !== href && now.list.files.has(h) };
      await recordChange(store, path, href, '', files);
    });
    store.index(path).forgetName(href);
    await after?.();
  });
}

export async function transferItem(
  store: StoreContext,
  t: ItemTransfer,
  check: WriteCheck,
  collection: ItemCollectionCheck,
  after?: AfterChange,
): Promise<{ meta: ItemMeta; created: boolean }> {
  const { from, to, move } = t;
  const modes = [
    { path: from.path, mode: move ? ('write' as const) : ('read' as const) },
    { path: to.path, mode: 'write' as const },
  ];
  return store.withLock(modes, async () => {
    const decided = async (fromDisk: boolean): Promise<TransferState> =>
      decideTransfer(t, check, await transferViews(store, from, to, collection, fromDisk));
    const first = await decided(false);
    if (from.path === to.path && from.href === to.href) return { meta: first.source, created: false };
    const bytes = await readFile(join(store.dirOf(from.path), from.href));
    if (store.stock.etag(bytes) !== first.source.etag)
      throw new StorageError('conflict', `item ${from.path}/${from.href} changed during the transfer`);
    // Decided again holding `.Radicale.lock`, on the folders as they are then.
    const again = async (): Promise<TransferState> => {
      const now = await decided(true);
      if (now.source.etag !== first.source.etag)
        throw new StorageError('conflict', `item ${from.path}/${from.href} changed during the transfer`);
      return now;
    };
    let existing: ItemMeta | undefined;
    const meta = move
      ? await moveItemFile(store, from, to, first.source, bytes, async () => {
          const now = await again();
          existing = now.existing;
          return now;
        })
      : await copyItemFile(store, from, to, first.source, bytes, async () => {
          const now = await again();
          existing = now.existing;
          return now.dst;
        });
    await after?.();
    return { meta, created: existing === undefined };
  });
}

/** Source and destination collections with their listings: this process's view, or the folders' (`onDisk`). */
async function transferViews(
  store: StoreContext,
  from: Target,
  to: Target,
  collection: ItemCollectionCheck,
  fromDisk: boolean,
): Promise<{ src: Listing; dst: Listing; dstInfo: CollectionInfo }> {
  const view = async (path: string): Promise<{ info: CollectionInfo; list: Listing }> =>
    fromDisk
      ? onDisk(store, path, collection)
      : listing(store, path, await requireItemCollection(store, path, collection));
  const src = await view(from.path);
  const dst = from.path === to.path ? src : await view(to.path);
  return { src: src.list, dst: dst.list, dstInfo: dst.info };
}

function decideTransfer(
  { from, to, uidOwnHref }: ItemTransfer,
  check: WriteCheck,
  views: { src: Listing; dst: Listing; dstInfo: CollectionInfo },
): TransferState {
  const source = views.src.byHref.get(from.href);
  if (source === undefined) throw new StorageError('not-found', `item ${from.path}/${from.href} not found`);
  const existing = views.dst.byHref.get(to.href);
  check(existing, views.dstInfo, sameUid(views.dst, source.uid, to.href, uidOwnHref));
  return { source, existing, src: views.src, dst: views.dst };
}

async function moveItemFile(
  store: StoreContext,
  from: Target,
  to: Target,
  source: ItemMeta,
  bytes: Buffer,
  decide: () => Promise<TransferState>,
): Promise<ItemMeta> {
  const index = store.index(to.path);
  let moved = false;
  try {
    return await store.underFolderLock(async () => {
      const now = await decide();
      index.expect(to.href);
      moved = true;
      return moveNow(store, from, to, source, bytes, now);
    });
  } catch (e) {
    if (moved) index.invalidateNames();
    else index.unexpect(to.href);
    throw e;
  }
}

/** The rename of a MOVE and its bookkeeping (under `.Radicale.lock`). */
async function moveNow(
  store: StoreContext,
  from: Target,
  to: Target,
  source: ItemMeta,
  bytes: Buffer,
  now: TransferState,
): Promise<ItemMeta> {
  const fromDir = store.dirOf(from.path);
  const toDir = store.dirOf(to.path);
  try {
    await rename(join(fromDir, from.href), join(toDir, to.href));
  } catch (e) {
    if (!isErrno(e, 'EXDEV')) mapFsError(e);
    // Collections on different filesystems (symlinked): copy atomically, then remove.
    await atomicWrite(toDir, to.href, bytes, store.fsOpts);
    await unlink(join(fromDir, from.href));
  }
  await syncDir(toDir, store.fsOpts);
  if (fromDir !== toDir) await syncDir(fromDir, store.fsOpts);
  await carryItemProps(store, from, to, true);
  const srcFiles = new Set(now.src.files);
  srcFiles.delete(from.href);
  const dstFiles = from.path === to.path ? srcFiles : new Set(now.dst.files);
  dstFiles.add(to.href);
  await recordChange(store, from.path, from.href, '', srcFiles);
  await recordChange(store, to.path, to.href, source.etag, dstFiles, { bytes, ...source });
  store.index(from.path).forgetName(from.href);
  return finishWrite(store, to.path, to.href, bytes, { ...source, href: to.href });
}

async function copyItemFile(
  store: StoreContext,
  from: Target,
  to: Target,
  source: ItemMeta,
  bytes: Buffer,
  decide: () => Promise<Listing>,
): Promise<ItemMeta> {
  const meta = await writeItem(store, to.path, to.href, bytes, source, decide);
  await store.underFolderLock(() => carryItemProps(store, from, to, false));
  return meta;
}

/** The target of a MOVE/COPY gets the source's dead properties (a MOVE takes them away). */
async function carryItemProps(store: StoreContext, from: Target, to: Target, move: boolean): Promise<void> {
  const fromDir = store.dirOf(from.path);
  const toDir = store.dirOf(to.path);
  const props = propsOf(await readItemProps(fromDir), from.href);
  if (move) await updateItemProps(fromDir, store.fsOpts, (m) => m.delete(from.href));
  await updateItemProps(toDir, store.fsOpts, (m) => {
    if (Object.keys(props).length === 0) return m.delete(to.href);
    m.set(to.href, { ...props });
    return true;
  });
}

function pickDescription(d: NewItem['description']): Pick<ItemMeta, 'uid' | 'component' | 'start' | 'end'> {
  return { uid: d.uid, component: d.component, start: d.start, end: d.end };
}
