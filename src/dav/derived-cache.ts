/**
 * A cache of derived bytes (e.g. the serialized export of a whole collection): one file per scope,
 * valid for one key. The bytes are derived data, recomputable at any time, so files are written
 * without fsync; what makes them safe is that a file is only ever served when its header names the
 * asked key, the body length matches, and its sha256 was checked (by this process when it wrote the
 * file, or once per file when it was found on disk).
 *
 * File layout: a fixed-size header (JSON padded with spaces, then '\n') followed by the body. The
 * header is written last, over a blank placeholder, and the file then renamed into place; a file
 * cut short or never finished has no valid header or a wrong length and is ignored (then rebuilt).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';

const HEADER_SIZE = 256;
const FORMAT = 1;
const SUFFIX = '.cache';
const TEMP_SUFFIX = '.tmp';

export interface DerivedCacheOptions {
  /** Folder holding the cache files (created on first write). */
  readonly folder: string;
  /**
   * Mixed into every key, so that an upgrade that may change the derived bytes (the Almanac version)
   * invalidates every entry.
   */
  readonly generation?: string;
  /** At most this many entries are kept (least recently used go first). */
  readonly maxEntries?: number;
  /** At most this many bytes in all; an entry bigger than this is never stored. */
  readonly maxBytes?: number;
  /** Entries not read for this long are removed (milliseconds). */
  readonly maxAgeMs?: number;
  readonly log?: Logger;
}

/**
 * Defaults: a 100,000-event calendar export is about 50 MB, so 512 MiB holds the exports of several
 * huge collections or hundreds of ordinary ones (a 1,000-event calendar is ~0.5 MB), while staying
 * far below the size of the data folder that such collections imply. 200 entries bound the number of
 * files scanned at eviction; 30 days without a GET drop the export of a deleted or forgotten collection.
 */
export const DERIVED_CACHE_DEFAULTS = {
  maxEntries: 200,
  maxBytes: 512 * 1024 * 1024,
  maxAgeMs: 30 * 24 * 3600 * 1000,
} as const;

/** Temporary files older than this are left over by a crashed writer. */
const STALE_TEMP_MS = 3600 * 1000;

export interface CachedBytes {
  /** The body, from the file that was checked (a concurrent replacement does not affect it). */
  readonly stream: Readable;
  readonly size: number;
}

interface Header {
  readonly v: number;
  readonly key: string;
  readonly length: number;
  readonly sha256: string;
}

/** Files whose body hash was verified (or written) by this process, by name: identity of the checked file. */
interface Trusted {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly header: Header;
}

/**
 * Same file as the one checked: inode, size and modification time. The time is compared in whole
 * milliseconds because touching the access time rewrites mtime with millisecond precision.
 */
