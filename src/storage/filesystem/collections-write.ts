/**
 * Writing collections: MKCOL, a whole-collection upload (prepared aside, swapped in), DELETE,
 * PROPPATCH, MOVE and COPY of a collection.
 */
import { copyFile, lstat, open, readlink, rename, stat, symlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type CollectionInfo, type Props, type PropsUpdate, StorageError } from '../types.js';
import type { AfterChange, CollectionPairCheck, NamedItems, ParentCheck, TagCheck } from '../backend.js';
import {
  atomicWrite,
  isErrno,
  makeDir,
  mapFsError,
  removeTree,
  syncDir,
  tmpName,
  unlinkIfExists,
  writeSynced,
} from './fsutil.js';
import type { SeedFile } from './item-index.js';
import { listNames } from './dir-names.js';
import { mapLimit } from './map-limit.js';
import { isSafeName, lastSegment, parentPath } from '../names.js';
import { isTag } from '../props.js';
import { pythonJson } from '../../compat/python/json.js';
import { itemBatches } from '../new-items.js';
import { ITEM_PROPS_FILE } from './item-props.js';
import { PROPS_FILE, type StoreContext } from './context.js';
import {
  getCollection,
  listCollections,
  readCollection,
  readProps,
  requireCollection,
} from './collections-read.js';

/** Files of a whole-collection upload written (and fsynced) at once: the thread pool has 4 threads. */
const UPLOAD_WRITES = 8;

/** From this many files an upload is made durable with one syncfs(2) instead of an fsync each. */
const SYNCFS_ABOVE = 64;

export async function createCollection(
  store: StoreContext,
  path: string,
  props: Props,
  parent: ParentCheck,
  after?: AfterChange,
): Promise<CollectionInfo> {
  return store.withLock([{ path, mode: 'write' }], async () => {
    parent(await getCollection(store, parentPath(path)));
    if ((await getCollection(store, path)) !== undefined) throw new StorageError('exists', `${path} exists`);
    const parentDir = store.dirOf(parentPath(path));
    const tmp = join(parentDir, tmpName());
    try {
      await makeDir(tmp, store.fsOpts);
      if (Object.keys(props).length > 0) await atomicWrite(tmp, PROPS_FILE, pythonJson(props), store.fsOpts);
      await store.underFolderLock(async () => {
        // Decided again on the folder: rename(2) would replace an empty folder another process made.
        if (await isFolder(store.dirOf(path))) throw new StorageError('exists', `${path} exists`);
        await rename(tmp, store.dirOf(path)).catch(mapFsError);
        await syncDir(parentDir, store.fsOpts);
      });
    } catch (e) {
      await removeTree(tmp);
      if (isErrno(e, 'ENOTEMPTY', 'EEXIST')) throw new StorageError('exists', `${path} exists`);
      throw e;
    }
    store.forget(path);
    await after?.();
    return requireCollection(store, path);
  });
}

export async function replaceCollection(
  store: StoreContext,
  path: string,
  props: Props,
  items: NamedItems,
  parent: ParentCheck,
  after?: AfterChange,
): Promise<CollectionInfo> {
  // The new collection is prepared without any lock (it is private until swapped in).
  const parentDir = store.dirOf(parentPath(path));
  const prepared = join(parentDir, tmpName());
  try {
    const seeds = await prepareCollection(store, prepared, props, items, store.dirOf(path)).catch(
      (e: unknown) => {
        throw store.refused(e);
      },
    );
    await store.withLock([{ path, mode: 'write' }], async () => {
      parent(await getCollection(store, parentPath(path)));
      await swapIn(store, prepared, path, true);
      store.forget(path);
      // Renaming the folder keeps its files' inodes and times: the index knows them already.
      const tag = props.tag ?? '';
      if (isTag(tag) && tag !== '') store.index(path).seed(tag, seeds);
      await after?.();
    });
  } finally {
    await removeTree(prepared);
  }
  return requireCollection(store, path);
}

