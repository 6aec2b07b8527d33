/**
 * Radicale's sync history of one collection: `.Radicale.cache/history/<href>` holds the pickled
 * `[quoted item etag or "", history etag]`, a chain that advances whenever the item's etag changes;
 * `.Radicale.cache/sync-token/<name>` holds the pickled `{href: history etag}` state at that token.
 * History entries are cached in memory while the history folder's mtime is unchanged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { StorageError } from '../types.js';
import { asStringMap, asStringPair, dumpPickle, loadPickle } from '../pickle.js';
import { cacheDir, type CacheLayout } from './cache-layout.js';
import { atomicWrite, isErrno, makeDirs, type FsOptions } from './fsutil.js';
import { listNames } from './dir-names.js';
import { mapLimit } from './map-limit.js';
import { OrderedDigest } from './ordered-digest.js';
import { isSafeName } from '../names.js';

const sha256hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export interface HistoryOptions {
  readonly fs: FsOptions;
  readonly maxAgeSeconds: number;
  readonly log: Logger;
  /** Where the caches are (history and sync-token under collection-cache/ when configured). */
  readonly layout?: CacheLayout;
}

/** Something that knows which hrefs are item files now (a Set, or a view over a listing). */
export interface FileSet {
  has(href: string): boolean;
}

/** What a sync-token computation needs from the collection's listing. */
export interface ListingView {
  readonly items: readonly { href: string; etag: string }[];
  readonly byHref: ReadonlyMap<string, { etag: string }>;
  readonly files: FileSet;
  readonly version: number;
}

/** One advance of a history etag (or removal of an entry), in order. */
interface Change {
  readonly seq: number;
  readonly href: string;
  /** The history etag before (undefined: the href had no history). */
  readonly prev: string | undefined;
}

/** Changes remembered for incremental syncs; older tokens are diffed against their saved state. */
const CHANGE_LOG_LIMIT = 20_000;
/** Token names remembered with their position in the change log. */
const TOKEN_LIMIT = 256;

export class History {
  private readonly historyDir: string;
  private readonly tokenDir: string;
  private readonly entries = new Map<string, readonly [string, string]>();
  /** The history folder's names in listing order (the order of deleted items in the state). */
  private names: string[] | undefined;
  private nameSet = new Set<string>();
  private dirMtimeMs = -1;
  /**
   * The current state as Radicale hashes it: current items in listing order, then deleted items with
   * history. `order` holds its hrefs, `deleted` those of deleted items; `digest` the bytes hashed.
   */
  private current:
    | {
        version: number;
        order: readonly string[];
        deleted: ReadonlySet<string>;
        digest: OrderedDigest;
        name: string;
      }
    | undefined;
  /** Hrefs whose history etag changed since `current` was computed. */
  private readonly touched = new Set<string>();
  private seq = 0;
  private readonly log: Change[] = [];
  /** Token name → change-log position of its state (tokens issued or seen by this process). */
  private readonly tokens = new Map<string, { seq: number; at: number }>();

  /** The change-log position of a token this process knows and that has not expired. */
  private knownToken(name: string): number | undefined {
    const t = this.tokens.get(name);
    return t !== undefined && Date.now() - t.at <= this.opts.maxAgeSeconds * 1000 ? t.seq : undefined;
  }

  constructor(
    collectionDir: string,
    private readonly opts: HistoryOptions,
  ) {
    this.historyDir = cacheDir(opts.layout, collectionDir, 'history');
    this.tokenDir = cacheDir(opts.layout, collectionDir, 'sync-token');
  }

  /** Drops everything cached if someone else changed the history folder. */
  private async validate(): Promise<void> {
    const m = await stat(this.historyDir).then(
      (s) => s.mtimeMs,
      () => -2,
    );
    if (m !== this.dirMtimeMs) {
      this.entries.clear();
      this.names = undefined;
      this.dirMtimeMs = m;
      this.forgetState();
    }
  }

  /** Forgets the computed state and every change-log position (tokens then load their saved state). */
  private forgetState(): void {
    this.current = undefined;
    this.touched.clear();
    this.log.length = 0;
    this.tokens.clear();
  }

  private async afterWrite(newName: string | undefined): Promise<void> {
    if (newName !== undefined && this.names !== undefined && !this.nameSet.has(newName)) {
      this.names.push(newName);
      this.nameSet.add(newName);
    }
    this.dirMtimeMs = await stat(this.historyDir).then(
      (s) => s.mtimeMs,
      () => -2,
    );
  }

