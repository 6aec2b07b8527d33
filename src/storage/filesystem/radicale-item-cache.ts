/**
 * Radicale's item cache (`.Radicale.cache/item/<href>`): a pickled tuple (cache_hash, uid, etag, text,
 * name, component, start, end), which Radicale uses instead of parsing the item while cache_hash
 * still matches the file: sha256(CACHE_VERSION + raw file bytes), or, with `[storage]
 * use_mtime_and_size_for_item_cache`, the string CACHE_VERSION + `size=<bytes>;mtime=<st_mtime_ns>`.
 * With `use_cache_subfolder_for_item` the entries live under `<filesystem_cache_folder or
 * filesystem_folder>/collection-cache/<collection path>/.Radicale.cache/item/` instead.
 *
 * Radicale re-serializes items it parses itself (vobject), which changes the ETag of any item a client
 * wrote in another property order. Writing this entry for the items we store makes Radicale, when it
 * takes the folder back, serve them byte for byte with the same ETag as we do, without parsing them.
 * CACHE_VERSION names the versions of Radicale (3.3.1 for every release since, which keeps caches
 * across upgrades) and vobject (and python-dateutil before 3.3.1); we learn it from entries Radicale
 * already wrote anywhere in the folder, else assume Debian's Radicale 3.1.8, or, when the options above
 * are on (Radicale 3.3.2+ only), Radicale 3.3.1+ with vobject 0.9.9.
 */
import { createHash } from 'node:crypto';
import { mkdir, opendir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadPickle } from '../pickle.js';
import { cacheDir, type CacheLayout } from './cache-layout.js';
import { atomicWrite, unlinkIfExists, type FsOptions } from './fsutil.js';

/** CACHE_VERSION of Debian 12's Radicale 3.1.8 (vobject and python-dateutil of bookworm). */
export const RADICALE_3_1_8 = 'radicale=3.1.8;vobject=0.9.6.1;python-dateutil=2.8.2;';
/** CACHE_VERSION of Radicale 3.3.1 and later with the current vobject (Debian 13, PyPI). */
export const RADICALE_3_3_1 = 'radicale=3.3.1;vobject=0.9.9;';

/** The versions an entry's hash is tried against to learn which one the folder's Radicale uses. */
export const KNOWN_CACHE_VERSIONS: readonly string[] = [
  RADICALE_3_1_8,
  ...['0.9.9', '0.9.8', '0.9.7', '0.9.6.1', '1.0.0'].map((v) => `radicale=3.3.1;vobject=${v};`),
];

// Radicale's TIMESTAMP_MIN / TIMESTAMP_MAX: an entry with this range is never pre-filtered away, so
// Radicale always evaluates its own time-range rules on the item.
const TIMESTAMP_MIN = -62135596800;
const TIMESTAMP_MAX = 253402300800;

const OP = {
  PROTO: 0x80,
  MARK: 0x28,
  TUPLE: 0x74,
  STOP: 0x2e,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE: 0x58,
  LONG1: 0x8a,
};

function pickleStr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length < 256) return Buffer.concat([Buffer.from([OP.SHORT_BINUNICODE, b.length]), b]);
  const h = Buffer.alloc(5);
  h[0] = OP.BINUNICODE;
  h.writeUInt32LE(b.length, 1);
  return Buffer.concat([h, b]);
}

function pickleInt(n: number): Buffer {
  // LONG1: little-endian two's complement, as Python writes large ints.
  const bytes: number[] = [];
  let v = BigInt(n);
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Buffer.from([OP.LONG1, bytes.length, ...bytes]);
}

export interface CacheEntry {
  readonly uid: string;
  readonly etag: string;
  readonly text: string;
  readonly component: string;
}

export function encodeCacheEntry(hash: string, e: CacheEntry): Buffer {
  const name = e.component === 'VCARD' ? 'VCARD' : 'VCALENDAR';
  const component = e.component === 'VCARD' ? '' : e.component;
  return Buffer.concat([
    Buffer.from([OP.PROTO, 4, OP.MARK]),
    ...[hash, e.uid, e.etag, e.text, name, component].map(pickleStr),
    pickleInt(TIMESTAMP_MIN),
    pickleInt(TIMESTAMP_MAX),
    Buffer.from([OP.TUPLE, OP.STOP]),
  ]);
}

/** The content key of hash mode: sha256(CACHE_VERSION + raw bytes). */
export const contentHash = (version: string, raw: Uint8Array): string =>
  createHash('sha256').update(version, 'utf8').update(raw).digest('hex');

/** The key of mtime mode: CACHE_VERSION + `size=<n>;mtime=<ns>`. */
export const mtimeAndSizeKey = (version: string, size: bigint | number, mtimeNs: bigint): string =>
  `${version}size=${size};mtime=${mtimeNs}`;

/** Which CACHE_VERSION produced `hash` for the file `raw` (either key form), if a known or readable one. */
export function versionOfEntry(hash: unknown, raw: Uint8Array): string | undefined {
  if (typeof hash !== 'string') return undefined;
  const m = /^(radicale=[^;]*;(?:[\w.-]+=[^;]*;)*?)size=\d+;mtime=\d+$/.exec(hash);
  if (m?.[1] !== undefined) return m[1];
  return KNOWN_CACHE_VERSIONS.find((v) => contentHash(v, raw) === hash);
}

