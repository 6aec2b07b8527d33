/**
 * The in-memory metadata cache of one collection folder: href → etag, size, mtime, uid, component,
 * time range. It is validated by stat (ino + size + mtime) of each file and by the folder's mtime
 * (for the name list), so listing a big collection costs one readdir and one stat per item, and a
 * file changed by hand or by Radicale is seen on the next request.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { mkdirSync, renameSync, statSync, watch, writeFileSync, type FSWatcher, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CollectionTag, ItemDescriber, ItemDescription, ItemMeta } from '../types.js';
import { isErrno } from './fsutil.js';
import { isSafeName } from '../names.js';
import { listNames } from './dir-names.js';
import { mapLimit } from './map-limit.js';
import { detach, intern } from './own-strings.js';
import { UTF8_ENCODING, type StockEncoding } from './stock-encoding.js';

interface StatKey {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

interface Entry extends StatKey {
  /** undefined for a broken (unparsable) item, remembered so it is not re-read every time. */
  readonly meta: ItemMeta | undefined;
}

export interface Listing {
  /** Listable items in directory-listing order (Radicale's order for the ctag and sync token). */
  readonly items: readonly ItemMeta[];
  /** Every regular file with a safe name (also oversize or broken ones), as Radicale's isfile(). */
  readonly files: ReadonlySet<string>;
  readonly byHref: ReadonlyMap<string, ItemMeta>;
  /** The first item (in listing order) of each UID. */
  readonly byUid: ReadonlyMap<string, ItemMeta>;
  /** UIDs that more than one item may hold (rare; only these need a search for other holders). */
  readonly sharedUids: ReadonlySet<string>;
  /** Newest mtime of the folder and its items. */
  readonly lastModifiedMs: number;
  /** Grows with every listing of this folder; `ItemIndex.changesSince` tells what changed between two. */
  readonly version: number;
}

/** A file just written, with what the writer knows of it (see ItemIndex.seed). */
export interface SeedFile {
  readonly name: string;
  readonly st: StatKey;
  readonly etag: string;
  readonly description: ItemDescription;
}

export interface IndexOptions {
  readonly describe: ItemDescriber;
  readonly maxResourceSize: number;
  readonly skipBrokenItem: boolean;
  readonly log: Logger;
  /** [encoding] stock of the item files (default UTF-8). */
  readonly stock?: StockEncoding;
  /** [logging] storage_cache_actions_on_debug: log each hit, miss and store of an entry (debug). */
  readonly cacheLog?: boolean;
  /** Folder of our own for the persistent index (beside collection-root), or undefined for none. */
  readonly persistDir?: string;
  /** Called with the text of each file read to describe it (the storage keeps it in its text cache). */
  readonly onLoaded?: (name: string, etag: string, text: string) => void;
}

