/**
 * The derived bytes cache: stores what passes through, serves it back only for the same key and only
 * when the file is whole, replaces per scope, and evicts beyond its bounds.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DerivedCache, type DerivedCacheOptions } from '../../src/dav/derived-cache.js';

const base = mkdtempSync(join(tmpdir(), 'almanac-derived-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const newFolder = (): string => join(base, `c${++n}`);
const cache = (folder: string, opts: Partial<DerivedCacheOptions> = {}): DerivedCache =>
  new DerivedCache({ folder, ...opts });

async function* chunks(...parts: (string | Buffer)[]): AsyncIterable<string | Buffer> {
  for (const p of parts) yield await Promise.resolve(p);
}

async function* failing(): AsyncIterable<string> {
  yield await Promise.resolve('first part');
  throw new Error('source failed');
}

async function collect(it: AsyncIterable<Buffer | string>): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(out).toString('utf8');
}

async function read(c: DerivedCache, scope: string, key: string): Promise<string | undefined> {
  const got = await c.get(scope, key);
  if (!got) return undefined;
  const text = await collect(got.stream as AsyncIterable<Buffer>);
  assert.equal(Buffer.byteLength(text), got.size);
  return text;
}

/** The cache files (entries, not temporary files) in a folder. */
const entries = (folder: string): string[] => readdirSync(folder).filter((f) => f.endsWith('.cache'));

/** A cache in a new folder holding one entry (/a/cal, k1) with `body`, and the path of its file. */
async function oneStoredFile(body: string): Promise<{ folder: string; c: DerivedCache; path: string }> {
  const folder = newFolder();
  const c = cache(folder);
  await collect(c.put('/a/cal', 'k1', chunks(body)));
  const [file] = entries(folder);
  assert.ok(file);
  return { folder, c, path: join(folder, file) };
}

