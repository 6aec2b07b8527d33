/**
 * Radicale-compatible "multifilesystem" storage: one folder per collection under
 * `<filesystem_folder>/collection-root`, one file per item, `.Radicale.props` JSON, Radicale's
 * history and sync-token pickles. Per-collection in-process RW locks keep unrelated users apart;
 * the cross-process `.Radicale.lock` flock is held only around the short critical section of each
 * write (and shared around sync-token bookkeeping).
 */
import { RadicaleItemCache } from './radicale-item-cache.js';
import { ownCacheDir, type CacheKind, type CacheLayout } from './cache-layout.js';
import { ChangeLog, OWN_FOLDER, isOwnTokenName } from './change-log.js';
import { TextCache } from './text-cache.js';
import { copyFile, lstat, open, readFile, readlink, rename, stat, symlink, unlink } from 'node:fs/promises';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import {
  StorageError,
  type ChangeContext,
  type CollectionInfo,
  type CollectionTag,
  type Item,
  type ItemDescriber,
  type ItemMeta,
  type NewItem,
  type Props,
  type PropsUpdate,
  type Storage,
  type SyncResult,
  type WriteCheck,
} from '../types.js';
import {
  atomicWrite,
  isErrno,
  makeDir,
  makeDirs,
  mapFsError,
  readFileAndStatSync,
  removeTree,
  syncDir,
  tmpName,
  unlinkIfExists,
  writeSynced,
  type FsOptions,
} from './fsutil.js';
import { History, TOKEN_PREFIX, sha256hex, stateName, type FileSet } from './history.js';
import { runHook } from '../hook.js';
import { ItemIndex, type Listing, type SeedFile } from './item-index.js';
import { listFolderNames, listNames } from './dir-names.js';
import { UTF8_ENCODING, stockEncoding, type StockEncoding } from './stock-encoding.js';
import { GlobalLock, LockRegistry, collectionLocks, type Release } from './lock.js';
import { loadLibc, type Libc } from './libc.js';
import { mapLimit } from './map-limit.js';
import { JOURNAL_FOLDER, SwapJournal } from './swap-journal.js';
import { describeLeftover, findLeftovers, removeLeftovers } from './leftovers.js';
import {
  checkName,
  isSafeName,
  isWithin,
  lastSegment,
  parentPath,
  pathSegments,
  uploadName,
} from '../names.js';
import { checkProps, isTag } from '../props.js';
import { parseProps, pythonJson } from './props-json.js';
import { ITEM_PROPS_FILE, propsOf, readItemProps, updateItemProps } from './item-props.js';
import { verifyTree } from './verify.js';
import { FilePushStore } from './push-store.js';
import type { PushStore } from '../push-store.js';

export interface FilesystemStorageOptions {
  readonly folder: string;
  /** false for multifilesystem_nolock: in-process locks only. */
  readonly crossProcessLock: boolean;
  readonly fsync: boolean;
  readonly umask: number | undefined;
  readonly maxResourceSize: number;
  readonly maxSyncTokenAge: number;
  readonly skipBrokenItem: boolean;
  readonly hook: string;
  readonly describe: ItemDescriber;
  readonly log: Logger;
  /** [encoding] stock: the character encoding of item files (default UTF-8). */
  readonly encoding?: string;
  /** [logging] storage_cache_actions_on_debug. */
  readonly cacheLog?: boolean;
  /** [storage] use_cache_subfolder_for_{item,history,synctoken}: those caches under `collection-cache/`. */
  readonly cacheSubfolders?: readonly CacheKind[];
  /** [storage] filesystem_cache_folder: where `collection-cache/` is (default: the folder). */
  readonly cacheFolder?: string;
  /** [storage] use_mtime_and_size_for_item_cache: Radicale's item cache keyed by size and mtime. */
  readonly itemCacheMtimeAndSize?: boolean;
}

interface Target {
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

const PROPS_FILE = '.Radicale.props';
/** Item files up to this size are read synchronously (items are small; a big one must not stall others). */
const SYNC_READ_LIMIT = 256 * 1024;
/** Folders whose parsed `.Radicale.props` are kept (the map is emptied when it reaches this). */
const PROPS_CACHE_LIMIT = 4096;
/** A read of more items than this at once does not fill the text cache. */
const BULK_READ = 1000;
/** Files of a whole-collection upload written (and fsynced) at once: the thread pool has 4 threads. */
const UPLOAD_WRITES = 8;
/** From this many files an upload is made durable with one syncfs(2) instead of an fsync each. */
const SYNCFS_ABOVE = 64;

export class FilesystemStorage implements Storage {
  private readonly root: string;
  private readonly stock: StockEncoding;
  private readonly fsOpts: FsOptions;
  private readonly push: FilePushStore;
  private readonly locks = new LockRegistry();
  private readonly historyLocks = new LockRegistry();
  private readonly hookLock = new LockRegistry();
  private readonly global: GlobalLock;
  private libc: Libc | undefined;
  private readonly journal: SwapJournal;
  private cleaning: Promise<void> = Promise.resolve();
  private readonly indexes = new Map<string, ItemIndex>();
  private readonly histories = new Map<string, History>();
  private readonly changeLogs = new Map<string, ChangeLog>();
  private readonly radicaleCache: RadicaleItemCache;
  private readonly cacheLayout: CacheLayout;
  /**
   * Item texts recently read, by file and ETag: 8 MiB at most, some 5,000 typical events, which covers
   * the items clients ask for again (a month's events with their data, the last multigets).
   */
  private readonly texts = new TextCache(8 * 1024 * 1024);
  /** getCollection answers while their folder is watched; any write of ours drops them all. */
  private readonly infos = new Map<string, { info: CollectionInfo; watch: number; writes: number }>();
  private writes = 0;
  private writing = 0;

  constructor(private readonly options: FilesystemStorageOptions) {
    this.root = join(options.folder, 'collection-root');
    this.stock = options.encoding === undefined ? UTF8_ENCODING : stockEncoding(options.encoding);
    const subfolders = options.cacheSubfolders ?? [];
    this.cacheLayout = {
      root: this.root,
      cacheRoot: join(options.cacheFolder ?? options.folder, 'collection-cache'),
      inSubfolder: new Set(subfolders),
    };
    this.radicaleCache = new RadicaleItemCache({
      layout: this.cacheLayout,
      mtimeAndSize: options.itemCacheMtimeAndSize === true,
      ...(options.cacheLog === true ? { log: options.log } : {}),
    });
    this.fsOpts = { fsync: options.fsync, umask: options.umask };
    this.push = new FilePushStore(options.folder, this.fsOpts);
    this.global = new GlobalLock(
      join(options.folder, '.Radicale.lock'),
      options.crossProcessLock,
      options.log,
    );
    this.journal = new SwapJournal(options.folder, this.root, this.fsOpts);
  }

