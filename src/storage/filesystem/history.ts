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
    }
  }

  private async afterWrite(newName: boolean): Promise<void> {
    if (newName) this.names = undefined;
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
  async update(href: string, etag: string): Promise<string> {
    await this.validate();
    const old = await this.read(href);
    if (old !== undefined && old[0] === etag) return old[1];
    // A fresh chain starts from random data so that it cannot collide with a cleaned one.
    const base = old?.[1] ?? randomBytes(16).toString('hex');
    const next = sha256hex(`${base}/${etag}`);
    await makeDirs(this.historyDir, this.opts.fs);
    await atomicWrite(this.historyDir, href, dumpPickle([etag, next]), this.opts.fs);
    this.entries.set(href, [etag, next]);
    await this.afterWrite(old === undefined);
    return next;
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
  async cleanDeleted(files: ReadonlySet<string>): Promise<void> {
    const limit = Date.now() - this.opts.maxAgeSeconds * 1000;
    let removed = false;
    for (const href of await this.deletedHrefs(files)) {
      if (await this.removeIfOlder(join(this.historyDir, href), limit)) {
        this.entries.delete(href);
        removed = true;
      }
    }
    if (removed) await this.afterWrite(true);
  }

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
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.tokenDir, name));
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

  /** Saves the state of a new token (or refreshes the mtime of a known one), then expires old ones. */
  async saveState(
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
}

/** Token name (64 hex) from a token URI; invalid-sync-token when malformed. */
export function tokenName(token: string): string {
  const name = token.startsWith(TOKEN_PREFIX) ? token.slice(TOKEN_PREFIX.length) : '';
  if (!/^[0-9a-f]{64}$/.test(name)) throw new StorageError('invalid-sync-token', 'malformed sync token');
  return name;
}

export { sha256hex };