describe('DerivedCache', () => {
  it('passes the chunks through and then serves the same bytes for the same key', async () => {
    const folder = newFolder();
    const c = cache(folder);
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
    const passed = await collect(c.put('/a/cal', 'k1', chunks('BEGIN:', Buffer.from('é€ body'), '')));
    assert.equal(passed, 'BEGIN:é€ body');
    assert.equal(await read(c, '/a/cal', 'k1'), 'BEGIN:é€ body');
    // Another process (a restart) serves it too, after checking it.
    assert.equal(await read(cache(folder), '/a/cal', 'k1'), 'BEGIN:é€ body');
  });

  it('misses for another key, another scope or another generation', async () => {
    const folder = newFolder();
    const c = cache(folder, { generation: '1.0.0' });
    await collect(c.put('/a/cal', 'k1', chunks('one')));
    assert.equal(await c.get('/a/cal', 'k2'), undefined);
    assert.equal(await c.get('/a/other', 'k1'), undefined);
    assert.equal(await cache(folder, { generation: '1.0.1' }).get('/a/cal', 'k1'), undefined);
    assert.equal(await read(cache(folder, { generation: '1.0.0' }), '/a/cal', 'k1'), 'one');
  });

  it('keeps one entry per scope: a new key replaces the old entry', async () => {
    const folder = newFolder();
    const c = cache(folder);
    await collect(c.put('/a/cal', 'k1', chunks('old')));
    await collect(c.put('/a/cal', 'k2', chunks('new')));
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
    assert.equal(await read(c, '/a/cal', 'k2'), 'new');
    assert.equal(entries(folder).length, 1);
  });

  it('stores nothing when the source fails or is not read to the end, and leaves no temporary file', async () => {
    const folder = newFolder();
    const c = cache(folder);
    await assert.rejects(collect(c.put('/a/cal', 'k1', failing())), /source failed/);
    for await (const chunk of c.put('/a/cal', 'k1', chunks('a', 'b', 'c'))) {
      assert.equal(chunk.toString(), 'a');
      break; // the client went away
    }
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
    assert.deepEqual(readdirSync(folder), []);
  });

  it('never serves a truncated file', async () => {
    const { folder, c, path } = await oneStoredFile('x'.repeat(5000));
    writeFileSync(path, readFileSync(path).subarray(0, 3000));
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
    assert.equal(await cache(folder).get('/a/cal', 'k1'), undefined);
    writeFileSync(path, readFileSync(path).subarray(0, 100)); // not even a whole header
    assert.equal(await cache(folder).get('/a/cal', 'k1'), undefined);
  });

  it('never serves a file whose body was altered, even with the same length', async () => {
    const { folder, c, path } = await oneStoredFile('y'.repeat(5000));
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] = 'z'.charCodeAt(0);
    writeFileSync(path, bytes);
    // A time other than the one the cache wrote, as any later change of the file has.
    utimesSync(path, new Date(), new Date(Date.now() - 60_000));
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
    assert.equal(await cache(folder).get('/a/cal', 'k1'), undefined);
  });

  it('survives concurrent writers of the same scope: one whole entry wins', async () => {
    const folder = newFolder();
    const c = cache(folder);
    const [a, b] = await Promise.all([
      collect(c.put('/a/cal', 'k1', chunks('a'.repeat(100_000), 'A'))),
      collect(c.put('/a/cal', 'k1', chunks('a'.repeat(100_000), 'A'))),
    ]);
    assert.equal(a, b);
    assert.equal(await read(cache(folder), '/a/cal', 'k1'), a);
    assert.deepEqual(readdirSync(folder).length, 1);
  });

  it('evicts the least recently used entries beyond maxEntries', async () => {
    const folder = newFolder();
    const c = cache(folder, { maxEntries: 2 });
    await collect(c.put('/s1', 'k', chunks('one')));
    await collect(c.put('/s2', 'k', chunks('two')));
    await c.settle();
    // Both were last used long ago (s1 before s2), then s1 is read: s2 is now the least recently used.
    const ago = (s: number): Date => new Date(Date.now() - s * 1000);
    const file = (scope: string): string =>
      join(folder, `${createHash('sha256').update(scope, 'utf8').digest('hex')}.cache`);
    utimesSync(file('/s1'), ago(120), ago(120));
    utimesSync(file('/s2'), ago(90), ago(90));
    assert.equal(await read(c, '/s1', 'k'), 'one');
    await collect(c.put('/s3', 'k', chunks('three')));
    await c.settle();
    assert.equal(entries(folder).length, 2);
    assert.equal(await read(c, '/s1', 'k'), 'one');
    assert.equal(await read(c, '/s3', 'k'), 'three');
    assert.equal(await c.get('/s2', 'k'), undefined);
  });

  it('bounds the total size, and does not store an entry bigger than the bound', async () => {
    const folder = newFolder();
    const c = cache(folder, { maxBytes: 3000 });
    await collect(c.put('/big', 'k', chunks('b'.repeat(4000))));
    assert.equal(await c.get('/big', 'k'), undefined);
    await collect(c.put('/s1', 'k', chunks('1'.repeat(1000))));
    await c.settle();
    const old = new Date(Date.now() - 60_000);
    for (const f of entries(folder)) utimesSync(join(folder, f), old, old);
    await collect(c.put('/s2', 'k', chunks('2'.repeat(1000))));
    await collect(c.put('/s3', 'k', chunks('3'.repeat(1000))));
    await c.settle();
    await c.prune();
    const total = entries(folder).reduce((sum, f) => sum + statSync(join(folder, f)).size, 0);
    assert.ok(total <= 3000, `total ${total}`);
    assert.equal(await c.get('/s1', 'k'), undefined);
    assert.equal(await read(c, '/s3', 'k'), '3'.repeat(1000));
  });

  it('drops entries not read for maxAgeMs and stale temporary files', async () => {
    const folder = newFolder();
    const c = cache(folder, { maxAgeMs: 3600_000 });
    await collect(c.put('/old', 'k', chunks('old')));
    await c.settle();
    const longAgo = new Date(Date.now() - 2 * 86400_000);
    for (const f of entries(folder)) utimesSync(join(folder, f), longAgo, longAgo);
    writeFileSync(join(folder, 'leftover.1.1.tmp'), 'partial');
    utimesSync(join(folder, 'leftover.1.1.tmp'), longAgo, longAgo);
    writeFileSync(join(folder, 'writing.1.2.tmp'), 'partial');
    await collect(c.put('/new', 'k', chunks('new')));
    await c.settle();
    await c.prune();
    assert.equal(await c.get('/old', 'k'), undefined);
    assert.equal(await read(c, '/new', 'k'), 'new');
    assert.ok(!readdirSync(folder).includes('leftover.1.1.tmp'));
    assert.ok(readdirSync(folder).includes('writing.1.2.tmp'));
  });

  it('still passes the bytes through when the folder cannot be written', async () => {
    const file = join(base, 'not-a-folder');
    writeFileSync(file, 'x');
    const c = cache(join(file, 'export'));
    assert.equal(await collect(c.put('/a/cal', 'k1', chunks('one', 'two'))), 'onetwo');
    assert.equal(await collect(c.put('/a/cal', 'k1', chunks('again'))), 'again');
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
  });

  it('does not store bytes whose key stopped describing them while they were made', async () => {
    const folder = newFolder();
    const c = cache(folder);
    const changed = (): Promise<boolean> => Promise.resolve(false);
    assert.equal(await collect(c.put('/a/cal', 'k1', chunks('state B'), changed)), 'state B');
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
    const broken = (): Promise<boolean> => Promise.reject(new Error('storage gone'));
    assert.equal(await collect(c.put('/a/cal', 'k1', chunks('state B'), broken)), 'state B');
    assert.equal(await c.get('/a/cal', 'k1'), undefined);
    const same = (): Promise<boolean> => Promise.resolve(true);
    await collect(c.put('/a/cal', 'k1', chunks('state A'), same));
    assert.equal(await read(c, '/a/cal', 'k1'), 'state A');
    assert.equal(readdirSync(folder).length, 1);
  });
});
