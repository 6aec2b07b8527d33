/**
 * Radicale's item cache (`.Radicale.cache/item/<href>`): a pickled tuple (cache_hash, uid, etag, text,
 * name, component, start, end), valid while cache_hash = sha256(CACHE_VERSION + raw file bytes).
 *
 * Radicale re-serializes items it parses itself (vobject), which changes the ETag of any item a client
 * wrote in another property order. Writing this entry for the items we store makes Radicale, when it
 * takes the folder back, serve them byte for byte with the same ETag as we do. CACHE_VERSION names the
 * versions of Radicale, vobject and dateutil; we learn it from entries Radicale already wrote in the
 * folder, else assume Debian's Radicale 3.1.8.
 */
import { createHash } from 'node:crypto';
import { mkdir, opendir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadPickle } from '../pickle.js';
import { atomicWrite, type FsOptions } from './fsutil.js';

export const KNOWN_CACHE_VERSIONS: readonly string[] = [
  'radicale=3.1.8;vobject=0.9.6.1;python-dateutil=2.8.2;', // Debian 12 (bookworm)
  'radicale=3.5.4;vobject=0.9.9;python-dateutil=2.9.0;', // Debian 13 (trixie)
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

const hashWith = (version: string, raw: Uint8Array): string =>
  createHash('sha256').update(version, 'utf8').update(raw).digest('hex');

/** Finds the CACHE_VERSION of entries Radicale wrote in this collection, if any. */
async function detectVersion(collectionDir: string): Promise<string | undefined> {
  const cacheDir = join(collectionDir, '.Radicale.cache', 'item');
  let dir;
  try {
    dir = await opendir(cacheDir);
  } catch {
    return undefined;
  }
  let tries = 0;
  for await (const ent of dir) {
    if (!ent.isFile() || tries++ > 5) continue;
    try {
      const entry = loadPickle(await readFile(join(cacheDir, ent.name)));
      const hash = Array.isArray(entry) ? entry[0] : undefined;
      const raw = await readFile(join(collectionDir, ent.name));
      const found = KNOWN_CACHE_VERSIONS.find((v) => hashWith(v, raw) === hash);
      if (found) return found;
    } catch {
      // an entry we cannot read or whose item is gone tells nothing
    }
  }
  return undefined;
}

export class RadicaleItemCache {
  private version: string | undefined;

  /** Writes the entry for an item just stored (best effort: Radicale rebuilds a missing entry). */
  async write(
    collectionDir: string,
    href: string,
    raw: Uint8Array,
    e: CacheEntry,
    fs: FsOptions,
  ): Promise<void> {
    if (!e.component) return; // not a calendar object or vCard: Radicale would not serve it anyway
    try {
      this.version ??= (await detectVersion(collectionDir)) ?? KNOWN_CACHE_VERSIONS[0] ?? '';
      const dir = join(collectionDir, '.Radicale.cache', 'item');
      await mkdir(dir, { recursive: true });
      await atomicWrite(dir, href, encodeCacheEntry(hashWith(this.version, raw), e), { ...fs, fsync: false });
    } catch {
      // best effort: a missing entry only means Radicale parses the item itself
    }
  }
}
