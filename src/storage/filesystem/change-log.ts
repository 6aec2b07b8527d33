/**
 * Almanac's own change log of one collection folder, in `<collection>/.Almanac.sync/log` (or under
 * `collection-cache/` with `use_cache_subfolder_for_synctoken`): a header line, then one JSON line per
 * change `[position, milliseconds since the epoch, href, etag]` (etag '' for a deletion). Radicale ignores the folder
 * (its name starts with a dot and it is not `.Radicale.cache`).
 *
 * A sync token is a position in this log (`almanac-<log id>-<position>`), so a change costs one line
 * and an incremental sync reads only the lines after the client's position, whatever the size of the
 * collection; there is no state per token. Radicale refuses these tokens (they are not its 64 hex
 * digits), so a client of a folder handed back to Radicale syncs again from scratch, never from a
 * wrong state.
 *
 * Changes this process makes are appended as they are made; changes made by others (Radicale, an
 * editor, another Almanac) are found by comparing the folder's listing with the log's last known
 * state before a token is issued, and appended then. Only the newest line per href matters: the
 * file is rewritten without the others when they outnumber the live ones. Deletions are remembered
 * for `max_sync_token_age`; dropping one raises the log's floor, and tokens below it are refused.
 */
import { randomBytes } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { StorageError } from '../types.js';
import { atomicWrite, isErrno, makeDirs, type FsOptions } from './fsutil.js';

export const OWN_FOLDER = '.Almanac.sync';
const LOG_FILE = 'log';
const FORMAT = 1;
/** Deleted hrefs remembered beyond this many (or beyond the live ones, when more) are dropped oldest first. */
const TOMBSTONE_LIMIT = 10_000;
/** A token name of this log: `almanac-<id>-<position>[-<floor it stays valid above>]`. */
const OWN_NAME = /^almanac-([0-9a-f]{16})-(\d{1,15})(?:-(\d{1,15}))?$/;

interface Entry {
  readonly href: string;
  readonly seq: number;
  /** The item's ETag at this change ('' = deleted); the listing's own string once compared. */
  etag: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

interface Header {
  v: number;
  id: string;
  dev: number;
  ino: number;
  floor: number;
  head: number;
}

/** What reconciling needs from a listing of the folder. */
export interface LogListing {
  readonly items: readonly { readonly href: string; readonly etag: string }[];
  readonly byHref: ReadonlyMap<string, { readonly etag: string }>;
  readonly version: number;
}

export interface LogOptions {
  readonly fs: FsOptions;
  readonly maxAgeSeconds: number;
  readonly log: Logger;
}

/** A position and the floor it stays valid above (the same number, except for pages of a first sync). */
export interface LogPosition {
  readonly seq: number;
  readonly valid: number;
}

export function isOwnTokenName(name: string): boolean {
  return OWN_NAME.test(name);
}

export class ChangeLog {
  private id = '';
  private floor = 0;
  private head = 0;
  private readonly latest = new Map<string, Entry>();
  private order: Entry[] = [];
  private tombstones = 0;
  /** Listing version the log was last compared with (undefined: compare everything next time). */
  private reconciled: number | undefined;
  /** The log file as last read or written (undefined: no file yet). */
  private file: { ino: number; size: number } | undefined;
  private loaded = false;
  /** Lines appended and not fsynced yet (synced before a token is handed out). */
  private unsynced = false;
  private lastExpiry = 0;
  /** A log file found unusable and not replaced yet. */
  private rejected: { ino: number; size: number } | undefined;

  constructor(
    private readonly folder: string,
    private readonly collectionDir: string,
    private readonly opts: LogOptions,
  ) {}

  private get path(): string {
    return join(this.folder, LOG_FILE);
  }

  /** The token of the current head (call after reconcile). */
  token(at: LogPosition = { seq: this.head, valid: this.head }): string {
    const suffix = at.valid === at.seq ? '' : `-${at.valid}`;
    return `almanac-${this.id}-${at.seq}${suffix}`;
  }

