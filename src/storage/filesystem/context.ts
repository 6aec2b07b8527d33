/** The paths, caches and locks of the filesystem storage (see storage.ts). */
import { RadicaleItemCache } from './radicale-item-cache.js';
import { type CacheKind, type CacheLayout, ownCacheDir } from './cache-layout.js';
import { ChangeLog, OWN_FOLDER } from './change-log.js';
import { TextCache } from '../text-cache.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type CollectionInfo, type ItemDescriber, StorageError } from '../types.js';
import { type FsOptions, isErrno } from './fsutil.js';
import { History } from './history.js';
import { ItemIndex } from './item-index.js';
import { type StockEncoding, stockEncoding, UTF8_ENCODING } from './stock-encoding.js';
import { collectionLocks, GlobalLock, LockRegistry, type Release } from './lock.js';
import type { Libc } from './libc.js';
import { SwapJournal } from './swap-journal.js';
import { isWithin, pathSegments } from '../names.js';

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

export const PROPS_FILE = '.Radicale.props';

/**
 * The filesystem storage's state, shared by the modules that implement its operations: the folders,
 * the caches by collection, the locks (in-process and `.Radicale.lock`). Its methods are
 * the few every operation uses: where a collection is, its index/history/change log, the locks.
 */
export class StoreContext {
  readonly root: string;
  readonly stock: StockEncoding;
  readonly fsOpts: FsOptions;
  readonly locks = new LockRegistry();
  readonly historyLocks = new LockRegistry();
  readonly global: GlobalLock;
  libc: Libc | undefined;
  readonly journal: SwapJournal;
  readonly indexes = new Map<string, ItemIndex>();
  readonly histories = new Map<string, History>();
  readonly changeLogs = new Map<string, ChangeLog>();
  readonly radicaleCache: RadicaleItemCache;
  readonly cacheLayout: CacheLayout;

  /**
   * Item texts recently read, by file and ETag: 8 MiB at most, some 5,000 typical events, which covers
   * the items clients ask for again (a month's events with their data, the last multigets).
   */
  readonly texts = new TextCache(8 * 1024 * 1024);

  /** getCollection answers while their folder is watched; any write of ours drops them all. */
  readonly infos = new Map<string, { info: CollectionInfo; watch: number; writes: number }>();
  writes = 0;
  writing = 0;

  /** Parsed `.Radicale.props` by folder, reused while the file's stat is unchanged. */
  readonly propsByDir = new Map<
    string,
    { props: Record<string, string>; mtimeMs: number; ino: number; size: number }
  >();

  constructor(readonly options: FilesystemStorageOptions) {
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
    this.global = new GlobalLock(
      join(options.folder, '.Radicale.lock'),
      options.crossProcessLock,
      options.log,
    );
    this.journal = new SwapJournal(options.folder, this.root, this.fsOpts);
  }

  dirOf(path: string): string {
    return join(this.root, ...pathSegments(path));
  }

  index(path: string): ItemIndex {
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

  history(path: string): History {
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

  changeLog(path: string): ChangeLog {
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
  forget(path: string): void {
    for (const [k, idx] of this.indexes) if (isWithin(k, path)) idx.close(false);
    for (const m of [this.indexes, this.histories, this.changeLogs] as Map<string, unknown>[]) {
      for (const k of [...m.keys()]) if (isWithin(k, path)) m.delete(k);
    }
  }

  lock(paths: readonly { path: string; mode: 'read' | 'write' }[]): Promise<Release> {
    paths.forEach((p) => pathSegments(p.path));
    return this.locks.acquireAll(collectionLocks(paths));
  }

  async withLock<T>(
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
  refused(e: unknown): unknown {
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
  async underFolderLock<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.global.exclusive();
    try {
      if (this.global.crossProcessLocked) await afterPendingEvents();
      return await fn();
    } finally {
      release();
    }
  }
}

/** Resolves after the event loop has polled for I/O once more (inotify events already queued are read). */
async function afterPendingEvents(): Promise<void> {
  // An immediate set during the check phase runs in the next iteration, after its poll phase.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}
