/**
 * copyStorage (behind `almanac storage copy`) between a folder and PostgreSQL: the target becomes a
 * mirror (extra collections and items removed, props and item dead properties copied), a second run
 * writes nothing, a target item changed since is written again, and the folder's sync token goes on
 * working against PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FilesystemBackend } from '../../src/storage/filesystem/storage.js';
import { type CheckedStorage, checkedStorage } from '../../src/storage/checked-storage.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import { copyStorage } from '../../src/storage/postgres/copy.js';
import { PostgresBackend } from '../../src/storage/postgres/storage.js';
import type { ChangeContext, ItemDescription } from '../../src/storage/types.js';
import type { PushSecrets } from '../../src/storage/push-store.js';
import { createTestDatabase, requirePostgres } from '../helpers/postgres.js';

const ctx: ChangeContext = { user: 'alice', path: '/', request: 'PUT' };
const log = pino({ level: 'silent' });
const describe = (text: string): ItemDescription => ({
  uid: /^UID:(.*?)\r?$/m.exec(text)?.[1] ?? '',
  component: 'VEVENT',
  start: 0,
  end: 0,
});
const event = (uid: string, summary = 'x'): string =>
  `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const item = (uid: string, summary = 'x'): { text: string; description: ItemDescription } => ({
  text: event(uid, summary),
  description: describe(event(uid, summary)),
});

void test('copyStorage mirrors a folder into PostgreSQL, resumably', async (t) => {
  if (!requirePostgres(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'almanac-copy-unit-'));
  const folder = filesystemStorage({
    folder: dir,
    crossProcessLock: false,
    maxResourceSize: 1e9,
    describe,
    log,
  });
  const db = checkedStorage(
    new PostgresBackend({
      url: await createTestDatabase(),
      poolSize: 2,
      hook: '',
      hookCwd: dir,
      describe,
      log,
    }),
  );
  await folder.open();
  await db.open();
  try {
    await folder.createCollection('alice', {}, ctx);
    await folder.createCollection('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'Work' }, ctx);
    await folder.createCollection('alice/sub', { tag: 'VSUBSCRIBED', 'CS:source': 'https://x/y.ics' }, ctx);
    await folder.putItem('alice/cal', 'a.ics', item('a'), () => undefined, ctx);
    await folder.putItem('alice/cal', 'b.ics', item('b'), () => undefined, ctx);
    await folder.setItemProps('alice/cal', 'a.ics', { '{urn:x}tag': 'red' });
    // The target already holds things the source does not have.
    await db.createCollection('bob', {}, ctx);
    await db.createCollection('alice', {}, ctx);
    await db.createCollection('alice/cal', { tag: 'VCALENDAR' }, ctx);
    await db.putItem('alice/cal', 'stale.ics', item('stale'), () => undefined, ctx);

    const first = await copyStorage(folder, db);
    assert.deepEqual(
      [first.itemsWritten, first.itemsDeleted, first.collectionsDeleted, first.problems],
      [2, 1, 1, 0],
    );
    assert.equal(await db.getCollection('bob'), undefined);
    assert.equal((await db.getCollection('alice/cal'))?.props['D:displayname'], 'Work');
    assert.equal((await db.getCollection('alice/sub'))?.props['CS:source'], 'https://x/y.ics');
    assert.deepEqual(
      (await db.listItems('alice/cal')).map((m) => [m.href, m.etag]),
      (await folder.listItems('alice/cal')).map((m) => [m.href, m.etag]),
    );
    assert.deepEqual(await db.getItemProps('alice/cal', 'a.ics'), { '{urn:x}tag': 'red' });

    // The folder's sync token now stands for the copied state: nothing new, then the next change.
    const token = await folder.getSyncToken('alice/cal');
    assert.deepEqual((await db.sync('alice/cal', token)).changed, []);
    await db.putItem('alice/cal', 'c.ics', item('c'), () => undefined, ctx);
    assert.deepEqual((await db.sync('alice/cal', token)).changed, ['c.ics']);
    await db.deleteItem('alice/cal', 'c.ics', () => undefined, ctx);

    const second = await copyStorage(folder, db);
    assert.deepEqual([second.itemsWritten, second.itemsSkipped, second.problems], [0, 2, 0]);
    assert.deepEqual((await db.sync('alice/cal', token)).changed, []);

    await db.putItem('alice/cal', 'b.ics', item('b', 'changed in the target'), () => undefined, ctx);
    const third = await copyStorage(folder, db);
    assert.deepEqual([third.itemsWritten, third.itemsSkipped], [1, 1]);
    assert.equal(
      (await db.getItemMeta('alice/cal', 'b.ics'))?.etag,
      (await folder.getItemMeta('alice/cal', 'b.ics'))?.etag,
    );
  } finally {
    await db.close();
    await folder.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('copyStorage carries no push registrations into a target with push keys of its own', async () => {
  const dirs = [
    mkdtempSync(join(tmpdir(), 'almanac-copy-push-')),
    mkdtempSync(join(tmpdir(), 'almanac-copy-push-')),
  ];
  const [from, to] = dirs.map((dir) =>
    filesystemStorage({ folder: dir, crossProcessLock: false, maxResourceSize: 1e9, describe, log }),
  ) as [CheckedStorage<FilesystemBackend>, CheckedStorage<FilesystemBackend>];
  const keys = (n: string): PushSecrets => ({
    vapidPublicKey: `pub${n}`,
    vapidPrivateKey: `priv${n}`,
    topicSecret: n,
  });
  try {
    await from.open();
    await to.open();
    await from.createCollection('alice', {}, ctx);
    await from.createCollection('alice/cal', { tag: 'VCALENDAR' }, ctx);
    await from.pushStore().secrets(() => keys('1'));
    const reg = {
      id: 'AAAAAAAAAAAAAAAAAAAAAA',
      user: 'alice',
      collection: 'alice/cal',
      endpoint: 'https://push.example.net/x',
      p256dh: 'k',
      auth: 'a',
      expires: Date.now() + 86_400_000,
    };
    await from.pushStore().register(reg, { perUser: 10, perCollection: 10 }, Date.now());
    await to.pushStore().secrets(() => keys('2'));
    const stats = await copyStorage(from, to);
    assert.equal(stats.pushKeysDiffer, true);
    assert.equal(stats.pushRegistrations, undefined);
    assert.deepEqual(await to.pushStore().all(Date.now()), []);
    assert.equal((await to.pushStore().currentSecrets())?.topicSecret, '2', 'the target keeps its keys');
    // A target without keys takes the source's and the registration.
    rmSync(join(dirs[1] ?? '', '.Almanac.push'), { recursive: true });
    const fresh = await copyStorage(from, to);
    assert.equal(fresh.pushRegistrations, 1);
    assert.deepEqual(await to.pushStore().all(Date.now()), [reg]);
  } finally {
    await from.close();
    await to.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
