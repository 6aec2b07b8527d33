/**
 * The in-memory metadata cache of one collection folder: href → etag, size, mtime, uid, component,
 * time range. It is validated by stat (ino + size + mtime) of each file and by the folder's mtime
 * (for the name list), so listing a big collection costs one readdir and one stat per item, and a
 * file changed by hand or by Radicale is seen on the next request.
 */
import { createHash } from 'node:crypto';
import { open, opendir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CollectionTag, ItemDescriber, ItemMeta } from '../types.js';
import { isErrno } from './fsutil.js';
import { isSafeName } from './names.js';

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
  readonly byUid: ReadonlyMap<string, ItemMeta>;
  /** Newest mtime of the folder and its items. */
  readonly lastModifiedMs: number;
}

export interface IndexOptions {
  readonly describe: ItemDescriber;
  readonly maxResourceSize: number;
  readonly skipBrokenItem: boolean;
  readonly log: Logger;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const STAT_CONCURRENCY = 32;

export function itemEtag(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('hex')}"`;
}

export function decodeItem(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** Raw directory order (fs.readdir sorts; opendir does not, and Radicale uses the raw order). */
export async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  const d = await opendir(dir, { bufferSize: 256 });
  for await (const ent of d) names.push(ent.name);
  return names;
}

export async function mapLimit<T, R>(
  xs: readonly T[],
  limit: number,
  fn: (x: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(xs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, worker));
  return out;
}

const sameStat = (a: StatKey, b: Stats): boolean =>
  a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

export class ItemIndex {
  private readonly entries = new Map<string, Entry>();
  private names: string[] | undefined;
  private dirMtimeMs = -1;
  private tag: CollectionTag | undefined;
  private lastListing: Listing | undefined;

  constructor(
    private readonly dir: string,
    private readonly opts: IndexOptions,
  ) {}

  /** Newest item mtime seen by the last listing (0 when never listed). */
  get cachedLastModifiedMs(): number {
    return this.lastListing?.lastModifiedMs ?? 0;
  }

  /** Forgets the name list (call after adding or removing files). */
  invalidateNames(): void {
    this.names = undefined;
    this.lastListing = undefined;
  }

  async list(tag: CollectionTag): Promise<Listing> {
    if (tag !== this.tag) {
      this.entries.clear();
      this.tag = tag;
    }
    const dirStat = await stat(this.dir);
    if (this.names === undefined || dirStat.mtimeMs !== this.dirMtimeMs) {
      this.names = (await listNames(this.dir)).filter(isSafeName);
      this.dirMtimeMs = dirStat.mtimeMs;
    }
    const names = this.names;
    const stats = await mapLimit(names, STAT_CONCURRENCY, (n) =>
      stat(join(this.dir, n)).catch(() => undefined),
    );
    const metas = await mapLimit(names, STAT_CONCURRENCY, (n, i) => this.metaFor(n, stats[i], tag));
    return this.buildListing(names, stats, metas, dirStat.mtimeMs);
  }

  private buildListing(
    names: readonly string[],
    stats: readonly (Stats | undefined)[],
    metas: readonly (ItemMeta | undefined)[],
    dirMtimeMs: number,
  ): Listing {
    const files = new Set<string>();
    const items: ItemMeta[] = [];
    const byHref = new Map<string, ItemMeta>();
    const byUid = new Map<string, ItemMeta>();
    let lastModifiedMs = dirMtimeMs;
    names.forEach((name, i) => {
      const st = stats[i];
      if (st?.isFile()) files.add(name);
      const meta = metas[i];
      if (meta === undefined) return;
      items.push(meta);
      byHref.set(name, meta);
      if (meta.uid !== '' && !byUid.has(meta.uid)) byUid.set(meta.uid, meta);
      lastModifiedMs = Math.max(lastModifiedMs, meta.lastModified.getTime());
    });
    for (const cached of this.entries.keys()) if (!files.has(cached)) this.entries.delete(cached);
    this.lastListing = { items, files, byHref, byUid, lastModifiedMs };
    return this.lastListing;
  }

  /** One item's metadata (stat of that file only), or undefined. */
  async get(href: string, tag: CollectionTag): Promise<ItemMeta | undefined> {
    if (tag !== this.tag) {
      this.entries.clear();
      this.tag = tag;
      this.invalidateNames();
    }
    const st = await stat(join(this.dir, href)).catch(() => undefined);
    return this.metaFor(href, st, tag);
  }

  /** Records an item this process has just written, so it is not read back. */
  remember(href: string, st: Stats, meta: ItemMeta): void {
    this.entries.set(href, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, meta });
    this.invalidateNames();
  }

  private async metaFor(
    name: string,
    st: Stats | undefined,
    tag: CollectionTag,
  ): Promise<ItemMeta | undefined> {
    if (st === undefined || !st.isFile()) return undefined;
    if (st.size > this.opts.maxResourceSize) {
      this.opts.log.debug(
        { dir: this.dir, name, size: st.size },
        'skipping item larger than max_resource_size',
      );
      return undefined;
    }
    const cached = this.entries.get(name);
    if (cached !== undefined && sameStat(cached, st)) return cached.meta;
    return this.load(name, tag);
  }

  /** Reads and describes one file; the stat is taken on the open handle so it matches the bytes. */
  private async load(name: string, tag: CollectionTag): Promise<ItemMeta | undefined> {
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
    const meta = this.describeBytes(name, bytes, st, tag);
    this.entries.set(name, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, meta });
    return meta;
  }

  describeBytes(name: string, bytes: Uint8Array, st: Stats, tag: CollectionTag): ItemMeta | undefined {
    try {
      const d = this.opts.describe(decodeItem(bytes), tag);
      return {
        href: name,
        etag: itemEtag(bytes),
        size: bytes.length,
        lastModified: st.mtime,
        uid: d.uid,
        component: d.component,
        start: d.start,
        end: d.end,
      };
    } catch (e) {
      if (!this.opts.skipBrokenItem)
        throw new Error(`broken item ${join(this.dir, name)}: ${String(e)}`, { cause: e });
      this.opts.log.warn({ file: join(this.dir, name), err: e }, 'skipping broken item');
      return undefined;
    }
  }
}
