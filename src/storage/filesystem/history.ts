/**
 * Radicale's sync history of one collection: `.Radicale.cache/history/<href>` holds the pickled
 * `[quoted item etag or "", history etag]`, a chain that advances whenever the item's etag changes;
 * `.Radicale.cache/sync-token/<name>` holds the pickled `{href: history etag}` state at that token.
 * History entries are cached in memory while the history folder's mtime is unchanged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { StorageError } from '../types.js';
import { asStringMap, asStringPair, dumpPickle, loadPickle } from '../pickle.js';
import { atomicWrite, isErrno, makeDirs, type FsOptions } from './fsutil.js';
import { listNames } from './item-index.js';
import { isSafeName } from './names.js';

export const TOKEN_PREFIX = 'http://radicale.org/ns/sync/';

const sha256hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export interface HistoryOptions {
  readonly fs: FsOptions;
  readonly maxAgeSeconds: number;
  readonly log: Logger;
}

export class History {
  private readonly historyDir: string;
  private readonly tokenDir: string;
  private readonly entries = new Map<string, readonly [string, string]>();
  private names: string[] | undefined;
  private dirMtimeMs = -1;

  constructor(
    collectionDir: string,
    private readonly opts: HistoryOptions,
  ) {
    this.historyDir = join(collectionDir, '.Radicale.cache', 'history');
    this.tokenDir = join(collectionDir, '.Radicale.cache', 'sync-token');
  }

  /** Drops the memory cache if someone else changed the history folder. */
  private async validate(): Promise<void> {
    const m = await stat(this.historyDir).then(
      (s) => s.mtimeMs,
      () => -2,
    );
    if (m !== this.dirMtimeMs) {
      this.entries.clear();
      this.names = undefined;
      this.dirMtimeMs = m;
      this.generation++;
    }
  }

  private async afterWrite(newName: string | undefined): Promise<void> {
    if (newName !== undefined && this.names !== undefined && !this.names.includes(newName))
      this.names.push(newName);
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
    this.generation++;
    await this.afterWrite(old === undefined ? href : undefined);
    return next;
  }

  /**
   * The state (href → history etag) and token name for a listing: current items in listing order,
   * then deleted items with history. Memoized while neither the listing nor the history changed, so
   * polling getctag/sync-token costs nothing; otherwise one stat of the history folder, in-memory
   * entries, and writes only for items whose etag changed.
   */
  async stateFor(
    items: readonly { href: string; etag: string }[],
    files: ReadonlySet<string>,
  ): Promise<{ name: string; state: Map<string, string> }> {
    await this.validate();
    if (this.memo && this.memo.items === items && this.memo.generation === this.generation)
      return this.memo.result;
    const state = new Map<string, string>();
    for (const m of items) state.set(m.href, await this.update(m.href, m.etag, true));
    for (const href of await this.deletedHrefs(files)) state.set(href, await this.update(href, '', true));
    const result = { name: stateName(state), state };
    this.memo = { items, generation: this.generation, result };
    this.remember(result.name, state);
    return result;
  }

  private memo:
    | { items: readonly unknown[]; generation: number; result: { name: string; state: Map<string, string> } }
    | undefined;
  private generation = 0;
  /** States of recently issued tokens, so a client's next sync needs no pickle read. */
  private readonly recent = new Map<string, { state: Map<string, string>; at: number }>();

  private remember(name: string, state: Map<string, string>): void {
    this.recent.delete(name);
    this.recent.set(name, { state, at: Date.now() });
    while (this.recent.size > 4) {
      const oldest = this.recent.keys().next().value;
      if (oldest === undefined) break;
      this.recent.delete(oldest);
    }
  }

  /** Hrefs with history but no file any more, in history-folder listing order. */
  async deletedHrefs(files: ReadonlySet<string>): Promise<string[]> {
    await this.validate();
    if (this.names === undefined) {
      this.names = await listNames(this.historyDir).catch((e: unknown) => {
        if (isErrno(e, 'ENOENT', 'ENOTDIR')) return [];
        throw e;
      });
    }
    return this.names.filter((n) => isSafeName(n) && !files.has(n));
  }

  /** Removes history entries of deleted items older than max_sync_token_age. */
  async cleanDeleted(files: ReadonlySet<string>, force = false): Promise<void> {
    // Expiry is measured in days: looking once a minute is enough, and keeps writes cheap.
    if (!force && Date.now() - this.lastClean < 60_000) return;
    this.lastClean = Date.now();
    const limit = Date.now() - this.opts.maxAgeSeconds * 1000;
    let removed = false;
    for (const href of await this.deletedHrefs(files)) {
      if (await this.removeIfOlder(join(this.historyDir, href), limit)) {
        this.entries.delete(href);
        removed = true;
      }
    }
    if (removed) {
      this.names = undefined;
      this.generation++;
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
    const known = this.recent.get(name);
    if (known !== undefined && Date.now() - known.at < this.opts.maxAgeSeconds * 1000) return known.state;
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

  /** Saves the state of a new token (or refreshes the mtime of a known one), then expires old ones. */
  saveState(name: string, state: ReadonlyMap<string, string>, files: ReadonlySet<string>): Promise<void> {
    const now = new Date();
    // A token saved or touched in the last minute needs nothing (its age only matters in days).
    const touched = this.saved.get(name);
    if (touched !== undefined && now.getTime() - touched < 60_000) return Promise.resolve();
    this.saved.set(name, now.getTime());
    if (this.saved.size > 64) this.saved.clear();
    this.remember(name, state as Map<string, string>);
    // Written after the answer: a client's next sync finds the state in memory, other processes (or
    // Radicale) find the file moments later. Writing tens of thousands of entries is not worth a
    // client's wait; losing it in a crash only makes that client sync from scratch.
    this.pending.set(name, { state, files });
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return Promise.resolve();
  }

  private readonly pending = new Map<
    string,
    { state: ReadonlyMap<string, string>; files: ReadonlySet<string> }
  >();
  private flushing: Promise<void> | undefined;

  /** Writes the states of tokens issued since the last flush (and expires old ones). */
  async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const [name, { state, files }] = this.pending.entries().next().value as [
          string,
          { state: ReadonlyMap<string, string>; files: ReadonlySet<string> },
        ];
        this.pending.delete(name);
        await this.writeState(name, state, files);
      }
    } catch (e) {
      this.opts.log.warn({ err: e }, 'could not save a sync token state');
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeState(
    name: string,
    state: ReadonlyMap<string, string>,
    files: ReadonlySet<string>,
  ): Promise<void> {
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

/** Token name (64 hex) from a token URI; invalid-sync-token when malformed. */
export function tokenName(token: string): string {
  const name = token.startsWith(TOKEN_PREFIX) ? token.slice(TOKEN_PREFIX.length) : '';
  if (!/^[0-9a-f]{64}$/.test(name)) throw new StorageError('invalid-sync-token', 'malformed sync token');
  return name;
}

export { sha256hex };