  async open(options: { readonly inspectOnly?: boolean } = {}): Promise<void> {
    await makeDirs(this.root, this.fsOpts);
    const libc = await loadLibc();
    this.libc = 'flock' in libc ? libc : undefined;
    await this.global.open(libc);
    if (options.inspectOnly) return;
    for (const r of await this.underFolderLock(() => this.journal.recover())) {
      if (r.action === 'restore')
        this.options.log.warn(
          `/${r.final}/: a replacement was interrupted by a crash; the collection is back as it was`,
        );
      else if (r.action === 'finish')
        this.options.log.info(`/${r.final}/: finished a replacement interrupted by a crash`);
    }
    // Leftovers of crashes go in the background: a walk of every collection folder.
    this.cleaning = this.removeLeftovers().catch((e: unknown) =>
      this.options.log.warn({ err: e }, 'could not remove the leftovers of interrupted writes'),
    );
  }

  private async removeLeftovers(): Promise<void> {
    const keep = new Set([...(await this.journal.protectedPaths())].map((p) => `collection-root/${p}`));
    const removed = await removeLeftovers(this.options.folder, keep);
    if (removed.length === 0) return;
    const bytes = removed.reduce((n, l) => n + l.bytes, 0);
    this.options.log.info(
      { removed: removed.map((l) => l.path) },
      `removed ${removed.length} leftover(s) of interrupted writes (${(bytes / 1_048_576).toFixed(1)} MiB), untouched for over an hour`,
    );
  }

  async close(): Promise<void> {
    await this.cleaning;
    await this.global.close();
    for (const h of this.histories.values()) await h.settle();
    for (const idx of this.indexes.values()) idx.close();
    this.indexes.clear();
    this.texts.clear();
    this.histories.clear();
  }

  // ---------------------------------------------------------------- paths, caches, locks

  private dirOf(path: string): string {
    return join(this.root, ...pathSegments(path));
  }

  private index(path: string): ItemIndex {
    let idx = this.indexes.get(path);
    if (idx === undefined) {
      const dir = this.dirOf(path);
      idx = new ItemIndex(dir, {
        describe: this.options.describe,
        maxResourceSize: this.options.maxResourceSize,
        skipBrokenItem: this.options.skipBrokenItem,
        log: this.options.log,
        stock: this.stock,
        cacheLog: this.options.cacheLog === true,
        persistDir: join(this.options.folder, '.Almanac.cache', 'index'),
        onLoaded: (name, etag, text) => this.texts.set(join(dir, name), etag, text),
      });
      this.indexes.set(path, idx);
    }
    return idx;
  }

  private history(path: string): History {
    let h = this.histories.get(path);
    if (h === undefined) {
      h = new History(this.dirOf(path), {
        // History entries and token states are derived state: written atomically (temp + rename) but
        // not fsynced. After a crash a lost entry is recomputed on the next sync (a missing item
        // still shows as deleted, a changed one as changed), so clients see every change; only the
        // item files and props, the data, wait for the disk.
        fs: { ...this.fsOpts, fsync: false },
        maxAgeSeconds: this.options.maxSyncTokenAge,
        layout: this.cacheLayout,
        log: this.options.log,
      });
      this.histories.set(path, h);
    }
    return h;
  }

  private changeLog(path: string): ChangeLog {
    let log = this.changeLogs.get(path);
    if (log === undefined) {
      const dir = this.dirOf(path);
      log = new ChangeLog(ownCacheDir(this.cacheLayout, dir, OWN_FOLDER), dir, {
        fs: this.fsOpts,
        maxAgeSeconds: this.options.maxSyncTokenAge,
        log: this.options.log,
      });
      this.changeLogs.set(path, log);
    }
    return log;
  }

  /** Forgets the caches of `path` and everything below it (after a collection-level change). */
  private forget(path: string): void {
    for (const [k, idx] of this.indexes) if (isWithin(k, path)) idx.close(false);
    for (const m of [this.indexes, this.histories, this.changeLogs] as Map<string, unknown>[]) {
      for (const k of [...m.keys()]) if (isWithin(k, path)) m.delete(k);
    }
  }

  private lock(paths: readonly { path: string; mode: 'read' | 'write' }[]): Promise<Release> {
    paths.forEach((p) => pathSegments(p.path));
    return this.locks.acquireAll(collectionLocks(paths));
  }

  private async withLock<T>(
    paths: readonly { path: string; mode: 'read' | 'write' }[],
    fn: () => Promise<T>,
  ): Promise<T> {
    const release = await this.lock(paths);
    const writing = paths.some((p) => p.mode === 'write');
    if (writing) {
      this.writes++;
      this.writing++;
    }
    try {
      return await fn();
    } catch (e) {
      throw this.refused(e);
    } finally {
      if (writing) {
        this.writes++;
        this.writing--;
        this.infos.clear();
      }
      release();
    }
  }

  /**
   * A filesystem that refuses the server (permissions, an immutable or read-only folder) becomes a
   * 403 for the client and, for the administrator, a log line naming the path and the fix.
   */
  private refused(e: unknown): unknown {
    if (!isErrno(e, 'EACCES', 'EPERM', 'EROFS')) return e;
    const { code, syscall, path } = e as NodeJS.ErrnoException;
    const why = code === 'EROFS' ? 'the filesystem is read-only' : `permission denied (${code})`;
    this.options.log.error(
      { path, syscall, code },
      `the storage cannot ${syscall ?? 'write'} ${path ?? this.options.folder}: ${why}; the user Almanac runs as needs write access to ${this.options.folder} and everything in it`,
    );
    return new StorageError('not-permitted', 'The server is not allowed to write to its storage');
  }

  /**
   * Runs `fn` holding `.Radicale.lock` exclusively. Another process (Radicale, a second Almanac) may
   * have written to the folder just before: the kernel queued the inotify events of its writes
   * before it let the lock go, and two turns of the event loop (the second after a poll for I/O)
   * apply them to the indexes before `fn` looks at anything.
   */
  private async underFolderLock<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.global.exclusive();
    try {
      if (this.global.crossProcessLocked) await afterPendingEvents();
      return await fn();
    } finally {
      release();
    }
  }

  private async hook(ctx: ChangeContext): Promise<void> {
    if (ctx.deferHook !== true) await this.runHook(ctx);
  }

  async runHook(ctx: ChangeContext): Promise<void> {
    if (this.options.hook === '') return;
    // Hooks often commit the whole folder (git): run one at a time.
    const release = await this.hookLock.acquireAll(new Map([['hook', 'write']]));
    try {
      await runHook(this.options.hook, ctx, { cwd: this.options.folder, root: this.root }, this.options.log);
    } finally {
      release();
    }
  }