function sameFile(t: Trusted, st: { ino: number; size: number; mtimeMs: number }): boolean {
  return t.ino === st.ino && t.size === st.size && Math.trunc(t.mtimeMs) === Math.trunc(st.mtimeMs);
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

function parseHeader(buf: Buffer): Header | undefined {
  try {
    const h = JSON.parse(buf.toString('utf8').trim()) as Partial<Header>;
    if (h.v !== FORMAT || typeof h.key !== 'string' || typeof h.sha256 !== 'string') return undefined;
    if (typeof h.length !== 'number' || !Number.isSafeInteger(h.length) || h.length < 0) return undefined;
    return { v: h.v, key: h.key, length: h.length, sha256: h.sha256 };
  } catch {
    return undefined;
  }
}

function headerBytes(h: Header): Buffer {
  const json = JSON.stringify(h);
  if (json.length > HEADER_SIZE - 1) throw new Error('derived cache header too long');
  return Buffer.from(`${json.padEnd(HEADER_SIZE - 1, ' ')}\n`, 'utf8');
}

/** What a GET of a whole collection needs of a cache of derived bytes (files, or memory). */
export interface BytesCache {
  get(scope: string, key: string): Promise<CachedBytes | undefined>;
  put(
    scope: string,
    key: string,
    source: AsyncIterable<string | Buffer>,
    stillCurrent?: () => Promise<boolean>,
  ): AsyncIterable<Buffer>;
  /** Waits for background work (eviction) to end. */
  settle(): Promise<void>;
}

/** A chunk of a put's source as bytes (text is UTF-8). */
export function chunkBytes(chunk: string | Buffer): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

/**
 * The answer of a put's `stillCurrent`, asked once the whole source was passed through: no check =
 * current; a failing check = not current (not stored).
 */
export async function isStillCurrent(check: (() => Promise<boolean>) | undefined): Promise<boolean> {
  try {
    return check === undefined || (await check());
  } catch {
    return false;
  }
}

export class DerivedCache implements BytesCache {
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly trusted = new Map<string, Trusted>();
  private pruning: Promise<void> | undefined;
  private prunedOnce = false;
  private tempCounter = 0;
  private warnedWrite = false;

  constructor(private readonly opts: DerivedCacheOptions) {
    this.maxEntries = opts.maxEntries ?? DERIVED_CACHE_DEFAULTS.maxEntries;
    this.maxBytes = opts.maxBytes ?? DERIVED_CACHE_DEFAULTS.maxBytes;
    this.maxAgeMs = opts.maxAgeMs ?? DERIVED_CACHE_DEFAULTS.maxAgeMs;
  }

  private fileName(scope: string): string {
    return `${sha256(scope)}${SUFFIX}`;
  }

  private keyHash(key: string): string {
    return sha256(`${this.opts.generation ?? ''}\n${key}`);
  }

  /** The stored bytes of `scope` when they were derived for `key`; undefined otherwise. */
  async get(scope: string, key: string): Promise<CachedBytes | undefined> {
    this.pruneOnceSoon();
    const name = this.fileName(scope);
    const path = join(this.opts.folder, name);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch {
      return undefined;
    }
    try {
      const checked = await this.checkedHeader(fh, name);
      if (checked === undefined || checked.header.key !== this.keyHash(key)) {
        await fh.close();
        return undefined;
      }
      // The access time orders least-recently-used eviction, also across restarts; mtime is kept.
      await fh.utimes(new Date(), checked.mtime).catch(() => undefined);
      // The handle is closed by the stream when it ends or is destroyed.
      return {
        stream: fh.createReadStream({ start: HEADER_SIZE, autoClose: true }),
        size: checked.header.length,
      };
    } catch (err) {
      await fh.close().catch(() => undefined);
      this.opts.log?.warn(`derived cache: cannot read ${path}: ${String(err)}`);
      return undefined;
    }
  }

  /** The header of an open file when the file is whole: right length and, once per file, right hash. */
  private async checkedHeader(
    fh: FileHandle,
    name: string,
  ): Promise<{ header: Header; mtime: Date } | undefined> {
    const st = await fh.stat();
    const known = this.trusted.get(name);
    if (known && sameFile(known, st)) return { header: known.header, mtime: st.mtime };
    const buf = Buffer.alloc(HEADER_SIZE);
    const { bytesRead } = await fh.read(buf, 0, HEADER_SIZE, 0);
    const header = bytesRead === HEADER_SIZE ? parseHeader(buf) : undefined;
    if (header === undefined || st.size !== HEADER_SIZE + header.length) return undefined;
    if ((await hashBody(fh, header.length)) !== header.sha256) {
      this.opts.log?.warn(`derived cache: ${name} is corrupt, ignoring it`);
      return undefined;
    }
    this.trusted.set(name, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, header });
    return { header, mtime: st.mtime };
  }

  /**
   * Passes `source` through unchanged while writing it as the new entry of `scope` for `key`. The
   * entry is stored only if the whole source was consumed without error and `stillCurrent` (asked at
   * the end) confirms that `key` still describes what the source was made from: the source may have
   * read data that changed after the key was computed. A failure to write the cache never affects the
   * chunks passed through.
   */
  async *put(
    scope: string,
    key: string,
    source: AsyncIterable<string | Buffer>,
    stillCurrent?: () => Promise<boolean>,
  ): AsyncIterable<Buffer> {
    const writer = await this.startWrite(scope);
    let finished = false;
    // One chunk's write to the file runs while the next chunk is made (writes stay in order).
    let writing: Promise<void> | undefined;
    try {
      for await (const chunk of source) {
        const buf = chunkBytes(chunk);
        await writing;
        writing = writer?.write(buf);
        yield buf;
      }
      await writing;
      finished = writer !== undefined && (await isStillCurrent(stillCurrent));
    } finally {
      await writing;
      if (finished) await writer?.commit(this.keyHash(key));
      else await writer?.abandon();
    }
  }

  private async startWrite(scope: string): Promise<EntryWriter | undefined> {
    const name = this.fileName(scope);
    const temp = join(this.opts.folder, `${name}.${process.pid}.${++this.tempCounter}${TEMP_SUFFIX}`);
    try {
      await mkdir(this.opts.folder, { recursive: true });
      const fh = await open(temp, 'w');
      return new EntryWriter(
        fh,
        temp,
        join(this.opts.folder, name),
        this.maxBytes,
        (st, header) => {
          this.trusted.set(name, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, header });
          this.pruneSoon();
        },
        this.opts.log,
      );
    } catch (err) {
      // A read-only data folder fails on every export: say it once, the exports are served anyway.
      const message = `derived cache: cannot write ${temp} (exports are built each time): ${String(err)}`;
      if (this.warnedWrite) this.opts.log?.debug(message);
      else this.opts.log?.warn(message);
      this.warnedWrite = true;
      return undefined;
    }
  }

  private pruneOnceSoon(): void {
    if (this.prunedOnce) return;
    this.prunedOnce = true;
    this.pruneSoon();
  }

  private pruneSoon(): void {
    this.pruning ??= this.prune()
      .catch((err: unknown) => this.opts.log?.warn(`derived cache: pruning failed: ${String(err)}`))
      .finally(() => (this.pruning = undefined));
  }

  /** Waits for a running eviction pass (for tests and orderly shutdown). */
  async settle(): Promise<void> {
    await this.pruning;
  }

  /**
   * Eviction: removes stale temporary files, entries not read for maxAgeMs, then the least recently
   * read entries while there are more than maxEntries or more than maxBytes.
   */
  async prune(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.opts.folder);
    } catch {
      return;
    }
    const now = Date.now();
    const entries: { path: string; name: string; size: number; used: number }[] = [];
    for (const name of names) {
      const path = join(this.opts.folder, name);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      if (name.endsWith(TEMP_SUFFIX)) {
        if (now - st.mtimeMs > STALE_TEMP_MS) await this.remove(path, name);
      } else if (name.endsWith(SUFFIX)) {
        entries.push({ path, name, size: st.size, used: Math.max(st.atimeMs, st.mtimeMs) });
      }
    }
    entries.sort((a, b) => b.used - a.used);
    let bytes = 0;
    let count = 0;
    for (const e of entries) {
      const keep =
        now - e.used <= this.maxAgeMs && count + 1 <= this.maxEntries && bytes + e.size <= this.maxBytes;
      if (keep) {
        count++;
        bytes += e.size;
      } else {
        await this.remove(e.path, e.name);
      }
    }
  }

  private async remove(path: string, name: string): Promise<void> {
    this.trusted.delete(name);
    await unlink(path).catch(() => undefined);
  }
}

