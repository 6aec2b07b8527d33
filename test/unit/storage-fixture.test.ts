/**
 * Reads a folder written by real Radicale 3.1.8 and checks that every item ETag equals what Radicale
 * answered and that its sync tokens are accepted (CTag and tokens are Almanac's own: see
 * docs/compatibility.md), and that the recorded sync delta is found from Radicale's token state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FilesystemBackend } from '../../src/storage/filesystem/storage.js';
import { type CheckedStorage } from '../../src/storage/checked-storage.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import { loadPickle, asStringMap, asStringPair, dumpPickle } from '../../src/storage/pickle.js';
import type { ItemDescription } from '../../src/storage/types.js';
import { FIXTURE, copyFixture } from '../helpers/radicale.js';

interface Expected {
  collections: Record<string, { ctag: string; items: Record<string, string>; sync_token: string }>;
  sync: Record<string, { token: string; changed_hrefs_after: string[]; token_after_changes?: string }>;
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

function describe(text: string): ItemDescription {
  const uid = /^UID:(.*)\r?$/m.exec(text)?.[1] ?? '';
  const component = /^BEGIN:(VEVENT|VTODO|VJOURNAL|VCARD)\r?$/m.exec(text)?.[1] ?? '';
  if (!text.startsWith('BEGIN:')) throw new Error('not an item');
  return { uid, component, start: 0, end: 0 };
}

function open(folder: string): CheckedStorage<FilesystemBackend> {
  return filesystemStorage({ folder, describe });
}

const pathOf = (url: string): string => url.replace(/^\/|\/$/g, '');
const hrefOf = (url: string): string => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1));

void test('every item ETag equals Radicale 3.1.8; its current sync tokens are accepted', async () => {
  const folder = copyFixture();
  const storage = open(folder);
  await storage.open();
  try {
    for (const [url, col] of Object.entries(expected.collections)) {
      const path = pathOf(url);
      const items = await storage.listItems(path);
      const want = Object.fromEntries(Object.entries(col.items).map(([u, e]) => [hrefOf(u), e]));
      assert.deepEqual(Object.fromEntries(items.map((m) => [m.href, m.etag])), want, url);
      const ctag = await storage.getEtag(path);
      assert.match(ctag, /^"[0-9a-f]{64}"$/);
      assert.equal(await storage.getEtag(path), ctag, `ctag of ${url} is stable`);
      // Almanac's tokens are positions in its own change log; Radicale's token for this state is
      // accepted and answered with no change.
      const own = await storage.getSyncToken(path);
      assert.match(own, /^http:\/\/radicale\.org\/ns\/sync\/almanac-[0-9a-f]{16}-\d+$/);
      const fromRadicale = await storage.sync(path, col.sync_token);
      assert.deepEqual([fromRadicale.changed, fromRadicale.deleted], [[], []], `sync of ${url}`);
      assert.equal(fromRadicale.token, own);
    }
  } finally {
    await storage.close();
    await rm(folder, { recursive: true, force: true });
  }
});

void test('the recorded sync delta of /alice/work/ is reproduced from Radicale’s token state', async () => {
  const folder = copyFixture();
  const storage = open(folder);
  await storage.open();
  try {
    const rec = expected.sync['/alice/work/'];
    assert.ok(rec);
    const res = await storage.sync('alice/work', rec.token);
    assert.equal(res.token, await storage.getSyncToken('alice/work'));
    const next = await storage.sync('alice/work', res.token);
    assert.deepEqual([next.token, next.changed, next.deleted], [res.token, [], []]);
    assert.deepEqual([...res.changed, ...res.deleted].sort(), rec.changed_hrefs_after.map(hrefOf).sort());
    assert.deepEqual(res.deleted, ['to-delete.ics']);
    const same = await storage.sync('alice/contacts', expected.sync['/alice/contacts/']?.token ?? '');
    assert.deepEqual([same.changed, same.deleted], [[], []]);
    await assert.rejects(storage.sync('alice/work', `http://radicale.org/ns/sync/${'0'.repeat(64)}`), {
      code: 'invalid-sync-token',
    });
  } finally {
    await storage.close();
    await rm(folder, { recursive: true, force: true });
  }
});

void test('the fixture’s pickles are read, and re-written byte for byte', () => {
  const root = join(FIXTURE, 'collection-root', 'alice', 'work', '.Radicale.cache');
  for (const name of readdirSync(join(root, 'history'))) {
    const bytes = readFileSync(join(root, 'history', name));
    const pair = asStringPair(loadPickle(bytes));
    assert.ok(pair, name);
    assert.deepEqual(dumpPickle(pair), bytes, name);
  }
  for (const name of readdirSync(join(root, 'sync-token'))) {
    const bytes = readFileSync(join(root, 'sync-token', name));
    const state = asStringMap(loadPickle(bytes));
    assert.ok(state && state.size > 0, name);
    assert.deepEqual(dumpPickle(state), bytes, name);
  }
});