async function prepareCollection(
  store: StoreContext,
  dir: string,
  props: Props,
  items: NamedItems,
  finalDir: string,
): Promise<SeedFile[]> {
  await makeDir(dir, store.fsOpts).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT')) throw new StorageError('not-found', 'parent collection not found');
    throw e;
  });
  if (Object.keys(props).length > 0)
    await writeSynced(join(dir, PROPS_FILE), pythonJson(props), store.fsOpts);
  // Inside the prepared folder the cache entries move with it; under collection-cache/ they go
  // where the collection will be.
  const cacheOf = store.radicaleCache.inSubfolder ? finalDir : dir;
  const names: string[] = [];
  const seeds: SeedFile[] = [];
  // Batch by batch (a big import comes so), the files of a batch several at a time: the folder is
  // private until swapped in, so each file is written at its name (checkedStorage named them) directly.
  for await (const batch of itemBatches(items)) {
    const written = await mapLimit(batch, UPLOAD_WRITES, async (item): Promise<SeedFile> => {
      const name = item.href;
      const bytes = store.stock.encode(item.text);
      const st = await writeNew(join(dir, name), bytes).catch(mapFsError);
      const etag = store.stock.etag(bytes);
      const entry = {
        uid: item.description.uid,
        etag,
        text: item.text,
        component: item.description.component,
      };
      await store.radicaleCache.write(cacheOf, name, bytes, entry, store.fsOpts, dir);
      // Only what the index keys on: 100,000 whole Stats objects took tens of megabytes.
      return {
        name,
        st: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs },
        etag,
        description: item.description,
      };
    });
    for (const seed of written) {
      seeds.push(seed);
      names.push(seed.name);
    }
  }
  if (store.fsOpts.fsync) await syncFiles(store, dir, names);
  await syncDir(dir, store.fsOpts);
  return seeds;
}

/**
 * Makes the files durable: one syncfs(2) for many (a bulk upload: one flush of the filesystem
 * instead of an fsync per file), else an fsync per file, several at a time.
 */
async function syncFiles(store: StoreContext, dir: string, names: readonly string[]): Promise<void> {
  if (names.length >= SYNCFS_ABOVE && store.libc) {
    const fh = await open(dir, 'r');
    try {
      if (await store.libc.syncfs(fh.fd)) return;
    } finally {
      await fh.close();
    }
  }
  await mapLimit(names, UPLOAD_WRITES, (name) => syncFile(join(dir, name)));
}

/**
 * Puts `source` (a prepared folder, or the collection a MOVE takes) at `path`, holding
 * `.Radicale.lock`, and removes the collection it replaces. No crash leaves `path` empty for good:
 * where the system can (`exchange`, Linux's RENAME_EXCHANGE) the two folders swap in one step;
 * otherwise (and for a MOVE, whose source must disappear) the swap takes two renames with a
 * journal entry that the next start uses to put the old collection back. Returns whether a
 * collection was replaced.
 */
async function swapIn(
  store: StoreContext,
  source: string,
  path: string,
  exchange: boolean,
  decide?: () => void,
): Promise<boolean> {
  const finalDir = store.dirOf(path);
  const parentDir = store.dirOf(parentPath(path));
  const replaced = await store.underFolderLock(async () => {
    // Decided on the folder as it is now (another process may have written since).
    if (!(await isFolder(source))) throw new StorageError('not-found', 'the source collection is gone');
    decide?.();
    const exists = await isFolder(finalDir);
    if (!exists) {
      await rename(source, finalDir).catch(mapFsError);
      await syncDir(parentDir, store.fsOpts);
      return undefined;
    }
    if (exchange && store.libc?.exchange(source, finalDir)) {
      // `source` now holds the old collection.
      await syncDir(parentDir, store.fsOpts);
      return source;
    }
    const aside = join(parentDir, tmpName());
    const done = await store.journal.begin(finalDir, source, aside);
    try {
      await rename(finalDir, aside);
    } catch (e) {
      await done();
      mapFsError(e);
    }
    try {
      await rename(source, finalDir);
    } catch (e) {
      await rename(aside, finalDir);
      await done();
      mapFsError(e);
    }
    await syncDir(parentDir, store.fsOpts);
    await done();
    return aside;
  });
  if (replaced !== undefined) await removeTree(replaced);
  return replaced !== undefined;
}

export async function deleteCollection(
  store: StoreContext,
  path: string,
  after?: AfterChange,
): Promise<void> {
  await store.withLock([{ path, mode: 'write' }], async () => {
    if (path === '') {
      for (const name of await listNames(store.root)) await removeAside(store, store.root, name);
      await unlinkIfExists(join(store.root, PROPS_FILE));
    } else {
      await requireCollection(store, path);
      await removeAside(store, store.dirOf(parentPath(path)), lastSegment(path));
    }
    store.forget(path);
    await after?.();
  });
}

/** Renames an entry to a temp name (atomic disappearance), then removes it. */
async function removeAside(store: StoreContext, parentDir: string, name: string): Promise<void> {
  const aside = join(parentDir, tmpName());
  await store.underFolderLock(async () => {
    await rename(join(parentDir, name), aside);
    await syncDir(parentDir, store.fsOpts);
  });
  await removeTree(aside);
}