export interface RadicaleItemCacheOptions {
  /** Where the caches are (the item cache in collection-cache/ with use_cache_subfolder_for_item). */
  readonly layout: CacheLayout;
  /** use_mtime_and_size_for_item_cache. */
  readonly mtimeAndSize?: boolean;
  /** [logging] storage_cache_actions_on_debug: each entry written is logged (debug). */
  readonly log?: Logger;
}

/** Folders looked at, and entries read, to learn the folder's CACHE_VERSION. */
const DETECT_DIRS = 200;
const DETECT_ENTRIES = 12;

export class RadicaleItemCache {
  private version: string | undefined;
  private detecting: Promise<string | undefined> | undefined;

  constructor(private readonly options: RadicaleItemCacheOptions) {}

  /** True when entries live under collection-cache/ rather than in the collection folders. */
  get inSubfolder(): boolean {
    return this.options.layout.inSubfolder.has('item');
  }

  /** Where the entries of the collection at `collectionDir` (a folder under the root) live. */
  entryDir(collectionDir: string): string {
    return cacheDir(this.options.layout, collectionDir, 'item');
  }

  /** Drops the entry of an item that changed or went away (best effort). */
  async remove(collectionDir: string, href: string): Promise<void> {
    await unlinkIfExists(join(this.entryDir(collectionDir), href)).catch(() => undefined);
  }

  /**
   * Writes the entry for an item just stored (best effort: Radicale rebuilds a missing entry).
   * `fileDir` is where the item file is now (the collection folder, or the folder being prepared for
   * a whole-collection replace); the entry goes where the collection at `collectionDir` keeps them.
   */
  async write(
    collectionDir: string,
    href: string,
    raw: Uint8Array,
    e: CacheEntry,
    fs: FsOptions,
    fileDir = collectionDir,
  ): Promise<void> {
    if (!e.component) return; // not a calendar object or vCard: Radicale would not serve it anyway
    try {
      const version = await this.versionFor(collectionDir);
      let key: string;
      if (this.options.mtimeAndSize === true) {
        const st = await stat(join(fileDir, href), { bigint: true });
        key = mtimeAndSizeKey(version, st.size, st.mtimeNs);
      } else key = contentHash(version, raw);
      const dir = this.entryDir(collectionDir);
      await mkdir(dir, { recursive: true });
      await atomicWrite(dir, href, encodeCacheEntry(key, e), { ...fs, fsync: false });
      this.options.log?.debug(`Item cache store for: ${JSON.stringify(join(dir, href))} (Radicale's entry)`);
    } catch {
      // best effort: a missing entry only means Radicale parses the item itself
    }
  }

  private async versionFor(collectionDir: string): Promise<string> {
    if (this.version !== undefined) return this.version;
    const found = (await this.detectIn(collectionDir)) ?? (await (this.detecting ??= this.detectInTree()));
    this.version ??=
      found ?? (this.inSubfolder || this.options.mtimeAndSize === true ? RADICALE_3_3_1 : RADICALE_3_1_8);
    return this.version;
  }

  /** The CACHE_VERSION of entries Radicale wrote for this collection, if any can be read. */
  private async detectIn(
    collectionDir: string,
    budget = { entries: DETECT_ENTRIES },
  ): Promise<string | undefined> {
    const cacheDir = this.entryDir(collectionDir);
    let dir;
    try {
      dir = await opendir(cacheDir);
    } catch {
      return undefined;
    }
    // Leaving the loop (return) closes the folder.
    for await (const ent of dir) {
      if (!ent.isFile() || ent.name.startsWith('.')) continue;
      if (budget.entries-- <= 0) return undefined;
      try {
        const entry = loadPickle(await readFile(join(cacheDir, ent.name)));
        const raw = await readFile(join(collectionDir, ent.name));
        const found = versionOfEntry(Array.isArray(entry) ? entry[0] : undefined, raw);
        if (found !== undefined) return found;
      } catch {
        // an entry we cannot read or whose item is gone tells nothing
      }
    }
    return undefined;
  }

  /** Looks through the first collections of the folder (breadth first, bounded) for a readable entry. */
  private async detectInTree(): Promise<string | undefined> {
    const queue = [this.options.layout.root];
    const budget = { entries: DETECT_ENTRIES };
    for (let seen = 0; queue.length > 0 && seen < DETECT_DIRS && budget.entries > 0; seen++) {
      const dir = queue.shift() ?? '';
      const found = await this.detectIn(dir, budget);
      if (found !== undefined) return found;
      try {
        for (const ent of await readdir(dir, { withFileTypes: true })) {
          if (ent.isDirectory() && !ent.name.startsWith('.')) queue.push(join(dir, ent.name));
        }
      } catch {
        // unreadable folder: look elsewhere
      }
    }
    return undefined;
  }
}