/** Streams the body of an open cache file through sha256. */
async function hashBody(fh: FileHandle, length: number): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1024 * 1024);
  let pos = HEADER_SIZE;
  const end = HEADER_SIZE + length;
  while (pos < end) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return h.digest('hex');
}

/** One entry being written to its temporary file. Gives up (silently, logged) on any write error. */
class EntryWriter {
  private readonly hash = createHash('sha256');
  private length = 0;
  private failed = false;
  private closed = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly temp: string,
    private readonly target: string,
    private readonly maxBytes: number,
    private readonly onCommitted: (st: { ino: number; size: number; mtimeMs: number }, h: Header) => void,
    private readonly log: Logger | undefined,
  ) {}

  async write(buf: Buffer): Promise<void> {
    if (this.failed) return;
    if (HEADER_SIZE + this.length + buf.length > this.maxBytes) {
      // Too big to be kept by the eviction bound: do not write what would be removed at once.
      this.failed = true;
      return;
    }
    try {
      await this.fh.write(buf, 0, buf.length, HEADER_SIZE + this.length);
      this.hash.update(buf);
      this.length += buf.length;
    } catch (err) {
      this.failed = true;
      this.log?.warn(`derived cache: cannot write ${this.temp}: ${String(err)}`);
    }
  }

  async commit(key: string): Promise<void> {
    if (this.failed) return this.abandon();
    try {
      const header: Header = { v: FORMAT, key, length: this.length, sha256: this.hash.digest('hex') };
      await this.fh.write(headerBytes(header), 0, HEADER_SIZE, 0);
      const st = await this.fh.stat();
      await this.close();
      await rename(this.temp, this.target);
      this.onCommitted(st, header);
    } catch (err) {
      this.log?.warn(`derived cache: cannot store ${this.target}: ${String(err)}`);
      await this.abandon();
    }
  }

  async abandon(): Promise<void> {
    await this.close();
    await unlink(this.temp).catch(() => undefined);
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}