export async function setProps(
  store: StoreContext,
  path: string,
  update: PropsUpdate,
  tag: TagCheck,
  after?: AfterChange,
): Promise<CollectionInfo> {
  return store.withLock([{ path, mode: 'write' }], async () => {
    await requireCollection(store, path);
    const dir = store.dirOf(path);
    // Merged under the folder's flock, after another process's writes are applied (underFolderLock): a
    // change Radicale or a second Almanac made meanwhile is kept.
    await store.underFolderLock(async () => {
      const props = update(readProps(store, dir).props);
      if (props === undefined) return;
      await tag(path, props, async () => (await listCollections(store, path)).length > 0);
      await atomicWrite(dir, PROPS_FILE, pythonJson(props), store.fsOpts);
    });
    // The hook, when something was written (checkedStorage knows).
    await after?.();
    return requireCollection(store, path);
  });
}

/**
 * Runs the MOVE/COPY check on this process's view; returns it to run again under `.Radicale.lock`
 * with the target as it is then (another process may have made one meanwhile).
 */
async function decidePair(
  store: StoreContext,
  from: string,
  to: string,
  check: CollectionPairCheck,
): Promise<() => void> {
  const source = await getCollection(store, from);
  const parent = await getCollection(store, parentPath(to));
  check(source, parent, await getCollection(store, to));
  return () => check(source, parent, readCollection(store, to));
}

export async function moveCollection(
  store: StoreContext,
  from: string,
  to: string,
  check: CollectionPairCheck,
  after?: AfterChange,
): Promise<{ created: boolean }> {
  return store.withLock(
    [
      { path: from, mode: 'write' },
      { path: to, mode: 'write' },
    ],
    async () => {
      const again = await decidePair(store, from, to, check);
      const replaced = await swapIn(store, store.dirOf(from), to, false, again);
      await syncDir(store.dirOf(parentPath(from)), store.fsOpts);
      store.forget(from);
      store.forget(to);
      await after?.();
      return { created: !replaced };
    },
  );
}

export async function copyCollection(
  store: StoreContext,
  from: string,
  to: string,
  check: CollectionPairCheck,
  after?: AfterChange,
): Promise<{ created: boolean }> {
  const prepared = join(store.dirOf(parentPath(to)), tmpName());
  try {
    return await store.withLock(
      [
        { path: from, mode: 'read' },
        { path: to, mode: 'write' },
      ],
      async () => {
        const again = await decidePair(store, from, to, check);
        await copyTree(store, store.dirOf(from), prepared);
        await syncDir(prepared, store.fsOpts);
        const replaced = await swapIn(store, prepared, to, true, again);
        store.forget(to);
        await after?.();
        return { created: !replaced };
      },
    );
  } finally {
    await removeTree(prepared);
  }
}

/**
 * Copies props, item files and sub-collections (not caches or temp files). A symbolic link to an
 * item file is copied as a link to the same file (a relative one is rewritten to still point
 * there); a linked sub-collection is copied as a folder of its own, so that writes to the copy
 * never reach the original.
 */
async function copyTree(store: StoreContext, src: string, dst: string): Promise<void> {
  await makeDir(dst, store.fsOpts);
  for (const name of await listNames(src)) {
    if (name !== PROPS_FILE && name !== ITEM_PROPS_FILE && !isSafeName(name)) continue;
    const from = join(src, name);
    const to = join(dst, name);
    const link = await lstat(from).then(
      (st) => st.isSymbolicLink(),
      () => false,
    );
    const st = await stat(from).catch(() => undefined);
    if (st?.isDirectory()) await copyTree(store, from, to);
    else if (link) {
      const target = await readlink(from);
      await symlink(isAbsolute(target) ? target : relative(dst, resolve(src, target)), to).catch(mapFsError);
    } else if (st?.isFile()) {
      await copyFile(from, to).catch(mapFsError);
      if (store.fsOpts.fsync) await syncFile(to);
    }
  }
}

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then(
    (st) => st.isDirectory(),
    (e: unknown) => {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return false;
      throw e;
    },
  );
}

/** Writes a new file (which must not exist) and returns its stat, taken on the open handle. */
async function writeNew(path: string, data: Uint8Array): Promise<Stats> {
  const fh = await open(path, 'wx', 0o666);
  try {
    await fh.writeFile(data);
    return await fh.stat();
  } finally {
    await fh.close();
  }
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
