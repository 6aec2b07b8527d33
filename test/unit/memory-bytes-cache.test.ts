/** The in-memory export cache of the PostgreSQL storage: exact keys, the still-current check, bounds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBytesCache } from '../../src/dav/memory-bytes-cache.js';

async function* chunks(...parts: string[]): AsyncIterable<string> {
  for (const p of parts) {
    await Promise.resolve();
    yield p;
  }
}

async function drain(src: AsyncIterable<Buffer>): Promise<string> {
  const out: Buffer[] = [];
  for await (const b of src) out.push(b);
  return Buffer.concat(out).toString('utf8');
}

async function read(cache: MemoryBytesCache, scope: string, key: string): Promise<string | undefined> {
  const hit = await cache.get(scope, key);
  if (hit === undefined) return undefined;
  const out: Buffer[] = [];
  for await (const b of hit.stream) out.push(b as Buffer);
  const text = Buffer.concat(out).toString('utf8');
  assert.equal(hit.size, Buffer.byteLength(text));
  return text;
}

void test('bytes passed through are served again for the same key only', async () => {
  const cache = new MemoryBytesCache(1024);
  assert.equal(await drain(cache.put('cal', 'k1', chunks('BEGIN:', 'VCALENDAR'))), 'BEGIN:VCALENDAR');
  assert.equal(await read(cache, 'cal', 'k1'), 'BEGIN:VCALENDAR');
  assert.equal(await read(cache, 'cal', 'k2'), undefined);
  assert.equal(await read(cache, 'other', 'k1'), undefined);
  // A new export of the scope replaces the old one.
  await drain(cache.put('cal', 'k2', chunks('new')));
  assert.equal(await read(cache, 'cal', 'k1'), undefined);
  assert.equal(await read(cache, 'cal', 'k2'), 'new');
});

void test('nothing is kept when the collection changed during the export, or the export was cut', async () => {
  const cache = new MemoryBytesCache(1024);
  assert.equal(await drain(cache.put('cal', 'k', chunks('a', 'b'), () => Promise.resolve(false))), 'ab');
  assert.equal(await read(cache, 'cal', 'k'), undefined);
  await drain(cache.put('cal', 'k', chunks('a'), () => Promise.reject(new Error('db down'))));
  assert.equal(await read(cache, 'cal', 'k'), undefined);
  const it = cache.put('cal', 'k', chunks('a', 'b', 'c'))[Symbol.asyncIterator]();
  await it.next();
  await it.return?.();
  assert.equal(await read(cache, 'cal', 'k'), undefined);
});

void test('least recently used exports go first; one bigger than a quarter of the budget is not kept', async () => {
  const cache = new MemoryBytesCache(400);
  await drain(cache.put('a', 'k', chunks('x'.repeat(100))));
  await drain(cache.put('b', 'k', chunks('y'.repeat(100))));
  await drain(cache.put('c', 'k', chunks('z'.repeat(100))));
  assert.ok(await read(cache, 'a', 'k'));
  await drain(cache.put('d', 'k', chunks('w'.repeat(100))));
  await drain(cache.put('e', 'k', chunks('v'.repeat(100))));
  assert.equal(await read(cache, 'b', 'k'), undefined, 'least recently used');
  assert.ok(await read(cache, 'a', 'k'));
  assert.equal(await drain(cache.put('big', 'k', chunks('q'.repeat(101)))), 'q'.repeat(101));
  assert.equal(await read(cache, 'big', 'k'), undefined);
});