  private async read(href: string): Promise<readonly [string, string] | undefined> {
    const cached = this.entries.get(href);
    if (cached !== undefined) return cached;
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.historyDir, href));
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    }
    try {
      const pair = asStringPair(loadPickle(bytes));
      if (pair !== undefined) this.entries.set(href, pair);
      else this.opts.log.warn({ href }, 'ignoring history entry of unexpected shape');
      return pair;
    } catch (e) {
      this.opts.log.warn({ href, err: e }, 'ignoring unreadable history entry');
      return undefined;
    }
  }

  private record(href: string, prev: string | undefined): void {
    this.touched.add(href);
    this.log.push({ seq: ++this.seq, href, prev });
    if (this.log.length > CHANGE_LOG_LIMIT) this.log.splice(0, this.log.length - CHANGE_LOG_LIMIT);
  }

  /**
   * The history etag of `href` whose item etag is now `etag` ('' = deleted), advancing and storing
   * the chain when the etag changed (as Radicale's _update_history_etag).
   */
  async update(href: string, etag: string, validated = false): Promise<string> {
    if (!validated) await this.validate();
    const old = await this.read(href);
    if (old !== undefined && old[0] === etag) return old[1];
    // A fresh chain starts from random data so that it cannot collide with a cleaned one.
    const base = old?.[1] ?? randomBytes(16).toString('hex');
    const next = sha256hex(`${base}/${etag}`);
    await makeDirs(this.historyDir, this.opts.fs);
    await atomicWrite(this.historyDir, href, dumpPickle([etag, next]), this.opts.fs);
    this.entries.set(href, [etag, next]);
    this.record(href, old?.[1]);
    await this.afterWrite(old === undefined ? href : undefined);
    return next;
  }

  /** The history etag for an item at `etag`: from memory when it matches, else through update(). */
  private etagOf(href: string, etag: string): string | Promise<string> {
    const e = this.entries.get(href);
    return e !== undefined && e[0] === etag ? e[1] : this.update(href, etag, true);
  }

  /**
   * The current token name for a listing (Radicale's formula: sha256 over `href/history-etag` of
   * every current item in listing order, then of every deleted item with history). When the listing
   * only changed known items in place since the last computation (`changes`, from the item index),
   * just those entries are looked at and the digest is updated in place; otherwise it is computed
   * again from the listing (in memory, with writes only for items whose etag changed).
   */
  async tokenFor(
    list: ListingView,
    changes: (since: number) => ReadonlySet<string> | undefined,
  ): Promise<string> {
    await this.validate();
    const cur = this.current;
    if (cur !== undefined) {
      if (cur.version === list.version && this.touched.size === 0) return cur.name;
      const changed = changes(cur.version);
      if (changed !== undefined && (await this.patch(cur, list, changed))) return cur.name;
    }
    return this.rebuild(list);
  }

  /** Updates `cur` in place when every changed href is a current item before and after. */
  private async patch(
    cur: NonNullable<History['current']>,
    list: ListingView,
    changed: ReadonlySet<string>,
  ): Promise<boolean> {
    const hrefs = new Set([...changed, ...this.touched]);
    for (const href of hrefs) {
      if (!list.byHref.has(href) || !cur.digest.has(href) || cur.deleted.has(href)) return false;
    }
    for (const href of hrefs) {
      const meta = list.byHref.get(href);
      if (meta === undefined) return false;
      const he = await this.etagOf(href, meta.etag);
      if (!cur.digest.set(href, he)) return false;
    }
    this.touched.clear();
    cur.version = list.version;
    cur.name = cur.digest.digest();
    this.noteToken(cur.name);
    return true;
  }

  /**
   * Loads the history entries not in memory yet (after a start, every one): read synchronously, as
   * they are tiny, so a first sync of 100,000 items reads their history in about a second.
   */
  private preload(items: Iterable<{ readonly href: string; readonly etag: string }>): void {
    for (const { href, etag } of items) {
      if (this.entries.has(href)) continue;
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(this.historyDir, href));
      } catch {
        continue; // missing (a new item) or unreadable: update() deals with it
      }
      try {
        const pair = asStringPair(loadPickle(bytes));
        // The item's own etag string when it is the same: one copy per item instead of two.
        if (pair !== undefined) this.entries.set(href, pair[0] === etag ? [etag, pair[1]] : pair);
      } catch {
        // unreadable: update() logs it and starts a new chain
      }
    }
  }

  private async rebuild(list: ListingView): Promise<string> {
    this.preload(list.items);
    // Entries to create or advance (all of them on a first sync of a folder Radicale never synced)
    // are written a few at a time: the thread pool overlaps the small writes.
    const stale = list.items.filter((m) => this.entries.get(m.href)?.[0] !== m.etag);
    await mapLimit(stale, 8, (m) => this.update(m.href, m.etag, true));
    const order: string[] = [];
    const pairs: (readonly [string, string])[] = [];
    for (const m of list.items) {
      const he = this.etagOf(m.href, m.etag);
      pairs.push([m.href, typeof he === 'string' ? he : await he]);
      order.push(m.href);
    }
    const deleted = new Set<string>();
    for (const href of await this.deletedHrefs(list.files)) {
      const he = this.etagOf(href, '');
      pairs.push([href, typeof he === 'string' ? he : await he]);
      order.push(href);
      deleted.add(href);
    }
    const digest = OrderedDigest.build(pairs);
    this.touched.clear();
    this.current = { version: list.version, order, deleted, digest, name: digest.digest() };
    this.noteToken(this.current.name);
    return this.current.name;
  }

  private noteToken(name: string): void {
    this.tokens.delete(name);
    this.tokens.set(name, { seq: this.seq, at: Date.now() });
    while (this.tokens.size > TOKEN_LIMIT) {
      const oldest = this.tokens.keys().next().value;
      if (oldest === undefined) break;
      this.tokens.delete(oldest);
    }
  }

  /** The current state (href → history etag, in Radicale's order); call after tokenFor. */
  currentState(): Map<string, string> {
    const state = new Map<string, string>();
    for (const href of this.current?.order ?? []) {
      const e = this.entries.get(href);
      if (e !== undefined) state.set(href, e[1]);
    }
    return state;
  }

  /**
   * The hrefs whose history etag differs between the state of token `oldName` and the current one
   * (call after tokenFor): from the change log when this process knows the token, in proportion to
   * the changes; otherwise from the token's saved state (invalid-sync-token when there is none).
   */
  async changedSince(oldName: string): Promise<Set<string>> {
    const later = this.changesAfter(this.knownToken(oldName));
    if (later !== undefined) return new Set(later.map((c) => c.href));
    const old = await this.loadState(oldName);
    const now = this.currentState();
    const hrefs = new Set<string>();
    for (const [href, he] of now) if (old.get(href) !== he) hrefs.add(href);
    for (const href of old.keys()) if (!now.has(href)) hrefs.add(href);
    return hrefs;
  }

  /** The state of token `name` (from the change log when known here, else its saved state). */
  async stateOf(name: string): Promise<Map<string, string>> {
    const at = this.knownToken(name);
    const state = at === undefined ? undefined : this.stateAt(at);
    return state ?? this.loadState(name);
  }

  /** The state at change-log position `seq`: the current one with later changes undone. */
  private stateAt(seq: number): Map<string, string> | undefined {
    const later = this.changesAfter(seq);
    if (this.current === undefined || later === undefined) return undefined;
    const state = this.currentState();
    for (const c of later.reverse()) {
      if (c.prev === undefined) state.delete(c.href);
      else state.set(c.href, c.prev);
    }
    return state;
  }

  /** The logged changes after position `seq` (oldest first), or undefined when the log no longer has them all. */
  private changesAfter(seq: number | undefined): Change[] | undefined {
    if (seq === undefined) return undefined;
    const first = this.log[0];
    if (seq !== this.seq && (first === undefined || first.seq > seq + 1)) return undefined;
    let i = this.log.length;
    while (i > 0 && (this.log[i - 1] as Change).seq > seq) i--;
    return this.log.slice(i);
  }

  /** Hrefs with history but no file any more, in history-folder listing order. */
  async deletedHrefs(files: FileSet): Promise<string[]> {
    await this.validate();
    if (this.names === undefined) {
      this.names = await listNames(this.historyDir).catch((e: unknown) => {
        if (isErrno(e, 'ENOENT', 'ENOTDIR')) return [];
        throw e;
      });
      this.nameSet = new Set(this.names);
    }
    return this.names.filter((n) => isSafeName(n) && !files.has(n));
  }

  /** Removes history entries of deleted items older than max_sync_token_age. */
  async cleanDeleted(files: FileSet, force = false): Promise<void> {
    // Expiry is measured in days: looking once a minute is enough, and keeps writes cheap.
    if (!force && Date.now() - this.lastClean < 60_000) return;
    this.lastClean = Date.now();
    const limit = Date.now() - this.opts.maxAgeSeconds * 1000;
    let removed = false;
    for (const href of await this.deletedHrefs(files)) {
      const prev = this.entries.get(href)?.[1];
      if (await this.removeIfOlder(join(this.historyDir, href), limit)) {
        this.entries.delete(href);
        this.record(href, prev);
        removed = true;
      }
    }
    if (removed) {
      // The removed hrefs are in `touched`: the next token is computed from scratch.
      this.names = undefined;
      await this.afterWrite(undefined);
    }
  }

  private lastClean = 0;

  private async removeIfOlder(path: string, limitMs: number): Promise<boolean> {
    try {
      const st = await stat(path);
      if (st.mtimeMs > limitMs) return false;
      await unlink(path);
      return true;
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'EACCES', 'EPERM')) return false;
      throw e;
    }
  }

  /** The state saved under a token name; invalid-sync-token when missing or unreadable. */
  async loadState(name: string): Promise<Map<string, string>> {
    const pending = this.pending.get(name);
    if (pending?.state !== undefined) return pending.state;
    let bytes: Buffer;
    try {
      const path = join(this.tokenDir, name);
      // Expired tokens are refused even before their file is cleaned away.
      if (Date.now() - (await stat(path)).mtimeMs > this.opts.maxAgeSeconds * 1000) {
        throw new StorageError('invalid-sync-token', 'sync token expired');
      }
      bytes = await readFile(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR'))
        throw new StorageError('invalid-sync-token', 'sync token not found');
      throw e;
    }
    try {
      const state = asStringMap(loadPickle(bytes));
      if (state !== undefined) return state;
    } catch (e) {
      this.opts.log.warn({ name, err: e }, 'unreadable sync token state');
    }
    throw new StorageError('invalid-sync-token', 'sync token state unreadable');
  }

  private readonly saved = new Map<string, number>();

  /**
   * Saves the state of a token (the current one unless `state` is given), or refreshes the mtime
   * of a known one, then expires old ones. Written after the answer: a client's next sync diffs in
   * memory, other processes (or Radicale) find the file moments later; losing it in a crash only
   * makes that client sync from scratch.
   */
  saveState(name: string, files: FileSet, state?: Map<string, string>): void {
    const now = Date.now();
    // A token saved or touched in the last minute needs nothing (its age only matters in days).
    const touched = this.saved.get(name);
    if (touched !== undefined && now - touched < 60_000) return;
    this.saved.set(name, now);
    if (this.saved.size > 64) this.saved.clear();
    const at = state === undefined ? this.tokens.get(name)?.seq : undefined;
    this.pending.set(name, {
      state: state ?? (at === undefined ? this.currentState() : undefined),
      at,
      files,
    });
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  private readonly pending = new Map<
    string,
    { state: Map<string, string> | undefined; at: number | undefined; files: FileSet }
  >();
  private flushing: Promise<void> | undefined;

  /** Writes the states of tokens issued since the last flush (and expires old ones). */
  async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const [name, token] = this.pending.entries().next().value as [
          string,
          { state: Map<string, string> | undefined; at: number | undefined; files: FileSet },
        ];
        const state = token.state ?? (token.at === undefined ? undefined : this.stateAt(token.at));
        if (state !== undefined) await this.writeState(name, state, token.files);
        this.pending.delete(name);
      }
    } catch (e) {
      this.opts.log.warn({ err: e }, 'could not save a sync token state');
      this.pending.clear();
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeState(name: string, state: ReadonlyMap<string, string>, files: FileSet): Promise<void> {
    const path = join(this.tokenDir, name);
    const now = new Date();
    try {
      await utimes(path, now, now);
      return;
    } catch (e) {
      if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
    }
    await makeDirs(this.tokenDir, this.opts.fs);
    await atomicWrite(this.tokenDir, name, dumpPickle(state), this.opts.fs);
    const limit = Date.now() - this.opts.maxAgeSeconds * 1000;
    for (const other of await listNames(this.tokenDir)) {
      if (other !== name && isSafeName(other)) await this.removeIfOlder(join(this.tokenDir, other), limit);
    }
    await this.cleanDeleted(files);
  }

  /**
   * Saves the current state under `name`, a token another storage issued for the same contents (call
   * after tokenFor), replacing any state saved under that name before; diffs from it then use the
   * change log like those of tokens issued here.
   */
  async adopt(name: string): Promise<void> {
    await this.settle();
    await makeDirs(this.tokenDir, this.opts.fs);
    await atomicWrite(this.tokenDir, name, dumpPickle(this.currentState()), this.opts.fs);
    this.saved.set(name, Date.now());
    this.noteToken(name);
  }

  /** Waits for pending writes (at close). */
  async settle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }
}

/** Radicale's token name of a state: sha256 over `href/history-etag` in order. */
export function stateName(state: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  for (const [href, he] of state) h.update(`${href}/${he}`, 'utf8');
  return h.digest('hex');
}

export { sha256hex };
