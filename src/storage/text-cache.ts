/**
 * A bounded in-memory cache of item texts by file and ETag, so exports, multigets and queries over
 * a big collection do not read and hash every file each time. An entry is only used for the exact
 * ETag the (validated) listing reports, so it can never serve stale content.
 */
/** Heap bytes of one entry beside its text: the Map slot, the entry object and the key's header. */
const ENTRY_OVERHEAD = 96;

/** What an entry costs in memory (one byte per character: items are mostly ASCII). */
function entrySize(key: string, text: string): number {
  return text.length + key.length + ENTRY_OVERHEAD;
}

export class TextCache {
  private readonly map = new Map<string, { etag: string; text: string }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string, etag: string): string | undefined {
    const e = this.map.get(key);
    if (e === undefined || e.etag !== etag) return undefined;
    // Most recently used last.
    this.map.delete(key);
    this.map.set(key, e);
    return e.text;
  }

  set(key: string, etag: string, text: string): void {
    const size = entrySize(key, text);
    if (size > this.maxBytes / 16) return;
    this.delete(key);
    this.map.set(key, { etag, text });
    this.bytes += size;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= entrySize(k, v.text);
    }
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e === undefined) return;
    this.map.delete(key);
    this.bytes -= entrySize(key, e.text);
  }

  /** Bytes the entries take (texts, keys and bookkeeping). */
  get size(): number {
    return this.bytes;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}