  // ---------------------------------------------------------------- collections (read)

  /**
   * A collection's props. Read synchronously, as the folder's stat in readCollection: a few
   * microseconds for a small file, where three thread-pool round trips cost most of a simple GET.
   */
  private readProps(dir: string): { props: Record<string, string>; mtimeMs: number } {
    try {
      const path = join(dir, PROPS_FILE);
      // No exception for the common missing file (principals): building one costs more than the stat.
      const st = statSync(path, { throwIfNoEntry: false });
      if (st === undefined) return { props: {}, mtimeMs: 0 };
      const known = this.propsByDir.get(dir);
      if (
        known !== undefined &&
        known.ino === st.ino &&
        known.size === st.size &&
        known.mtimeMs === st.mtimeMs
      )
        return known;
      // Radicale reads the file in [encoding] stock (it writes it in ASCII, so only hand edits differ).
      const text = this.stock.utf8 ? readFileSync(path, 'utf8') : this.stock.decode(readFileSync(path));
      const { props, problems } = parseProps(text);
      if (problems.length > 0) this.options.log.warn({ dir, problems }, 'problems in .Radicale.props');
      const read = { props, mtimeMs: st.mtimeMs, ino: st.ino, size: st.size };
      if (this.propsByDir.size >= PROPS_CACHE_LIMIT) this.propsByDir.clear();
      this.propsByDir.set(dir, read);
      return read;
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return { props: {}, mtimeMs: 0 };
      throw e;
    }
  }

  /** Parsed `.Radicale.props` by folder, reused while the file's stat is unchanged. */
  private readonly propsByDir = new Map<
    string,
    { props: Record<string, string>; mtimeMs: number; ino: number; size: number }
  >();