const STAT_CONCURRENCY = 32;
/** A file's stat, or undefined when it cannot be had (gone, not a folder on the way...): synchronous. */
function statIfAny(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** Synchronous stats between two turns of the event loop. */
const STAT_SLICE = 2000;
/** A listing that reads more files than this does not pass their texts on (`onLoaded`). */
const BULK_LOAD = 1000;
/** More changed names than this since the last listing: list from scratch. */
const PATCH_LIMIT = 256;
const SAVE_WHEN_QUIET_MS = 3000;
const SAVE_AT_LATEST_MS = 60_000;
/** Patched listings remembered for `changesSince`. */
const CHANGE_LOG_LIMIT = 512;
/** Entries serialized between two turns of the event loop when the index is saved. */
const SAVE_SLICE = 500;
let saveCounter = 0;

const sameStat = (a: StatKey, b: StatKey): boolean =>
  a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

/** At most this many collection folders are watched at once (each costs one inotify watch). */
const MAX_WATCHERS = 1024;
/** Bump when what the describer computes changes, so saved indexes are rebuilt. */
const INDEX_VERSION = 1;
let watchers = 0;
/** Listing versions are unique across every index of the process (an index may be replaced). */
let listingVersions = 0;

/** What the persistent index keeps per file: its stat key and description. */
type SavedEntry = [
  name: string,
  ino: number,
  size: number,
  mtimeMs: number,
  etag: string,
  uid: string,
  component: string,
  start: number,
  end: number,
];

export class ItemIndex {
  private readonly entries = new Map<string, Entry>();
  private names: string[] | undefined;
  private nameSet = new Set<string>();
  private dirMtimeMs = -1;
  private tag: CollectionTag | undefined;
  private lastListing: Listing | undefined;
  /**
   * While the folder is watched (inotify), a cached entry stays valid until an event names its file:
   * listing needs no stat per item. `dirty` holds the names reported since the last listing; `trusted`
   * is false until a listing validated every entry with stat after the watch began.
   */
  private watcher: FSWatcher | undefined;
  private trusted = false;
  private readonly dirty = new Set<string>();
  private generation = 0;
  private loadedSaved = false;
  private saveTimer: NodeJS.Timeout | undefined;
  /** The last listing built, kept as the base for patching in place (until names come or go). */
  private base: Listing | undefined;
  private version = 0;
  /** Version of the last listing built from scratch: changes before it are not known. */
  private rebuiltAt = 0;
  /** Hrefs changed by each patched listing (made from the listing of version `from`), newest last. */
  private readonly changeLog: { from: number; version: number; hrefs: readonly string[] }[] = [];

  constructor(
    private readonly dir: string,
    private readonly opts: IndexOptions,
  ) {}

  /** Newest item mtime seen by the last listing (0 when never listed). */
  get cachedLastModifiedMs(): number {
    return this.lastListing?.lastModifiedMs ?? 0;
  }

  /**
   * A number that changes whenever inotify reports anything in the folder, or undefined when the
   * folder is not watched (then nothing about it may be cached).
   */
  watchGeneration(): number | undefined {
    return this.watcher && this.trusted ? this.generation : undefined;
  }

  /**
   * Entries for files this process has just written (a whole-collection upload) from what it already
   * knows of them: their stat and description. The first listing then stats them as usual and reads
   * none of them again (100,000 reads and parses after a 100,000-event import).
   */
  seed(tag: CollectionTag, files: readonly SeedFile[]): void {
    if (tag !== this.tag) {
      this.entries.clear();
      this.tag = tag;
      this.trusted = false;
      this.lastListing = undefined;
      this.base = undefined;
    }
    for (const f of files) {
      const meta: ItemMeta = {
        href: f.name,
        etag: f.etag,
        size: f.st.size,
        lastModifiedMs: f.st.mtimeMs,
        uid: detach(f.description.uid),
        component: intern(f.description.component),
        start: f.description.start,
        end: f.description.end,
      };
      this.entries.set(f.name, { ino: f.st.ino, size: f.st.size, mtimeMs: f.st.mtimeMs, meta });
    }
    if (files.length > 0) this.scheduleSave();
  }

  /** Forgets the name list (call after adding or removing files). */
  invalidateNames(): void {
    this.names = undefined;
    this.goneNames.clear();
    this.lastListing = undefined;
    this.base = undefined;
    this.appended.clear();
  }

  /**
   * Names this process created since the folder was last listed: they are put at the end of the
   * listing until an exact order is needed (the CTag and sync token follow Radicale's directory
   * order), so a write does not cost a relisting of a big folder.
   */
  private readonly appended = new Set<string>();

  /** Names gone from the folder that are still in `names` (removed from it when a full listing needs it). */
  private readonly goneNames = new Set<string>();

  /**
   * The hrefs whose entries changed between the listing of `version` and the current one, when every
   * listing since was a patch of the one before (same names, same order); undefined otherwise.
   */
  changesSince(version: number): Set<string> | undefined {
    let from = this.changeLog.findIndex((c) => c.version === version);
    if (from < 0) {
      // The listing built from scratch that the log starts from (when nothing was dropped from it).
      if (version !== this.rebuiltAt || this.changeLog[0]?.from !== version) {
        return version === this.version && version === this.rebuiltAt ? new Set() : undefined;
      }
      from = -1;
    }
    const out = new Set<string>();
    for (let i = from + 1; i < this.changeLog.length; i++)
      for (const h of this.changeLog[i]?.hrefs ?? []) out.add(h);
    return out;
  }

  /** Stops watching and saves the index (the collection was closed, moved or deleted). */
  close(save = true): void {
    if (this.watcher) {
      this.watcher.close();
      this.watcher = undefined;
      watchers--;
    }
    this.trusted = false;
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      if (save) this.saveNow();
    }
  }

  private watch(): void {
    if (this.watcher || watchers >= MAX_WATCHERS) return;
    try {
      const w = watch(this.dir, { persistent: false }, (event, filename) => {
        this.generation++;
        if (filename === null) {
          this.trusted = false;
          this.invalidateNames();
          return;
        }
        const name = filename;
        // Dot-files (our temp files, .Radicale.props, caches) are never items.
        if (name.startsWith('.')) return;
        this.dirty.add(name);
        this.lastListing = undefined;
        // A new name needs a fresh directory listing (for Radicale's order); a known name that was
        // replaced or removed is simply looked at again (a removed one drops out of the listing).
        if (event === 'rename' && !this.nameSet.has(name) && !this.expected.has(name)) this.invalidateNames();
      });
      w.on('error', () => this.close(false));
      this.watcher = w;
      watchers++;
    } catch {
      // no inotify (limits, unsupported filesystem): every listing validates each file with stat
    }
  }

  /**
   * The folder's items. `fresh` for a listing taken under `.Radicale.lock` to decide a write: without
   * a trusted watch, the names are read again even when the folder's mtime looks unchanged (its
   * granularity is a clock tick, in which another process may have added a file).
   */
  async list(tag: CollectionTag, exactOrder = false, fresh = false): Promise<Listing> {
    if (exactOrder && this.appended.size > 0) this.invalidateNames();
    if (tag !== this.tag) {
      this.entries.clear();
      this.tag = tag;
      this.trusted = false;
      this.lastListing = undefined;
      this.base = undefined;
    }
    if (!this.loadedSaved) await this.loadSaved();
    if (this.watcher && this.trusted && this.lastListing && this.dirty.size === 0) {
      if (this.opts.cacheLog === true)
        this.listingAction(`${this.lastListing.items.length} items, unchanged`);
      return this.lastListing;
    }
    this.watch();
    const gen = this.generation;
    const trustCache = this.watcher !== undefined && this.trusted;
    const dirty = new Set(this.dirty);
    this.dirty.clear();
    // Synchronous, as the per-file stats below: microseconds, where a thread-pool round trip costs
    // a good part of a small request.
    const dirStat = statSync(this.dir);
    // Without a watch, the folder's mtime tells whether names came or went; with one, its events do.
    // `names` is this listing's own: an event while it awaits may drop `this.names`.
    let names = this.names;
    if (names === undefined || (!trustCache && (fresh || dirStat.mtimeMs !== this.dirMtimeMs))) {
      names = (await listNames(this.dir)).filter(isSafeName);
      this.names = names;
      this.goneNames.clear();
      this.appended.clear();
      this.nameSet = new Set(names);
    }
    this.dirMtimeMs = dirStat.mtimeMs;
    if (trustCache && this.base !== undefined && dirty.size <= PATCH_LIMIT) {
      const patched = await this.patch(this.base, dirty, tag, dirStat.mtimeMs);
      if (patched !== undefined) {
        if (this.watcher && gen === this.generation) this.trusted = true;
        return patched;
      }
    }
    if (this.goneNames.size > 0 && names === this.names) {
      names = withoutNames(names, this.goneNames);
      this.names = names;
      this.goneNames.clear();
    }
    const stats: ({ isFile: boolean } | undefined)[] = new Array<{ isFile: boolean } | undefined>(
      names.length,
    );
    const metas: (ItemMeta | undefined)[] = new Array<ItemMeta | undefined>(names.length);
    const pending: number[] = [];
    const trustedFile = { isFile: true };
    // Entries the watch vouches for are used as they are, synchronously; only the rest is looked at.
    for (let i = 0; i < names.length; i++) {
      const n = names[i] as string;
      const e = this.entries.get(n);
      if (trustCache && e !== undefined && !dirty.has(n)) {
        stats[i] = trustedFile;
        metas[i] = e.size > this.opts.maxResourceSize ? undefined : e.meta;
      } else pending.push(i);
    }
    // Files with a known entry are checked with a synchronous stat (microseconds each, in slices so
    // that other requests get their turn); only new or changed files are read, 32 at a time.
    const toLoad: number[] = [];
    for (let k = 0; k < pending.length; k++) {
      if (k > 0 && k % STAT_SLICE === 0) await new Promise((r) => setImmediate(r));
      const i = pending[k] as number;
      const n = names[i] as string;
      const st = statSync(join(this.dir, n), { throwIfNoEntry: false });
      const key = st ? { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile() } : undefined;
      stats[i] = key;
      const cached = this.entries.get(n);
      if (key === undefined || !key.isFile || key.size > this.opts.maxResourceSize) metas[i] = undefined;
      else if (cached !== undefined && sameStat(cached, key)) metas[i] = cached.meta;
      else toLoad.push(i);
    }
    let loaded = 0;
    // Texts read to describe a few files are handed to the text cache; a whole folder read at once
    // (a first start) is not: it would only fill the cache with whatever came last.
    const keepTexts = toLoad.length <= BULK_LOAD;
    await mapLimit(toLoad, STAT_CONCURRENCY, async (i) => {
      const n = names[i] as string;
      const before = this.entries.get(n);
      metas[i] = await this.metaFor(n, stats[i] as StatKey & { isFile: boolean }, tag, keepTexts);
      if (this.entries.get(n) !== before) loaded++;
    });
    const listing = this.buildListing(names, stats, metas, dirStat.mtimeMs);
    // Trusted from now on if no event arrived while we listed.
    if (this.watcher && gen === this.generation) this.trusted = true;
    if (loaded > 0) this.scheduleSave();
    if (this.opts.cacheLog === true)
      this.listingAction(`${names.length - toLoad.length} entries kept, ${loaded} read`);
    return listing;
  }

  private buildListing(
    names: readonly string[],
    stats: readonly ({ isFile: boolean } | undefined)[],
    metas: readonly (ItemMeta | undefined)[],
    dirMtimeMs: number,
  ): Listing {
    const files = new Set<string>();
    const items: ItemMeta[] = [];
    const byHref = new Map<string, ItemMeta>();
    const byUid = new Map<string, ItemMeta>();
    const sharedUids = new Set<string>();
    let lastModifiedMs = dirMtimeMs;
    names.forEach((name, i) => {
      if (stats[i]?.isFile) files.add(name);
      const meta = metas[i];
      if (meta === undefined) return;
      items.push(meta);
      byHref.set(name, meta);
      if (meta.uid !== '') {
        if (!byUid.has(meta.uid)) byUid.set(meta.uid, meta);
        else sharedUids.add(meta.uid);
      }
      lastModifiedMs = Math.max(lastModifiedMs, meta.lastModifiedMs);
    });
    for (const cached of this.entries.keys()) if (!files.has(cached)) this.entries.delete(cached);
    this.version = ++listingVersions;
    this.rebuiltAt = this.version;
    this.changeLog.length = 0;
    this.lastListing = { items, files, byHref, byUid, sharedUids, lastModifiedMs, version: this.version };
    this.base = this.lastListing;
    return this.lastListing;
  }

  /**
   * A listing derived from `base` when only known files changed (replaced, removed, edited by hand):
   * the entries of those names are looked at again and put in their old places, so a change in a
   * 100,000-item folder costs in proportion to the change. Undefined when a full listing is needed
   * (a file that was not an item became one: its place in Radicale's order is not known).
   */
  private async patch(
    base: Listing,
    dirty: ReadonlySet<string>,
    tag: CollectionTag,
    dirMtimeMs: number,
  ): Promise<Listing | undefined> {
    const looked: { name: string; isFile: boolean; meta: ItemMeta | undefined }[] = [];
    for (const name of dirty) {
      if (!this.nameSet.has(name)) return undefined;
      const st = statIfAny(join(this.dir, name));
      const key = st ? { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile() } : undefined;
      const meta = await this.metaFor(name, key, tag);
      if (meta !== undefined && !base.byHref.has(name) && !this.appended.has(name)) return undefined;
      looked.push({ name, isFile: key?.isFile === true, meta });
    }
    // Copied at the first change only: looking at names that did not change costs no copy of a
    // 100,000-entry array.
    let copy: ItemMeta[] | undefined;
    // The maps are shared with the base listing (readers of an older listing only look hrefs up).
    const files = base.files as Set<string>;
    const byHref = base.byHref as Map<string, ItemMeta>;
    const byUid = base.byUid as Map<string, ItemMeta>;
    const sharedUids = base.sharedUids as Set<string>;
    let lastModifiedMs = Math.max(base.lastModifiedMs, dirMtimeMs);
    const changed: string[] = [];
    const gone = new Set<string>();
    for (const { name, isFile, meta } of looked) {
      if (isFile) files.add(name);
      else {
        files.delete(name);
        this.entries.delete(name);
        gone.add(name);
      }
      const old = byHref.get(name);
      if (old === meta) continue;
      changed.push(name);
      const items = (copy ??= base.items.slice());
      const at = old === undefined ? -1 : items.indexOf(old);
      if (meta === undefined) {
        if (at >= 0) items.splice(at, 1);
        byHref.delete(name);
      } else {
        if (at >= 0) items[at] = meta;
        else items.push(meta);
        byHref.set(name, meta);
        lastModifiedMs = Math.max(lastModifiedMs, meta.lastModifiedMs);
      }
      if (old !== undefined && meta !== undefined && old.uid === meta.uid && byUid.get(old.uid) === old)
        byUid.set(old.uid, meta);
      else if (old !== undefined) this.dropUid(byUid, sharedUids, items, old);
      if (meta !== undefined && meta.uid !== '') {
        const holder = byUid.get(meta.uid);
        if (holder === undefined) byUid.set(meta.uid, meta);
        else if (holder !== meta) sharedUids.add(meta.uid);
      }
    }
    if (changed.length === 0 && gone.size === 0) {
      this.lastListing = base;
      return base;
    }
    if (gone.size > 0 && this.names !== undefined) {
      // Cut out of the name list only when a full listing needs it (a copy of 100,000 names).
      for (const n of gone) {
        this.goneNames.add(n);
        this.nameSet.delete(n);
        this.appended.delete(n);
      }
    }
    const from = this.version;
    this.version = ++listingVersions;
    this.changeLog.push({ from, version: this.version, hrefs: changed });
    if (this.changeLog.length > CHANGE_LOG_LIMIT) {
      this.changeLog.shift();
      this.rebuiltAt = -1;
    }
    this.lastListing = {
      items: copy ?? base.items,
      files,
      byHref,
      byUid,
      sharedUids,
      lastModifiedMs,
      version: this.version,
    };
    this.base = this.lastListing;
    if (changed.length > 0) this.scheduleSave();
    return this.lastListing;
  }

  /** After `old` left the listing: its UID now belongs to another item holding it, if any. */
  private dropUid(
    byUid: Map<string, ItemMeta>,
    sharedUids: ReadonlySet<string>,
    items: readonly ItemMeta[],
    old: ItemMeta,
  ): void {
    if (old.uid === '' || byUid.get(old.uid) !== old) return;
    const other = sharedUids.has(old.uid) ? items.find((m) => m.uid === old.uid) : undefined;
    if (other === undefined) byUid.delete(old.uid);
    else byUid.set(old.uid, other);
  }

  /** One item's metadata (stat of that file only), or undefined. */
  async get(href: string, tag: CollectionTag): Promise<ItemMeta | undefined> {
    if (tag !== this.tag) {
      this.entries.clear();
      this.tag = tag;
      this.trusted = false;
      this.invalidateNames();
    }
    // A watched folder with no event for this file: the entry is current without a stat.
    const known = this.entries.get(href);
    if (known !== undefined && this.watcher && this.trusted && !this.dirty.has(href)) {
      return known.size > this.opts.maxResourceSize ? undefined : known.meta;
    }
    const st = statIfAny(join(this.dir, href));
    return this.metaFor(
      href,
      st ? { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile() } : undefined,
      tag,
    );
  }

  /**
   * Names this process is about to create: their inotify event (which may arrive before `remember`)
   * does not force a relisting. A write that fails after the rename must call `invalidateNames`.
   */
  private readonly expected = new Set<string>();

  expect(href: string): void {
    this.expected.add(href);
  }

  /** A name `expect`ed that was not created after all (the write was refused). */
  unexpect(href: string): void {
    this.expected.delete(href);
  }

  /** Records an item this process has just written, so it is not read back. */
  remember(href: string, st: Stats, meta: ItemMeta): void {
    this.expected.delete(href);
    this.entries.set(href, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, meta });
    // Our own write also reaches the watcher (maybe only later); the entry is already right, so the
    // event is harmless. Marked now so that the next listing takes the entry without waiting for it.
    this.dirty.add(href);
    this.lastListing = undefined;
    if (!this.nameSet.has(href)) {
      if (this.names !== undefined && this.base !== undefined) {
        // A name removed and created again: its old place goes first (a name is listed once).
        if (this.goneNames.has(href)) {
          this.names = withoutNames(this.names, this.goneNames);
          this.goneNames.clear();
        }
        this.names.push(href);
        this.nameSet.add(href);
        this.appended.add(href);
      } else this.invalidateNames();
    }
    this.scheduleSave();
  }

  /** An item this process has just removed: it drops out of the next listing (no relisting needed). */
  forgetName(href: string): void {
    this.entries.delete(href);
    this.dirty.add(href);
    this.lastListing = undefined;
  }

  private async metaFor(
    name: string,
    st: (StatKey & { isFile: boolean }) | undefined,
    tag: CollectionTag,
    keepText = true,
  ): Promise<ItemMeta | undefined> {
    if (st === undefined || !st.isFile) return undefined;
    if (st.size > this.opts.maxResourceSize) {
      this.opts.log.debug(
        { dir: this.dir, name, size: st.size },
        'skipping item larger than max_resource_size',
      );
      return undefined;
    }
    const cached = this.entries.get(name);
    const hit = cached !== undefined && sameStat(cached, st);
    if (this.opts.cacheLog === true) this.cacheAction(hit ? 'hit' : 'miss', name);
    if (hit) return cached.meta;
    return this.load(name, tag, keepText);
  }

  /** One line per listing: entries kept without reading their files are cache hits. */
  private listingAction(what: string): void {
    this.opts.log.debug(`Item cache hit   for: ${JSON.stringify(this.dir)} (listing: ${what})`);
  }

  private cacheAction(what: 'hit' | 'miss' | 'store', name: string): void {
    this.opts.log.debug(`Item cache ${what.padEnd(5)} for: ${JSON.stringify(join(this.dir, name))}`);
  }

  /**
   * Whether `st` (of a file just opened) is still the file `meta` was described from: then its bytes
   * have `meta`'s ETag without hashing them again (the same stat check that validates listings).
   */
  describes(meta: ItemMeta, st: StatKey): boolean {
    const e = this.entries.get(meta.href);
    return e !== undefined && e.meta === meta && sameStat(e, st);
  }

  /** Reads and describes one file; the stat is taken on the open handle so it matches the bytes. */
  private async load(name: string, tag: CollectionTag, keepText: boolean): Promise<ItemMeta | undefined> {
    let fh;
    try {
      fh = await open(join(this.dir, name), 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'EISDIR', 'ENOTDIR')) return undefined;
      throw e;
    }
    let st: Stats;
    let bytes: Buffer;
    try {
      st = await fh.stat();
      if (!st.isFile() || st.size > this.opts.maxResourceSize) return undefined;
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
    const described = this.describeBytes(name, bytes, st, tag);
    const meta = described?.meta;
    if (described && keepText) this.opts.onLoaded?.(name, described.meta.etag, described.text);
    this.entries.set(name, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, meta });
    if (meta !== undefined && this.opts.cacheLog === true) this.cacheAction('store', name);
    return meta;
  }

  /** The metadata of an item file's bytes, with their text; undefined for a broken item (logged). */
  describeBytes(
    name: string,
    bytes: Uint8Array,
    st: Stats,
    tag: CollectionTag,
  ): { meta: ItemMeta; text: string } | undefined {
    try {
      const stock = this.opts.stock ?? UTF8_ENCODING;
      const text = stock.decode(bytes);
      const d = this.opts.describe(text, tag);
      const meta: ItemMeta = {
        href: name,
        etag: stock.etag(bytes),
        size: bytes.length,
        lastModifiedMs: st.mtimeMs,
        // Copies: a UID sliced out of the item text would keep the whole text alive in the index.
        uid: detach(d.uid),
        component: intern(d.component),
        start: d.start,
        end: d.end,
      };
      return { meta, text };
    } catch (e) {
      if (!this.opts.skipBrokenItem)
        throw new Error(`broken item ${join(this.dir, name)}: ${String(e)}`, { cause: e });
      this.opts.log.warn({ file: join(this.dir, name), err: e }, 'skipping broken item');
      return undefined;
    }
  }

  // ------------------------------------------------------------ persistent index

  /**
   * The index file keeps each item's stat key and description, so a restart describes nothing that
   * did not change: entries are still validated by stat before use (a file changed while we were
   * down has another mtime or size and is read again).
   */
  private get savePath(): string | undefined {
    return this.opts.persistDir
      ? join(this.opts.persistDir, `${createHash('sha256').update(this.dir).digest('hex')}.json`)
      : undefined;
  }

  private async loadSaved(): Promise<void> {
    this.loadedSaved = true;
    const path = this.savePath;
    if (!path) return;
    try {
      const data = JSON.parse(await readFile(path, 'utf8')) as {
        v?: number;
        dir?: string;
        tag?: string;
        enc?: string;
        entries?: SavedEntry[];
      };
      if (
        data.v !== INDEX_VERSION ||
        data.dir !== this.dir ||
        data.tag !== this.tag ||
        // ETags depend on [encoding] stock: an index saved under another one is not reused.
        (data.enc ?? UTF8_ENCODING.name) !== (this.opts.stock ?? UTF8_ENCODING).name ||
        !Array.isArray(data.entries)
      )
        return;
      for (const [name, ino, size, mtimeMs, etag, uid, component, start, end] of data.entries) {
        if (this.entries.has(name)) continue;
        const meta: ItemMeta = {
          href: name,
          etag,
          size,
          lastModifiedMs: mtimeMs,
          uid,
          component,
          start,
          end,
        };
        this.entries.set(name, { ino, size, mtimeMs, meta });
      }
    } catch {
      // missing or unreadable: the index is rebuilt from the files
    }
  }

  /**
   * Saves once the folder has been quiet for a few seconds (at most a minute after the first unsaved
   * change): writing the index of a big folder takes a while, and a lost save only means describing
   * the changed files again at the next start (entries are checked against the files anyway).
   */
  private scheduleSave(): void {
    if (!this.opts.persistDir) return;
    const now = Date.now();
    if (this.saveTimer) {
      if (now - this.unsavedSince >= SAVE_AT_LATEST_MS) return;
      clearTimeout(this.saveTimer);
    } else this.unsavedSince = now;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.saveInTurns();
    }, SAVE_WHEN_QUIET_MS);
    this.saveTimer.unref();
  }

  private unsavedSince = 0;

  /** The saved index's JSON text: `entries` as given, the rest from this index. */
  private saveHead(): string {
    const enc = (this.opts.stock ?? UTF8_ENCODING).name;
    return `${JSON.stringify({ v: INDEX_VERSION, dir: this.dir, tag: this.tag, enc }).slice(0, -1)},"entries":[`;
  }

  private static savedLine(name: string, e: Entry): string | undefined {
    const m = e.meta;
    return m
      ? JSON.stringify([name, e.ino, e.size, e.mtimeMs, m.etag, m.uid, m.component, m.start, m.end])
      : undefined;
  }

  /** Saves at once, synchronously (when the index is closed). */
  private saveNow(): void {
    const path = this.savePath;
    if (!path || !this.opts.persistDir) return;
    const parts: string[] = [];
    for (const [name, e] of this.entries) {
      const line = ItemIndex.savedLine(name, e);
      if (line !== undefined) parts.push(line);
    }
    try {
      mkdirSync(this.opts.persistDir, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${this.saveHead()}${parts.join(',')}]}`);
      renameSync(tmp, path);
    } catch (e) {
      this.opts.log.debug({ err: e }, 'could not save the item index');
    }
  }

  private saving = false;

  /**
   * Saves in turns of SAVE_SLICE entries with other requests between them, and writes the file
   * asynchronously: the index of a 100,000-item folder takes some 100 ms to serialize, which would
   * otherwise stall every request at once. Entries changed meanwhile may be saved old or new: each
   * is checked against its file's stat when loaded anyway.
   */
  private async saveInTurns(): Promise<void> {
    const path = this.savePath;
    const folder = this.opts.persistDir;
    if (!path || !folder) return;
    if (this.saving) {
      this.scheduleSave();
      return;
    }
    this.saving = true;
    const tmp = `${path}.${process.pid}.${++saveCounter}.tmp`;
    let fh;
    try {
      await mkdir(folder, { recursive: true });
      fh = await open(tmp, 'w');
      let text = this.saveHead();
      let first = true;
      let n = 0;
      for (const [name, e] of this.entries) {
        const line = ItemIndex.savedLine(name, e);
        if (line === undefined) continue;
        text += first ? line : `,${line}`;
        first = false;
        if (++n % SAVE_SLICE === 0) {
          // Written a slice at a time: no one string of the whole index, no long turn.
          await fh.write(text);
          text = '';
        }
      }
      await fh.write(`${text}]}`);
      await fh.close();
      fh = undefined;
      await rename(tmp, path);
    } catch (e) {
      this.opts.log.debug({ err: e }, 'could not save the item index');
      await fh?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
    } finally {
      this.saving = false;
    }
  }
}

/**
 * `names` without `gone`, as a new array (a listing in progress may still be reading the old one). A
 * few names are found with indexOf and cut out of a copy (at memory speed); a Set lookup
 * per name would cost milliseconds in a 100,000-item folder for each deletion.
 */
function withoutNames(names: readonly string[], gone: ReadonlySet<string>): string[] {
  if (gone.size > 16) return names.filter((n) => !gone.has(n));
  const at: number[] = [];
  for (const n of gone) {
    const i = names.indexOf(n);
    if (i >= 0) at.push(i);
  }
  if (at.length === 0) return names.slice();
  // Cut out of a copy, last first: the copy keeps its capacity, so the next name appended (a new
  // item after a deletion) does not copy the whole array again.
  const out = names.slice();
  for (const i of at.sort((a, b) => b - a)) out.splice(i, 1);
  return out;
}