  /**
   * Changes with every change (for the collection's ETag); the same for every empty log never
   * written, so that the CTag of an empty collection does not change with each start.
   */
  get version(): string {
    return this.file === undefined && this.head === 0 ? 'empty' : `${this.id}/${this.head}`;
  }

  // ------------------------------------------------------------------ reading

  private reset(): void {
    this.id = randomBytes(8).toString('hex');
    this.floor = 0;
    this.head = 0;
    this.latest.clear();
    this.order = [];
    this.tombstones = 0;
    this.reconciled = undefined;
    this.file = undefined;
    this.rejected = undefined;
  }

  private apply(e: Entry): void {
    const prev = this.latest.get(e.href);
    if (prev?.etag === '') this.tombstones--;
    this.latest.set(e.href, e);
    this.order.push(e);
    if (e.etag === '') this.tombstones++;
    this.head = Math.max(this.head, e.seq);
  }

  /** Parses complete lines of `text`; false when one is malformed (the log is then started afresh). */
  private applyLines(text: string): boolean {
    let prev = this.order.at(-1)?.seq ?? 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        return false;
      }
      if (!Array.isArray(v) || v.length !== 4) return false;
      const [seq, at, href, etag] = v as unknown[];
      if (
        typeof seq !== 'number' ||
        !Number.isSafeInteger(seq) ||
        seq <= prev ||
        typeof at !== 'number' ||
        typeof href !== 'string' ||
        typeof etag !== 'string'
      )
        return false;
      this.apply({ href, seq, etag: etag === '' ? '' : `"${etag}"`, at });
      prev = seq;
    }
    return true;
  }

  private async dirKey(): Promise<{ dev: number; ino: number }> {
    const st = await stat(this.collectionDir);
    return { dev: st.dev, ino: st.ino };
  }

  /** Reads the whole log (a missing, foreign or damaged one is started afresh with a new id). */
  private async loadAll(): Promise<void> {
    this.reset();
    this.loaded = true;
    let bytes: Buffer;
    let ino: number;
    try {
      const fh = await open(this.path, 'r');
      try {
        ino = (await fh.stat()).ino;
        bytes = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return;
      throw e;
    }
    const end = bytes.lastIndexOf(0x0a) + 1;
    const text = bytes.subarray(0, end).toString('utf8');
    const nl = text.indexOf('\n');
    let header: Partial<Header> | undefined;
    try {
      header = JSON.parse(text.slice(0, nl)) as Partial<Header>;
    } catch {
      header = undefined;
    }
    const dir = await this.dirKey();
    const fresh = (why: string): void => {
      this.opts.log.info({ log: this.path }, `starting a new change log (${why}); clients sync again`);
      this.reset();
      // Not read again until it is replaced (by the next change, which rewrites the log).
      this.rejected = { ino, size: bytes.length };
    };
    if (
      nl < 0 ||
      header?.v !== FORMAT ||
      typeof header.id !== 'string' ||
      !/^[0-9a-f]{16}$/.test(header.id) ||
      typeof header.floor !== 'number' ||
      typeof header.head !== 'number'
    )
      return fresh('the log is unreadable');
    // A copy of the folder (or a collection put in its place) is another collection: its own log.
    if (header.dev !== dir.dev || header.ino !== dir.ino)
      return fresh('the collection folder is another one');
    this.id = header.id;
    this.floor = header.floor;
    this.head = Math.max(header.floor, header.head);
    if (!this.applyLines(text.slice(nl + 1))) return fresh('the log is damaged');
    this.file = { ino, size: end };
  }

  /** Picks up lines another process appended (or its rewrite of the log) since we last looked. */
  private async refresh(): Promise<void> {
    if (!this.loaded) return this.loadAll();
    const st = await stat(this.path).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    });
    if (st === undefined) {
      // Removed by someone: tokens of the old log can no longer be answered.
      if (this.file !== undefined) this.reset();
      return;
    }
    if (this.file !== undefined && st.ino === this.file.ino && st.size === this.file.size) return;
    if (this.file === undefined && st.ino === this.rejected?.ino && st.size === this.rejected.size) return;
    if (this.file === undefined || st.ino !== this.file.ino || st.size < this.file.size) {
      return this.loadAll();
    }
    const fh = await open(this.path, 'r');
    let tail: Buffer;
    try {
      const length = st.size - this.file.size;
      tail = Buffer.alloc(length);
      const { bytesRead } = await fh.read(tail, 0, length, this.file.size);
      tail = tail.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    const end = tail.lastIndexOf(0x0a) + 1;
    if (!this.applyLines(tail.subarray(0, end).toString('utf8'))) return this.loadAll();
    this.file = { ino: this.file.ino, size: this.file.size + end };
    this.reconciled = undefined;
  }

  // ------------------------------------------------------------------ writing

  private line(e: Entry): string {
    return `${JSON.stringify([e.seq, e.at, e.href, e.etag === '' ? '' : e.etag.slice(1, -1)])}\n`;
  }

  /** Appends changes (href, etag '' = deleted); call holding `.Radicale.lock` exclusively. */
  private async append(changes: readonly (readonly [string, string])[]): Promise<void> {
    if (changes.length === 0) return;
    const at = Date.now();
    const entries = changes.map(([href, etag], i) => ({ href, etag, seq: this.head + 1 + i, at }));
    if (this.file === undefined) {
      entries.forEach((e) => this.apply(e));
      await this.rewrite();
      return;
    }
    const fh = await open(this.path, 'a');
    try {
      await fh.writeFile(entries.map((e) => this.line(e)).join(''));
      const st = await fh.stat();
      this.file = { ino: st.ino, size: st.size };
    } finally {
      await fh.close();
    }
    this.unsynced = true;
    entries.forEach((e) => this.apply(e));
    await this.compactIfDue();
  }

  /** Writes the whole log anew (header, then the newest line of each href), atomically. */
  private async rewrite(): Promise<void> {
    await makeDirs(this.folder, this.opts.fs);
    const dir = await this.dirKey();
    const header: Header = {
      v: FORMAT,
      id: this.id,
      dev: dir.dev,
      ino: dir.ino,
      floor: this.floor,
      head: this.head,
    };
    this.order = this.order.filter((e) => this.latest.get(e.href) === e);
    const parts = [`${JSON.stringify(header)}\n`];
    for (const e of this.order) parts.push(this.line(e));
    await atomicWrite(this.folder, LOG_FILE, parts.join(''), this.opts.fs);
    const st = await stat(this.path);
    this.file = { ino: st.ino, size: st.size };
    this.unsynced = false;
  }

  /** Drops superseded lines once they outnumber the live ones, and deletions past their age or number. */
  private async compactIfDue(): Promise<void> {
    const now = Date.now();
    const live = this.latest.size - this.tombstones;
    const limit = Math.max(TOMBSTONE_LIMIT, live);
    // Ages count in days normally: looked at once a minute (more often for a shorter max age).
    const every = Math.min(60_000, this.opts.maxAgeSeconds * 1000);
    const checkAge = this.tombstones > 0 && now - this.lastExpiry >= every;
    let dropped = false;
    if (checkAge || this.tombstones > limit) {
      this.lastExpiry = now;
      let excess = this.tombstones - limit;
      for (const e of this.order) {
        if (e.etag !== '' || this.latest.get(e.href) !== e) continue;
        if (excess > 0 || now - e.at > this.opts.maxAgeSeconds * 1000) {
          this.latest.delete(e.href);
          this.tombstones--;
          excess--;
          this.floor = Math.max(this.floor, e.seq);
          dropped = true;
        } else if (excess <= 0) break; // the rest are younger (the log is in time order)
      }
    }
    if (dropped || this.order.length > 2 * this.latest.size + 1024) await this.rewrite();
  }

  /** Records a change this process made (call holding `.Radicale.lock` exclusively). */
  async record(href: string, etag: string): Promise<void> {
    await this.refresh();
    const known = this.latest.get(href)?.etag ?? '';
    if (etag === '' && known === '') return;
    await this.append([[href, etag]]);
  }

  // ------------------------------------------------------------------ reconciling

  /** The changes between the log's state and the listing (all hrefs compared when `since` is unknown). */
  private differences(
    list: LogListing,
    changesSince: (version: number) => ReadonlySet<string> | undefined,
  ): [string, string][] {
    if (this.reconciled === list.version) return [];
    const out: [string, string][] = [];
    const since = this.reconciled === undefined ? undefined : changesSince(this.reconciled);
    const compare = (href: string): void => {
      const now = list.byHref.get(href)?.etag ?? '';
      const e = this.latest.get(href);
      const known = e?.etag ?? '';
      if (now === known) {
        if (e !== undefined) e.etag = now; // the listing's string: one copy per item
      } else out.push([href, now]);
    };
    if (since !== undefined) {
      for (const href of since) compare(href);
      return out;
    }
    for (const m of list.items) compare(m.href);
    for (const [href, e] of this.latest) if (e.etag !== '' && !list.byHref.has(href)) out.push([href, '']);
    return out;
  }

  /**
   * Brings the log up to date with `list` (the folder as it is now): what others changed is
   * appended, holding `.Radicale.lock` exclusively (`exclusive` takes it) so that two processes do
   * not number lines alike. After this, the log's head stands for exactly this listing.
   */
  async reconcile(
    list: LogListing,
    changesSince: (version: number) => ReadonlySet<string> | undefined,
    exclusive: () => Promise<() => void>,
  ): Promise<void> {
    await this.refresh();
    if (this.differences(list, changesSince).length > 0) {
      const release = await exclusive();
      try {
        await this.refresh();
        await this.append(this.differences(list, changesSince));
      } finally {
        release();
      }
    }
    this.reconciled = list.version;
    await this.syncFile();
  }

  /** Makes appended lines durable before a token naming them leaves the server. */
  private async syncFile(): Promise<void> {
    if (!this.unsynced) return;
    this.unsynced = false;
    if (!this.opts.fs.fsync || this.file === undefined) return;
    const fh = await open(this.path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  // ------------------------------------------------------------------ answering

  /** The position a token name of this log stands for; invalid-sync-token when it cannot be answered. */
  position(name: string): LogPosition {
    const m = OWN_NAME.exec(name);
    const seq = m?.[2] === undefined ? NaN : Number(m[2]);
    const valid = m?.[3] === undefined ? seq : Number(m[3]);
    if (m?.[1] !== this.id) throw new StorageError('invalid-sync-token', 'sync token of another log');
    if (!(seq <= this.head && valid <= this.head && valid >= seq)) {
      throw new StorageError('invalid-sync-token', 'sync token from the future');
    }
    if (valid < this.floor) throw new StorageError('invalid-sync-token', 'sync token expired');
    return { seq, valid };
  }

  /**
   * The hrefs changed after `from` (undefined: a first sync, every current item), at most `limit`;
   * with the position the answer brings the client to (before the head when `limit` cut it).
   */
  changesAfter(
    from: LogPosition | undefined,
    limit = Infinity,
  ): { changed: string[]; deleted: string[]; to: LogPosition; truncated: boolean } {
    const changed: string[] = [];
    const deleted: string[] = [];
    let lo = 0;
    if (from !== undefined) {
      let hi = this.order.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((this.order[mid] as Entry).seq <= from.seq) lo = mid + 1;
        else hi = mid;
      }
    }
    let last = from?.seq ?? 0;
    for (let i = lo; i < this.order.length; i++) {
      const e = this.order[i] as Entry;
      if (this.latest.get(e.href) !== e) continue;
      // A first sync knows nothing of deletions.
      if (e.etag === '' && from === undefined) continue;
      if (changed.length + deleted.length >= limit) {
        // A first sync's page stays valid while no deletion after its head is forgotten: the client
        // holds only items that existed then.
        const valid = Math.max(last, from === undefined ? this.head : from.valid);
        return { changed, deleted, to: { seq: last, valid }, truncated: true };
      }
      (e.etag === '' ? deleted : changed).push(e.href);
      last = e.seq;
    }
    return { changed, deleted, to: { seq: this.head, valid: this.head }, truncated: false };
  }
}
