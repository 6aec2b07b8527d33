/**
 * Derived bytes (whole-collection exports) kept in memory, for the PostgreSQL storage: instances on
 * one database share no folder, and a per-process folder would outlive a crashed process. Like the
 * file cache, an entry is served only for the exact key it was made for (the key holds the
 * collection's ETag, read from the database on every GET), and is stored only when the whole source
 * was passed through and `stillCurrent` confirms the key still describes it.
 */
import { Readable } from 'node:stream';
import { chunkBytes, isStillCurrent, type BytesCache, type CachedBytes } from './derived-cache.js';

export class MemoryBytesCache implements BytesCache {
  private readonly map = new Map<string, { key: string; bytes: Buffer }>();
  private total = 0;

  /** At most `maxBytes` in all; an entry bigger than a quarter of it is not kept. */
  constructor(private readonly maxBytes: number) {}

  get(scope: string, key: string): Promise<CachedBytes | undefined> {
    const e = this.map.get(scope);
    if (e === undefined || e.key !== key) return Promise.resolve(undefined);
    // Most recently used last.
    this.map.delete(scope);
    this.map.set(scope, e);
    return Promise.resolve({ stream: Readable.from([e.bytes]), size: e.bytes.length });
  }

  async *put(
    scope: string,
    key: string,
    source: AsyncIterable<string | Buffer>,
    stillCurrent?: () => Promise<boolean>,
  ): AsyncIterable<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of source) {
      const buf = chunkBytes(chunk);
      size += buf.length;
      if (size <= this.maxBytes / 4) chunks.push(buf);
      yield buf;
    }
    if (size > this.maxBytes / 4) return;
    if (!(await isStillCurrent(stillCurrent))) return;
    this.drop(scope);
    this.map.set(scope, { key, bytes: Buffer.concat(chunks, size) });
    this.total += size;
    for (const [k, v] of this.map) {
      if (this.total <= this.maxBytes) break;
      this.map.delete(k);
      this.total -= v.bytes.length;
    }
  }

  private drop(scope: string): void {
    const old = this.map.get(scope);
    if (old === undefined) return;
    this.map.delete(scope);
    this.total -= old.bytes.length;
  }

  settle(): Promise<void> {
    return Promise.resolve();
  }
}