  getCollection(path: string): Promise<CollectionInfo | undefined> {
    try {
      return Promise.resolve(this.collectionNow(path));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private collectionNow(path: string): CollectionInfo | undefined {
    // While inotify watches the folder and nothing was written since, the last answer still holds.
    const watched = this.indexes.get(path)?.watchGeneration();
    const known = this.infos.get(path);
    if (known && watched !== undefined && known.watch === watched && known.writes === this.writes)
      return known.info;
    const info = this.readCollection(path);
    if (info && watched !== undefined && this.writing === 0) {
      this.infos.set(path, { info, watch: watched, writes: this.writes });
    }
    return info;
  }

  private readCollection(path: string): CollectionInfo | undefined {
    const dir = this.dirOf(path);
    let st: Stats;
    try {
      st = statSync(dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    }
    if (!st.isDirectory()) return undefined;
    const { props, mtimeMs } = this.readProps(dir);
    const tag: CollectionTag = props.tag !== undefined && isTag(props.tag) ? props.tag : '';
    const itemsMs = this.indexes.get(path)?.cachedLastModifiedMs ?? 0;
    return { path, tag, props, lastModified: new Date(Math.max(st.mtimeMs, mtimeMs, itemsMs)) };
  }

  private async requireCollection(path: string): Promise<CollectionInfo> {
    const info = await this.getCollection(path);
    if (info === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    return info;
  }

  /**
   * A collection that may hold items: calendars, address books and (for plain WebDAV clients) plain
   * collections below the root; never the root itself nor a subscription.
   */
  private async requireItemCollection(path: string): Promise<CollectionInfo> {
    const info = await this.requireCollection(path);
    if (path === '' || info.tag === 'VSUBSCRIBED') {
      throw new StorageError('conflict', `collection ${path} cannot hold items`);
    }
    return info;
  }

  async listCollections(path: string): Promise<CollectionInfo[]> {
    const dir = this.dirOf(path);
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
      const info = await this.getCollection(child);
      if (info !== undefined) out.push(info);
    }
    return out;
  }

  // ---------------------------------------------------------------- items (read)

  /** The collection's items; `exactOrder` for Radicale's directory order (the CTag and sync token). */
  private async listing(
    path: string,
    info?: CollectionInfo,
    exactOrder = false,
  ): Promise<{ info: CollectionInfo; list: Listing }> {
    const col = info ?? (await this.requireCollection(path));
    return { info: col, list: await this.index(path).list(col.tag, exactOrder) };
  }

  async listItems(path: string): Promise<ItemMeta[]> {
    return this.withLock([{ path, mode: 'read' }], async () => [...(await this.listing(path)).list.items]);
  }

  async listItemsInRange(
    path: string,
    range: { start: number; end: number },
    component?: string,
  ): Promise<ItemMeta[]> {
    const { list } = await this.withLock([{ path, mode: 'read' }], () => this.listing(path));
    return list.items.filter(
      (m) =>
        (!component || !m.component || m.component === component) &&
        ((m.start === 0 && m.end === 0) || (m.start <= range.end && m.end >= range.start)),
    );
  }

  async getItemMeta(path: string, href: string): Promise<ItemMeta | undefined> {
    checkName(href);
    const info = await this.getCollection(path);
    if (info === undefined) return undefined;
    return this.index(path).get(href, info.tag);
  }

  async *getItems(path: string, hrefs?: readonly string[]): AsyncIterable<Item> {
    hrefs?.forEach(checkName);
    const { info, list } = await this.withLock([{ path, mode: 'read' }], () => this.listing(path));
    const wanted = hrefs === undefined ? list.items : hrefs.flatMap((h) => list.byHref.get(h) ?? []);
    const dir = this.dirOf(path);
    // A bulk read (an export, a query over a whole collection) goes around the text cache: it would
    // only push out what smaller reads keep there, and leave old-generation garbage behind.
    const keep = wanted.length <= BULK_READ;
    // Reads run 32 at a time (the thread pool overlaps them); items come out in listing order.
    for (let i = 0; i < wanted.length; i += 32) {
      const batch = await Promise.all(
        wanted.slice(i, i + 32).map((m) => this.readItem(path, dir, m, info.tag, keep)),
      );
      for (const item of batch) if (item !== undefined) yield item;
    }
  }

  /** Reads an item's text; files are replaced atomically, so no lock is needed. */
  private async readItem(
    path: string,
    dir: string,
    meta: ItemMeta,
    tag: CollectionTag,
    keep: boolean,
  ): Promise<Item | undefined> {
    const key = join(dir, meta.href);
    const cached = this.texts.get(key, meta.etag);
    if (cached !== undefined) return { ...meta, text: cached };
    let bytes: Buffer;
    let st: Stats | undefined;
    try {
      if (meta.size <= SYNC_READ_LIMIT) {
        // A small file is read synchronously: a few microseconds, against four thread-pool round
        // trips. When the open file is the one the index described, its ETag needs no hashing.
        ({ bytes, st } = readFileAndStatSync(key));
        if (this.index(path).describes(meta, st)) return this.textOf(key, meta, bytes, keep);
      } else bytes = await readFile(key);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw e;
    }
    if (this.stock.etag(bytes) === meta.etag) return this.textOf(key, meta, bytes, keep);
    // Changed since it was listed: describe the new content.
    st ??= await stat(key).catch(() => undefined);
    if (st === undefined) return undefined;
    const fresh = this.index(path).describeBytes(meta.href, bytes, st, tag);
    return fresh === undefined ? undefined : { ...fresh.meta, text: fresh.text };
  }

  private textOf(key: string, meta: ItemMeta, bytes: Uint8Array, keep: boolean): Item {
    const text = this.stock.decode(bytes);
    if (keep) this.texts.set(key, meta.etag, text);
    return { ...meta, text };
  }

  async findByUid(path: string, uid: string): Promise<ItemMeta | undefined> {
    if (uid === '') return undefined;
    return this.withLock([{ path, mode: 'read' }], async () =>
      (await this.listing(path)).list.byUid.get(uid),
    );
  }

  // ---------------------------------------------------------------- items (write)

  private sameUid(list: Listing, uid: string, href: string, ignore?: string): ItemMeta | undefined {
    if (uid === '') return undefined;
    const other = list.byUid.get(uid);
    if (other === undefined) return undefined;
    if (other.href !== href && other.href !== ignore) return other;
    // byUid keeps the first item per UID; only a UID held more than once has other holders.
    if (!list.sharedUids.has(uid)) return undefined;
    return list.items.find((m) => m.uid === uid && m.href !== href && m.href !== ignore);
  }

  /** After an item file changed: drop Radicale's item cache for it, advance its history. */
  private async recordChange(
    path: string,
    href: string,
    etag: string,
    files: FileSet,
    written?: { bytes: Uint8Array; uid: string; component: string },
  ): Promise<void> {
    const dir = this.dirOf(path);
    await this.radicaleCache.remove(dir, href);
    if (written) {
      const entry = {
        uid: written.uid,
        etag,
        text: this.stock.decode(written.bytes),
        component: written.component,
      };
      await this.radicaleCache.write(dir, href, written.bytes, entry, this.fsOpts);
    }
    await this.changeLog(path).record(href, etag);
    const history = this.history(path);
    await history.update(href, etag);
    await history.cleanDeleted(files);
  }

  /** Records an item just put in place (call under `.Radicale.lock`, before anyone can replace it). */
  private async finishWrite(
    path: string,
    href: string,
    bytes: Uint8Array,
    meta: Omit<ItemMeta, 'lastModifiedMs'>,
  ): Promise<ItemMeta> {
    const st = await stat(join(this.dirOf(path), href));
    const full: ItemMeta = { ...meta, size: bytes.length, lastModifiedMs: st.mtimeMs };
    this.index(path).remember(href, st, full);
    return full;
  }

  /**
   * The item collection at `path` and its listing as they are on disk now. Called holding
   * `.Radicale.lock` to decide a write: another process (Radicale, a second Almanac) may have changed
   * the folder since this process last looked, and a precondition or UID check decided on that older
   * view would let two writers both win.
   */
  private async onDisk(path: string): Promise<{ info: CollectionInfo; list: Listing }> {
    const info = this.readCollection(path);
    if (info === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    if (path === '' || info.tag === 'VSUBSCRIBED') {
      throw new StorageError('conflict', `collection ${path} cannot hold items`);
    }
    return { info, list: await this.index(path).list(info.tag, false, true) };
  }

  async putItem(
    path: string,
    href: string,
    item: Omit<NewItem, 'href'>,
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    checkName(href);
    const decide = ({ info, list }: { info: CollectionInfo; list: Listing }): ItemMeta | undefined => {
      const existing = list.byHref.get(href);
      check(existing, info, this.sameUid(list, item.description.uid, href));
      return existing;
    };
    return this.withLock([{ path, mode: 'write' }], async () => {
      // A first look at this process's view: a refused write costs no temp file.
      decide(await this.listing(path, await this.requireItemCollection(path)));
      let existing: ItemMeta | undefined;
      const meta = await this.writeItem(
        path,
        href,
        this.stock.encode(item.text),
        item.description,
        async () => {
          const now = await this.onDisk(path);
          existing = decide(now);
          return now.list;
        },
      );
      await this.hook(ctx);
      return { meta, created: existing === undefined };
    });
  }

  /**
   * Writes the item to a temp file, then, holding `.Radicale.lock`, asks `decide` (which checks the
   * preconditions on the folder as it is now and returns its listing) and renames it into place.
   */
  private async writeItem(
    path: string,
    href: string,
    bytes: Buffer,
    d: NewItem['description'],
    decide: () => Promise<Listing>,
  ): Promise<ItemMeta> {
    const dir = this.dirOf(path);
    const tmp = join(dir, tmpName());
    const etag = this.stock.etag(bytes);
    try {
      await writeSynced(tmp, bytes, this.fsOpts);
    } catch (e) {
      await unlinkIfExists(tmp);
      mapFsError(e);
    }
    const index = this.index(path);
    let renamed = false;
    try {
      return await this.underFolderLock(async () => {
        const list = await decide();
        // Expected only now: a name another process created before is a new name to list.
        index.expect(href);
        await rename(tmp, join(dir, href)).catch(mapFsError);
        renamed = true;
        await syncDir(dir, this.fsOpts);
        const files = { has: (h: string) => h === href || list.files.has(h) };
        await this.recordChange(path, href, etag, files, { bytes, ...d });
        return this.finishWrite(path, href, bytes, { href, etag, size: bytes.length, ...pickDescription(d) });
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

  async deleteItem(path: string, href: string, check: WriteCheck, ctx: ChangeContext): Promise<void> {
    checkName(href);
    const decide = ({ info, list }: { info: CollectionInfo; list: Listing }): void => {
      const existing = list.byHref.get(href);
      check(existing, info);
      if (existing === undefined) throw new StorageError('not-found', `item ${path}/${href} not found`);
    };
    await this.withLock([{ path, mode: 'write' }], async () => {
      decide(await this.listing(path, await this.requireItemCollection(path)));
      const dir = this.dirOf(path);
      await this.underFolderLock(async () => {
        const now = await this.onDisk(path);
        decide(now);
        await unlink(join(dir, href)).catch(mapFsError);
        await syncDir(dir, this.fsOpts);
        await updateItemProps(dir, this.fsOpts, (m) => m.delete(href));
        const files = { has: (h: string) => h !== href && now.list.files.has(h) };
        await this.recordChange(path, href, '', files);
      });
      this.index(path).forgetName(href);
      await this.hook(ctx);
    });
  }

  async moveItem(
    from: Target,
    to: Target,
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return this.transfer(from, to, check, ctx, true);
  }

  async copyItem(
    from: Target,
    to: Target,
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return this.transfer(from, to, check, ctx, false);
  }

  private async transfer(
    from: Target,
    to: Target,
    check: WriteCheck,
    ctx: ChangeContext,
    move: boolean,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    checkName(from.href);
    checkName(to.href);
    const modes = [
      { path: from.path, mode: move ? ('write' as const) : ('read' as const) },
      { path: to.path, mode: 'write' as const },
    ];
    return this.withLock(modes, async () => {
      const first = this.decideTransfer(from, to, check, move, await this.transferViews(from, to, false));
      if (from.path === to.path && from.href === to.href) return { meta: first.source, created: false };
      const bytes = await readFile(join(this.dirOf(from.path), from.href));
      if (this.stock.etag(bytes) !== first.source.etag)
        throw new StorageError('conflict', `item ${from.path}/${from.href} changed during the transfer`);
      // Decided again holding `.Radicale.lock`, on the folders as they are then.
      const again = async (): Promise<TransferState> => {
        const now = this.decideTransfer(from, to, check, move, await this.transferViews(from, to, true));
        if (now.source.etag !== first.source.etag)
          throw new StorageError('conflict', `item ${from.path}/${from.href} changed during the transfer`);
        return now;
      };
      let existing: ItemMeta | undefined;
      const meta = move
        ? await this.moveFile(from, to, first.source, bytes, async () => {
            const now = await again();
            existing = now.existing;
            return now;
          })
        : await this.copyFile(from, to, first.source, bytes, async () => {
            const now = await again();
            existing = now.existing;
            return now.dst;
          });
      await this.hook(ctx);
      return { meta, created: existing === undefined };
    });
  }

  /** Source and destination collections with their listings: this process's view, or the folders' (`onDisk`). */
  private async transferViews(
    from: Target,
    to: Target,
    onDisk: boolean,
  ): Promise<{ src: Listing; dst: Listing; dstInfo: CollectionInfo }> {
    const view = async (path: string): Promise<{ info: CollectionInfo; list: Listing }> =>
      onDisk ? this.onDisk(path) : this.listing(path, await this.requireItemCollection(path));
    const src = await view(from.path);
    const dst = from.path === to.path ? src : await view(to.path);
    return { src: src.list, dst: dst.list, dstInfo: dst.info };
  }

  private decideTransfer(
    from: Target,
    to: Target,
    check: WriteCheck,
    move: boolean,
    views: { src: Listing; dst: Listing; dstInfo: CollectionInfo },
  ): TransferState {
    const source = views.src.byHref.get(from.href);
    if (source === undefined) throw new StorageError('not-found', `item ${from.path}/${from.href} not found`);
    const existing = views.dst.byHref.get(to.href);
    const ignore = move && from.path === to.path ? from.href : undefined;
    check(existing, views.dstInfo, this.sameUid(views.dst, source.uid, to.href, ignore));
    return { source, existing, src: views.src, dst: views.dst };
  }

  private async moveFile(
    from: Target,
    to: Target,
    source: ItemMeta,
    bytes: Buffer,
    decide: () => Promise<TransferState>,
  ): Promise<ItemMeta> {
    const index = this.index(to.path);
    let moved = false;
    try {
      return await this.underFolderLock(async () => {
        const now = await decide();
        index.expect(to.href);
        moved = true;
        return this.moveNow(from, to, source, bytes, now);
      });
    } catch (e) {
      if (moved) index.invalidateNames();
      else index.unexpect(to.href);
      throw e;
    }
  }

  /** The rename of a MOVE and its bookkeeping (under `.Radicale.lock`). */
  private async moveNow(
    from: Target,
    to: Target,
    source: ItemMeta,
    bytes: Buffer,
    now: TransferState,
  ): Promise<ItemMeta> {
    const fromDir = this.dirOf(from.path);
    const toDir = this.dirOf(to.path);
    try {
      await rename(join(fromDir, from.href), join(toDir, to.href));
    } catch (e) {
      if (!isErrno(e, 'EXDEV')) mapFsError(e);
      // Collections on different filesystems (symlinked): copy atomically, then remove.
      await atomicWrite(toDir, to.href, bytes, this.fsOpts);
      await unlink(join(fromDir, from.href));
    }
    await syncDir(toDir, this.fsOpts);
    if (fromDir !== toDir) await syncDir(fromDir, this.fsOpts);
    await this.carryItemProps(from, to, true);
    const srcFiles = new Set(now.src.files);
    srcFiles.delete(from.href);
    const dstFiles = from.path === to.path ? srcFiles : new Set(now.dst.files);
    dstFiles.add(to.href);
    await this.recordChange(from.path, from.href, '', srcFiles);
    await this.recordChange(to.path, to.href, source.etag, dstFiles, { bytes, ...source });
    this.index(from.path).forgetName(from.href);
    return this.finishWrite(to.path, to.href, bytes, { ...source, href: to.href });
  }

  private async copyFile(
    from: Target,
    to: Target,
    source: ItemMeta,
    bytes: Buffer,
    decide: () => Promise<Listing>,
  ): Promise<ItemMeta> {
    const meta = await this.writeItem(to.path, to.href, bytes, source, decide);
    await this.underFolderLock(() => this.carryItemProps(from, to, false));
    return meta;
  }

  /** The target of a MOVE/COPY gets the source's dead properties (a MOVE takes them away). */
  private async carryItemProps(from: Target, to: Target, move: boolean): Promise<void> {
    const fromDir = this.dirOf(from.path);
    const toDir = this.dirOf(to.path);
    const props = propsOf(await readItemProps(fromDir), from.href);
    if (move) await updateItemProps(fromDir, this.fsOpts, (m) => m.delete(from.href));
    await updateItemProps(toDir, this.fsOpts, (m) => {
      if (Object.keys(props).length === 0) return m.delete(to.href);
      m.set(to.href, { ...props });
      return true;
    });
  }

  // ---------------------------------------------------------------- item dead properties

  async getItemProps(path: string, href: string): Promise<Props> {
    checkName(href);
    return this.withLock([{ path, mode: 'read' }], async () =>
      propsOf(await readItemProps(this.dirOf(path)), href),
    );
  }

  async setItemProps(path: string, href: string, props: Props): Promise<void> {
    checkName(href);
    checkProps(props);
    await this.withLock([{ path, mode: 'write' }], async () => {
      const dir = this.dirOf(path);
      if ((await this.index(path).get(href, (await this.requireItemCollection(path)).tag)) === undefined) {
        throw new StorageError('not-found', `item ${path}/${href} not found`);
      }
      await this.underFolderLock(() =>
        updateItemProps(dir, this.fsOpts, (m) => {
          m.set(href, { ...props });
          return true;
        }),
      );
    });
  }

  // ---------------------------------------------------------------- collections (write)

  /** The parent of a new collection must exist and must not be a calendar or address book. */
  private async requireParentFor(path: string): Promise<void> {
    if (path === '') throw new StorageError('exists', 'the root collection always exists');
    const parent = await this.getCollection(parentPath(path));
    if (parent === undefined) throw new StorageError('not-found', `parent of ${path} not found`);
    if (parent.tag !== '') throw new StorageError('conflict', `${parent.path} cannot contain collections`);
  }

  async createCollection(path: string, props: Props, ctx: ChangeContext): Promise<CollectionInfo> {
    checkProps(props);
    return this.withLock([{ path, mode: 'write' }], async () => {
      await this.requireParentFor(path);
      if ((await this.getCollection(path)) !== undefined) throw new StorageError('exists', `${path} exists`);
      const parentDir = this.dirOf(parentPath(path));
      const tmp = join(parentDir, tmpName());
      try {
        await makeDir(tmp, this.fsOpts);
        if (Object.keys(props).length > 0) await atomicWrite(tmp, PROPS_FILE, pythonJson(props), this.fsOpts);
        await this.underFolderLock(async () => {
          // Decided again on the folder: rename(2) would replace an empty folder another process made.
          if (await isFolder(this.dirOf(path))) throw new StorageError('exists', `${path} exists`);
          await rename(tmp, this.dirOf(path)).catch(mapFsError);
          await syncDir(parentDir, this.fsOpts);
        });
      } catch (e) {
        await removeTree(tmp);
        if (isErrno(e, 'ENOTEMPTY', 'EEXIST')) throw new StorageError('exists', `${path} exists`);
        throw e;
      }
      this.forget(path);
      await this.hook(ctx);
      return this.requireCollection(path);
    });
  }

  async replaceCollection(
    path: string,
    props: Props,
    items: readonly NewItem[],
    ctx: ChangeContext,
  ): Promise<CollectionInfo> {
    checkProps(props);
    pathSegments(path);
    if (path === '') throw new StorageError('conflict', 'the root collection cannot be replaced');
    // The new collection is prepared without any lock (it is private until swapped in).
    const parentDir = this.dirOf(parentPath(path));
    const prepared = join(parentDir, tmpName());
    try {
      const seeds = await this.prepareCollection(prepared, props, items, this.dirOf(path)).catch(
        (e: unknown) => {
          throw this.refused(e);
        },
      );
      await this.withLock([{ path, mode: 'write' }], async () => {
        await this.requireParentFor(path);
        await this.swapIn(prepared, path, true);
        this.forget(path);
        // Renaming the folder keeps its files' inodes and times: the index knows them already.
        const tag = props.tag ?? '';
        if (isTag(tag) && tag !== '') this.index(path).seed(tag, seeds);
        await this.hook(ctx);
      });
    } finally {
      await removeTree(prepared);
    }
    return this.requireCollection(path);
  }

  private async prepareCollection(
    dir: string,
    props: Props,
    items: readonly NewItem[],
    finalDir: string,
  ): Promise<SeedFile[]> {
    await makeDir(dir, this.fsOpts).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT')) throw new StorageError('not-found', 'parent collection not found');
      throw e;
    });
    if (Object.keys(props).length > 0)
      await writeSynced(join(dir, PROPS_FILE), pythonJson(props), this.fsOpts);
    const suffix = props.tag === 'VADDRESSBOOK' ? '.vcf' : '.ics';
    // Names first (in upload order, as Radicale names them), then the files, several at a time: the
    // folder is private until swapped in, so each file is written at its name directly.
    const taken = new Set<string>();
    const named = items.map((item) => {
      let name = item.href;
      if (name !== undefined) checkName(name);
      else name = uploadName(item.description.uid, suffix, taken);
      taken.add(name);
      return { item, name };
    });
    // Inside the prepared folder the cache entries move with it; under collection-cache/ they go
    // where the collection will be.
    const cacheOf = this.radicaleCache.inSubfolder ? finalDir : dir;
    const seeds = await mapLimit(named, UPLOAD_WRITES, async ({ item, name }): Promise<SeedFile> => {
      const bytes = this.stock.encode(item.text);
      const st = await writeNew(join(dir, name), bytes).catch(mapFsError);
      const etag = this.stock.etag(bytes);
      const entry = {
        uid: item.description.uid,
        etag,
        text: item.text,
        component: item.description.component,
      };
      await this.radicaleCache.write(cacheOf, name, bytes, entry, this.fsOpts, dir);
      return { name, st, etag, description: item.description };
    });
    if (this.fsOpts.fsync) await this.syncFiles(dir, [...taken]);
    await syncDir(dir, this.fsOpts);
    return seeds;
  }

  /**
   * Makes the files durable: one syncfs(2) for many (a bulk upload: one flush of the filesystem
   * instead of an fsync per file), else an fsync per file, several at a time.
   */
  private async syncFiles(dir: string, names: readonly string[]): Promise<void> {
    if (names.length >= SYNCFS_ABOVE && this.libc) {
      const fh = await open(dir, 'r');
      try {
        if (await this.libc.syncfs(fh.fd)) return;
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
  private async swapIn(source: string, path: string, exchange: boolean, overwrite = true): Promise<boolean> {
    const finalDir = this.dirOf(path);
    const parentDir = this.dirOf(parentPath(path));
    const replaced = await this.underFolderLock(async () => {
      // Decided on the folder as it is now (another process may have written since).
      if (!(await isFolder(source))) throw new StorageError('not-found', 'the source collection is gone');
      const exists = await isFolder(finalDir);
      if (exists && !overwrite) throw new StorageError('exists', `${path} exists`);
      if (!exists) {
        await rename(source, finalDir).catch(mapFsError);
        await syncDir(parentDir, this.fsOpts);
        return undefined;
      }
      if (exchange && this.libc?.exchange(source, finalDir)) {
        // `source` now holds the old collection.
        await syncDir(parentDir, this.fsOpts);
        return source;
      }
      const aside = join(parentDir, tmpName());
      const done = await this.journal.begin(finalDir, source, aside);
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
      await syncDir(parentDir, this.fsOpts);
      await done();
      return aside;
    });
    if (replaced !== undefined) await removeTree(replaced);
    return replaced !== undefined;
  }

  async deleteCollection(path: string, ctx: ChangeContext): Promise<void> {
    await this.withLock([{ path, mode: 'write' }], async () => {
      if (path === '') {
        for (const name of await listNames(this.root)) await this.removeAside(this.root, name);
        await unlinkIfExists(join(this.root, PROPS_FILE));
      } else {
        await this.requireCollection(path);
        await this.removeAside(this.dirOf(parentPath(path)), lastSegment(path));
      }
      this.forget(path);
      await this.hook(ctx);
    });
  }

  /** Renames an entry to a temp name (atomic disappearance), then removes it. */
  private async removeAside(parentDir: string, name: string): Promise<void> {
    const aside = join(parentDir, tmpName());
    await this.underFolderLock(async () => {
      await rename(join(parentDir, name), aside);
      await syncDir(parentDir, this.fsOpts);
    });
    await removeTree(aside);
  }

  async setProps(path: string, change: Props | PropsUpdate, ctx: ChangeContext): Promise<CollectionInfo> {
    if (typeof change !== 'function') checkProps(change);
    return this.withLock([{ path, mode: 'write' }], async () => {
      await this.requireCollection(path);
      const dir = this.dirOf(path);
      // Merged under the folder's flock, after another process's writes are applied (underFolderLock): a
      // change Radicale or a second Almanac made meanwhile is kept.
      const written = await this.underFolderLock(async () => {
        const props = typeof change === 'function' ? change(this.readProps(dir).props) : change;
        if (props === undefined) return false;
        checkProps(props);
        if (props.tag !== undefined && props.tag !== '' && (await this.listCollections(path)).length > 0) {
          throw new StorageError('conflict', `${path} contains collections and cannot become a ${props.tag}`);
        }
        await atomicWrite(dir, PROPS_FILE, pythonJson(props), this.fsOpts);
        return true;
      });
      if (written) await this.hook(ctx);
      return this.requireCollection(path);
    });
  }

  private checkCollectionPair(from: string, to: string): void {
    pathSegments(from);
    pathSegments(to);
    if (from === '' || to === '') throw new StorageError('conflict', 'the root collection cannot be moved');
    if (isWithin(to, from) || isWithin(from, to)) {
      throw new StorageError('conflict', 'a collection cannot be moved into itself or over an ancestor');
    }
  }

  async moveCollection(
    from: string,
    to: string,
    overwrite: boolean,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }> {
    this.checkCollectionPair(from, to);
    return this.withLock(
      [
        { path: from, mode: 'write' },
        { path: to, mode: 'write' },
      ],
      async () => {
        await this.requireCollection(from);
        await this.requireParentFor(to);
        if (!overwrite && (await this.getCollection(to)) !== undefined)
          throw new StorageError('exists', `${to} exists`);
        const replaced = await this.swapIn(this.dirOf(from), to, false, overwrite);
        await syncDir(this.dirOf(parentPath(from)), this.fsOpts);
        this.forget(from);
        this.forget(to);
        await this.hook(ctx);
        return { created: !replaced };
      },
    );
  }

  async copyCollection(
    from: string,
    to: string,
    overwrite: boolean,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }> {
    this.checkCollectionPair(from, to);
    const prepared = join(this.dirOf(parentPath(to)), tmpName());
    try {
      return await this.withLock(
        [
          { path: from, mode: 'read' },
          { path: to, mode: 'write' },
        ],
        async () => {
          await this.requireCollection(from);
          await this.requireParentFor(to);
          if (!overwrite && (await this.getCollection(to)) !== undefined)
            throw new StorageError('exists', `${to} exists`);
          await this.copyTree(this.dirOf(from), prepared);
          await syncDir(prepared, this.fsOpts);
          const replaced = await this.swapIn(prepared, to, true, overwrite);
          this.forget(to);
          await this.hook(ctx);
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
  private async copyTree(src: string, dst: string): Promise<void> {
    await makeDir(dst, this.fsOpts);
    for (const name of await listNames(src)) {
      if (name !== PROPS_FILE && name !== ITEM_PROPS_FILE && !isSafeName(name)) continue;
      const from = join(src, name);
      const to = join(dst, name);
      const link = await lstat(from).then(
        (st) => st.isSymbolicLink(),
        () => false,
      );
      const st = await stat(from).catch(() => undefined);
      if (st?.isDirectory()) await this.copyTree(from, to);
      else if (link) {
        const target = await readlink(from);
        await symlink(isAbsolute(target) ? target : relative(dst, resolve(src, target)), to).catch(
          mapFsError,
        );
      } else if (st?.isFile()) {
        await copyFile(from, to).catch(mapFsError);
        if (this.fsOpts.fsync) await syncFile(to);
      }
    }
  }

  // ---------------------------------------------------------------- ctag and sync

  /**
   * The collection's ETag (CTag): sha256 over the change log's id and head and the props as JSON, so
   * it changes with every change of an item (whoever made it) and of the props, at the cost of the
   * change (Radicale's formula, a hash over every item in directory order, needed a relisting of the
   * folder after each addition).
   */
  async getEtag(path: string): Promise<string> {
    return this.withLog(path, (_list, log, info) =>
      Promise.resolve(`"${sha256hex(`${log.version}/${pythonJson(info.props)}`)}"`),
    );
  }

  async getSyncToken(path: string): Promise<string> {
    return this.withLog(path, (_list, log) => Promise.resolve(TOKEN_PREFIX + log.token()));
  }

  /**
   * Changes since `oldToken`. Tokens are positions in Almanac's change log; a token Radicale issued
   * (64 hex digits, its state in `.Radicale.cache/sync-token/`) is diffed against its saved state,
   * as Radicale does, and answered with a token of the log.
   */
  async sync(path: string, oldToken: string, limit?: number): Promise<SyncResult> {
    if (oldToken !== '' && !oldToken.startsWith(TOKEN_PREFIX))
      throw new StorageError('invalid-sync-token', 'malformed sync token');
    const oldName = oldToken.slice(TOKEN_PREFIX.length);
    if (oldToken !== '' && !isOwnTokenName(oldName)) {
      if (!/^[0-9a-f]{64}$/.test(oldName))
        throw new StorageError('invalid-sync-token', 'malformed sync token');
      return this.syncFromRadicale(path, oldName, limit);
    }
    return this.withLog(path, (list, log) => {
      const from = oldToken === '' ? undefined : log.position(oldName);
      const r = log.changesAfter(from, limit);
      const token = TOKEN_PREFIX + log.token(r.to);
      // An item the listing leaves out (over max_resource_size, unreadable) is not there for a client:
      // not listed by a first sync, deleted for a client that had it, as Radicale's sync answers.
      const hidden = r.changed.filter((h) => !list.byHref.has(h));
      const changed = hidden.length === 0 ? r.changed : r.changed.filter((h) => list.byHref.has(h));
      const deleted = from === undefined || hidden.length === 0 ? r.deleted : [...r.deleted, ...hidden];
      return Promise.resolve({
        token,
        changed,
        deleted,
        ...(r.truncated ? { truncated: true } : {}),
      });
    });
  }

  /**
   * Runs `fn` with the collection's listing and its change log brought up to date with it (changes
   * made by others appended), under the collection's read lock.
   */
  private async withLog<T>(
    path: string,
    fn: (list: Listing, log: ChangeLog, info: CollectionInfo) => Promise<T>,
  ): Promise<T> {
    return this.withLock([{ path, mode: 'read' }], async () => {
      // One reconciliation of a collection's log at a time in this process.
      const releaseLog = await this.historyLocks.acquireAll(new Map([[path, 'write']]));
      try {
        const releaseShared = await this.global.shared();
        let list: Listing;
        let info: CollectionInfo;
        try {
          ({ info, list } = await this.listing(path));
        } finally {
          releaseShared();
        }
        const index = this.index(path);
        const log = this.changeLog(path);
        await log.reconcile(
          list,
          (since) => index.changesSince(since),
          () => this.global.exclusive(),
        );
        return await fn(list, log, info);
      } finally {
        releaseLog();
      }
    });
  }

  /**
   * A sync from a token Radicale issued: Radicale's current state is computed (history etag of every
   * item, in proportion to the collection, as Radicale does) and compared with the token's saved
   * state; the answer carries a token of Almanac's log for the same listing.
   */
  private async syncFromRadicale(path: string, oldName: string, limit?: number): Promise<SyncResult> {
    return this.withCurrentToken(path, async (list, history, name) => {
      const log = this.changeLog(path);
      const index = this.index(path);
      await log.reconcile(
        list,
        (since) => index.changesSince(since),
        () => this.global.exclusive(),
      );
      const token = TOKEN_PREFIX + log.token();
      if (oldName === name) return { token, changed: [], deleted: [] };
      const diff = splitChanges(await history.changedSince(oldName), list.byHref);
      if (limit === undefined || diff.changed.length + diff.deleted.length <= limit)
        return { token, ...diff };
      // Paging (RFC 6578 §3.6): a Radicale state with only the first `limit` changes applied, saved
      // like the states Radicale saves, so the next request continues from it.
      const changed = diff.changed.slice(0, limit);
      const deleted = diff.deleted.slice(0, Math.max(0, limit - changed.length));
      const partial = new Map(await history.stateOf(oldName));
      const state = history.currentState();
      for (const href of [...changed, ...deleted]) {
        const he = state.get(href);
        if (he === undefined) partial.delete(href);
        else partial.set(href, he);
      }
      const partialName = stateName(partial);
      history.saveState(partialName, list.files, partial);
      return { token: TOKEN_PREFIX + partialName, changed, deleted, truncated: true };
    });
  }

  /**
   * The tokens that stand for the current state: the log's, and Radicale's (its formula over the
   * folder in directory order), so that `storage copy` carries both (clients of Radicale too).
   */
  async currentSyncTokens(path: string): Promise<string[]> {
    const own = await this.getSyncToken(path);
    const radicale = await this.withCurrentToken(path, (_list, _history, name) =>
      Promise.resolve(TOKEN_PREFIX + name),
    );
    return own === (await this.getSyncToken(path)) ? [own, radicale] : [own];
  }

  /** Runs `fn` with the listing in Radicale's order, Radicale's history and its current token name. */
  private async withCurrentToken<T>(
    path: string,
    fn: (list: Listing, history: History, name: string) => Promise<T>,
  ): Promise<T> {
    return this.withLock([{ path, mode: 'read' }], async () => {
      const releaseHistory = await this.historyLocks.acquireAll(new Map([[path, 'write']]));
      try {
        const history = this.history(path);
        const releaseGlobal = await this.global.shared();
        let list: Listing;
        let name: string;
        try {
          list = (await this.listing(path, undefined, true)).list;
          const index = this.index(path);
          name = await history.tokenFor(list, (since) => index.changesSince(since));
        } finally {
          releaseGlobal();
        }
        return await fn(list, history, name);
      } finally {
        releaseHistory();
      }
    });
  }

  /**
   * Makes a sync token of another storage stand for this collection's current state (`storage copy`,
   * once the collection holds exactly what the token described): its state is saved under the token's
   * name in `.Radicale.cache/sync-token/`, so Almanac and Radicale serving the folder both go on from
   * it. Only tokens in Radicale's form (64 hex digits) can be kept; returns whether this one was.
   */
  async aliasSyncToken(path: string, token: string): Promise<boolean> {
    const foreign = token.startsWith(TOKEN_PREFIX) ? token.slice(TOKEN_PREFIX.length) : '';
    if (!/^[0-9a-f]{64}$/.test(foreign)) return false;
    return this.withCurrentToken(path, async (_list, history, name) => {
      if (foreign !== name) await history.adopt(foreign);
      return true;
    });
  }

  // ---------------------------------------------------------------- verify

  pushStore(): PushStore {
    return this.push;
  }

  async verify(report: (problem: string) => void, describe?: ItemDescriber): Promise<boolean> {
    const ok = await verifyTree(this.root, describe ?? this.options.describe, report, (b) =>
      this.stock.decode(b),
    );
    return (await this.verifyLeftovers(report)) && ok;
  }

  /** Swaps a crash interrupted and leftovers of interrupted writes (both put right at the next start). */
  private async verifyLeftovers(report: (problem: string) => void): Promise<boolean> {
    const pending = await this.journal.pending();
    for (const entry of pending) {
      const what =
        entry.action === 'restore'
          ? 'the collection is missing, moved aside by a replacement a crash interrupted; the next start puts it back'
          : 'a replacement was interrupted by a crash; the next start finishes it';
      report(`/${entry.final}/: ${what} (${JOURNAL_FOLDER}/${entry.journal})`);
    }
    const leftovers = await findLeftovers(this.options.folder);
    leftovers.forEach((l) => report(describeLeftover(l)));
    return pending.length === 0 && leftovers.length === 0;
  }
}

function pickDescription(d: NewItem['description']): Pick<ItemMeta, 'uid' | 'component' | 'start' | 'end'> {
  return { uid: d.uid, component: d.component, start: d.start, end: d.end };
}

/** Changed hrefs split into items that exist now and items that are gone. */
function splitChanges(
  hrefs: Iterable<string>,
  current: ReadonlyMap<string, ItemMeta>,
): { changed: string[]; deleted: string[] } {
  const changed: string[] = [];
  const deleted: string[] = [];
  for (const href of hrefs) (current.has(href) ? changed : deleted).push(href);
  return { changed, deleted };
}

/** Resolves after the event loop has polled for I/O once more (inotify events already queued are read). */
async function afterPendingEvents(): Promise<void> {
  // An immediate set during the check phase runs in the next iteration, after its poll phase.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
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
