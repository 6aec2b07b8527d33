/**
 * Reading collections: a collection's props (`.Radicale.props`, cached by stat), its CollectionInfo
 * (cached while inotify watches the folder), its children.
 */
import { readFileSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CollectionInfo, type CollectionTag, StorageError } from '../types.js';
import type { ItemCollectionCheck } from '../backend.js';
import { isErrno } from './fsutil.js';
import { listFolderNames } from './dir-names.js';
import { isSafeName } from '../names.js';
import { isTag } from '../props.js';
import { parseProps } from './props-json.js';
import { PROPS_FILE, type StoreContext } from './context.js';

/** Folders whose parsed `.Radicale.props` are kept (the map is emptied when it reaches this). */
const PROPS_CACHE_LIMIT = 4096;

/**
 * A collection's props. Read synchronously, as the folder's stat in readCollection: a few
 * microseconds for a small file, where three thread-pool round trips cost most of a simple GET.
 */
export function readProps(
  store: StoreContext,
  dir: string,
): { props: Record<string, string>; mtimeMs: number } {
  try {
    const path = join(dir, PROPS_FILE);
    // No exception for the common missing file (principals): building one costs more than the stat.
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) return { props: {}, mtimeMs: 0 };
    const known = store.propsByDir.get(dir);
    if (known !== undefined && known.ino === st.ino && known.size === st.size && known.mtimeMs === st.mtimeMs)
      return known;
    // Radicale reads the file in [encoding] stock (it writes it in ASCII, so only hand edits differ).
    const text = store.stock.utf8 ? readFileSync(path, 'utf8') : store.stock.decode(readFileSync(path));
    const { props, problems } = parseProps(text);
    if (problems.length > 0) store.options.log.warn({ dir, problems }, 'problems in .Radicale.props');
    const read = { props, mtimeMs: st.mtimeMs, ino: st.ino, size: st.size };
    if (store.propsByDir.size >= PROPS_CACHE_LIMIT) store.propsByDir.clear();
    store.propsByDir.set(dir, read);
    return read;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return { props: {}, mtimeMs: 0 };
    throw e;
  }
}

export function getCollection(store: StoreContext, path: string): Promise<CollectionInfo | undefined> {
  try {
    return Promise.resolve(collectionNow(store, path));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function collectionNow(store: StoreContext, path: string): CollectionInfo | undefined {
  // While inotify watches the folder and nothing was written since, the last answer still holds.
  const watched = store.indexes.get(path)?.watchGeneration();
  const known = store.infos.get(path);
  if (known && watched !== undefined && known.watch === watched && known.writes === store.writes)
    return known.info;
  const info = readCollection(store, path);
  if (info && watched !== undefined && store.writing === 0) {
    store.infos.set(path, { info, watch: watched, writes: store.writes });
  }
  return info;
}

export function readCollection(store: StoreContext, path: string): CollectionInfo | undefined {
  const dir = store.dirOf(path);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw e;
  }
  if (!st.isDirectory()) return undefined;
  const { props, mtimeMs } = readProps(store, dir);
  const tag: CollectionTag = props.tag !== undefined && isTag(props.tag) ? props.tag : '';
  const itemsMs = store.indexes.get(path)?.cachedLastModifiedMs ?? 0;
  return { path, tag, props, lastModified: new Date(Math.max(st.mtimeMs, mtimeMs, itemsMs)) };
}

export async function requireCollection(store: StoreContext, path: string): Promise<CollectionInfo> {
  const info = await getCollection(store, path);
  if (info === undefined) throw new StorageError('not-found', `collection ${path} not found`);
  return info;
}

/** The collection at `path` as this process sees it, if `check` lets items be written to it. */
export async function requireItemCollection(
  store: StoreContext,
  path: string,
  check: ItemCollectionCheck,
): Promise<CollectionInfo> {
  return check(path, await getCollection(store, path));
}

export async function listCollections(store: StoreContext, path: string): Promise<CollectionInfo[]> {
  const dir = store.dirOf(path);
  let names: string[];
  try {
    names = await listFolderNames(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return [];
    throw e;
  }
  const out: CollectionInfo[] = [];
  for (const name of names.filter(isSafeName)) {
    const child = path === '' ? name : `${path}/${name}`;
    const info = await getCollection(store, child);
    if (info !== undefined) out.push(info);
  }
  return out;
}
