// Radicale's item cache entries as Almanac writes them: where (collection folder or collection-cache/),
// keyed how (content hash or size + mtime), with which CACHE_VERSION, and readable by Python's pickle
// with the check Radicale 3.8 makes (radicale/storage/multifilesystem/cache.py and get.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBackend, type FilesystemStorageOptions } from '../../src/storage/filesystem/storage.js';
import { type CheckedStorage } from '../../src/storage/checked-storage.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import {
  RADICALE_3_1_8,
  RADICALE_3_3_1,
  contentHash,
  encodeCacheEntry,
} from '../../src/storage/filesystem/radicale-item-cache.js';
import type { ChangeContext, ItemDescription } from '../../src/storage/types.js';

const ctx: ChangeContext = { user: 'alice', path: '/alice/cal/', request: 'PUT' };
const describe = (text: string): ItemDescription => ({
  uid: /^UID:(.*)\r?$/m.exec(text)?.[1] ?? '',
  component: 'VEVENT',
  start: 0,
  end: 0,
});
const ev = (uid: string): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nSUMMARY:é ${uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;

const folders: string[] = [];
process.on('exit', () => folders.forEach((f) => rmSync(f, { recursive: true, force: true })));

async function storageWithItem(
  extra: Partial<FilesystemStorageOptions>,
  before?: (folder: string) => void,
  during?: (s: CheckedStorage<FilesystemBackend>) => Promise<void>,
): Promise<{ folder: string; cal: string; token: string }> {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-ic-'));
  folders.push(folder);
  before?.(folder);
  const s = filesystemStorage({ folder, maxResourceSize: 10_000, describe, ...extra });
  await s.open();
  await s.createCollection('alice', {}, ctx);
  await s.createCollection('alice/cal', { tag: 'VCALENDAR' }, ctx);
  await s.putItem(
    'alice/cal',
    'a.ics',
    { text: ev('a'), description: describe(ev('a')) },
    () => undefined,
    ctx,
  );
  const { token } = await s.sync('alice/cal', '');
  await s.replaceCollection(
    'alice/whole',
    { tag: 'VCALENDAR' },
    [{ text: ev('w'), description: describe(ev('w')) }],
    ctx,
  );
  await during?.(s);
  await s.close();
  return { folder, cal: join(folder, 'collection-root', 'alice', 'cal'), token };
}

/**
 * Radicale 3.8's cache check in Python: the entry is used when its first field equals the key Radicale
 * computes for the file now. Prints the entry's fields when it would be used, "MISS" otherwise.
 */
function radicaleCheck(entry: string, file: string, version: string, mtime: boolean): string {
  const py = `
import hashlib, os, pickle, sys
entry, file, version, mtime = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4] == "1"
raw = open(file, "rb").read()
if mtime:
    st = os.stat(file)
    key = version.decode() + "size=" + str(st.st_size) + ";mtime=" + str(st.st_mtime_ns)
else:
    h = hashlib.sha256(); h.update(version); h.update(raw); key = h.hexdigest()
with open(entry, "rb") as f:
    hash_, *rest = pickle.load(f)
print(repr(rest) if hash_ == key else "MISS")
`;
  return execFileSync('/usr/bin/python3', ['-c', py, entry, file, version, mtime ? '1' : '0'], {
    encoding: 'utf8',
  }).trim();
}

test('hash mode, in the collection folders: entries Radicale 3.1.8 uses (also after a whole-collection PUT)', async () => {
  const { folder, cal } = await storageWithItem({});
  const entry = join(cal, '.Radicale.cache', 'item', 'a.ics');
  assert.match(
    radicaleCheck(entry, join(cal, 'a.ics'), RADICALE_3_1_8, false),
    /^\['a', '"[0-9a-f]{64}"', 'BEGIN:VCALENDAR/,
  );
  const whole = join(folder, 'collection-root', 'alice', 'whole');
  const wholeEntry = join(whole, '.Radicale.cache', 'item', 'w.ics');
  assert.notEqual(radicaleCheck(wholeEntry, join(whole, 'w.ics'), RADICALE_3_1_8, false), 'MISS');
  assert.equal(existsSync(join(folder, 'collection-cache')), false);
});

test('use_cache_subfolder_for_item and filesystem_cache_folder: entries under collection-cache/, Radicale 3.3.1+ key', async () => {
  const cacheFolder = mkdtempSync(join(tmpdir(), 'almanac-icc-'));
  folders.push(cacheFolder);
  const { folder, cal } = await storageWithItem({ cacheSubfolders: ['item'], cacheFolder });
  assert.equal(existsSync(join(cal, '.Radicale.cache', 'item')), false);
  const entry = join(cacheFolder, 'collection-cache', 'alice', 'cal', '.Radicale.cache', 'item', 'a.ics');
  assert.notEqual(radicaleCheck(entry, join(cal, 'a.ics'), RADICALE_3_3_1, false), 'MISS');
  const whole = join(cacheFolder, 'collection-cache', 'alice', 'whole', '.Radicale.cache', 'item', 'w.ics');
  assert.notEqual(
    radicaleCheck(whole, join(folder, 'collection-root', 'alice', 'whole', 'w.ics'), RADICALE_3_3_1, false),
    'MISS',
  );
  // Without filesystem_cache_folder, collection-cache/ is in the storage folder.
  const own = await storageWithItem({ cacheSubfolders: ['item'] });
  assert.ok(
    existsSync(join(own.folder, 'collection-cache', 'alice', 'cal', '.Radicale.cache', 'item', 'a.ics')),
  );
});

test('use_mtime_and_size_for_item_cache: the key is CACHE_VERSION + size and st_mtime_ns of the file', async () => {
  const { cal } = await storageWithItem({ itemCacheMtimeAndSize: true });
  const entry = join(cal, '.Radicale.cache', 'item', 'a.ics');
  assert.notEqual(radicaleCheck(entry, join(cal, 'a.ics'), RADICALE_3_3_1, true), 'MISS');
  // The same entry is a miss for the content-hash check: the key form matters.
  assert.equal(radicaleCheck(entry, join(cal, 'a.ics'), RADICALE_3_3_1, false), 'MISS');
});

test('the CACHE_VERSION is learnt from an entry Radicale wrote in another collection of the folder', async () => {
  const version = 'radicale=3.3.1;vobject=0.9.8;';
  const { cal } = await storageWithItem({}, (folder) => {
    const other = join(folder, 'collection-root', 'bob', 'old');
    mkdirSync(join(other, '.Radicale.cache', 'item'), { recursive: true });
    writeFileSync(join(other, '.Radicale.props'), '{"tag": "VCALENDAR"}');
    writeFileSync(join(other, 'x.ics'), ev('x'));
    const e = { uid: 'x', etag: '"x"', text: ev('x'), component: 'VEVENT' };
    writeFileSync(
      join(other, '.Radicale.cache', 'item', 'x.ics'),
      encodeCacheEntry(contentHash(version, Buffer.from(ev('x'))), e),
    );
  });
  const entry = join(cal, '.Radicale.cache', 'item', 'a.ics');
  assert.notEqual(radicaleCheck(entry, join(cal, 'a.ics'), version, false), 'MISS');
  assert.equal(radicaleCheck(entry, join(cal, 'a.ics'), RADICALE_3_1_8, false), 'MISS');
});

test('use_cache_subfolder_for_history and _for_synctoken: history and token states under collection-cache/', async () => {
  // Almanac's own tokens are positions in its change log and keep no state; a token state in Radicale's
  // form is written when a Radicale token is carried over (storage copy).
  const radicaleToken = `http://radicale.org/ns/sync/${'7'.repeat(64)}`;
  const { folder, cal } = await storageWithItem(
    { cacheSubfolders: ['history', 'sync-token'] },
    undefined,
    async (s) => assert.equal(await s.backend.aliasSyncToken('alice/cal', radicaleToken), true),
  );
  const mirror = join(folder, 'collection-cache', 'alice', 'cal', '.Radicale.cache');
  assert.ok(existsSync(join(mirror, 'history', 'a.ics')));
  assert.ok(existsSync(join(mirror, 'sync-token', '7'.repeat(64))));
  assert.equal(existsSync(join(cal, '.Radicale.cache', 'history')), false);
  assert.equal(existsSync(join(cal, '.Radicale.cache', 'sync-token')), false);
  // The item cache stays in the collection folder unless it is asked for too.
  assert.ok(existsSync(join(cal, '.Radicale.cache', 'item', 'a.ics')));
});
