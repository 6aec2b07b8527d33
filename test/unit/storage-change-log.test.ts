/**
 * Sync tokens of the filesystem storage are positions in Almanac's own change log
 * (`<collection>/.Almanac.sync/log`): changes made outside Almanac appear in the next incremental
 * sync, tokens survive a restart, and tokens that cannot be answered are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBackend, type FilesystemStorageOptions } from '../../src/storage/filesystem/storage.js';
import { type CheckedStorage } from '../../src/storage/checked-storage.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import type { ChangeContext, ItemDescription, NewItem, WriteCheck } from '../../src/storage/types.js';

const ctx: ChangeContext = { user: 'alice', path: '/alice/cal/', request: 'PUT' };
const ok: WriteCheck = () => undefined;

function describe(text: string): ItemDescription {
  const uid = /^UID:(.*)\r?$/m.exec(text)?.[1] ?? '';
  return { uid, component: 'VEVENT', start: 0, end: 0 };
}
const ev = (uid: string, summary = 'x'): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const item = (uid: string, summary = 'x'): Omit<NewItem, 'href'> => ({
  text: ev(uid, summary),
  description: describe(ev(uid, summary)),
});

async function openStorage(
  folder: string,
  extra: Partial<FilesystemStorageOptions> = {},
): Promise<CheckedStorage<FilesystemBackend>> {
  const s = filesystemStorage({ folder, maxResourceSize: 10_000, describe, ...extra });
  await s.open();
  return s;
}

/** A storage with the calendar alice/cal, and the folder of that calendar. */
async function withCalendar(
  fn: (s: CheckedStorage<FilesystemBackend>, folder: string, cal: string) => Promise<void>,
) {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-log-'));
  const s = await openStorage(folder);
  try {
    await s.createCollection('alice', {}, ctx);
    await s.createCollection('alice/cal', { tag: 'VCALENDAR' }, ctx);
    await fn(s, folder, join(folder, 'collection-root', 'alice', 'cal'));
  } finally {
    await s.close();
    await rm(folder, { recursive: true, force: true });
  }
}

/** Lets the inotify events of writes made just before reach the storage. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

void test('additions, deletions and hand edits made outside Almanac appear in the next incremental sync, also after a restart', async () => {
  await withCalendar(async (first, folder, cal) => {
    for (const n of ['a', 'b', 'c']) await first.putItem('alice/cal', `${n}.ics`, item(n), ok, ctx);
    const t1 = (await first.sync('alice/cal', '')).token;
    // While Almanac runs: edited, added and removed by hand.
    await writeFile(join(cal, 'c.ics'), ev('c', 'edited by hand'));
    await writeFile(join(cal, 'd.ics'), ev('d'));
    await unlink(join(cal, 'b.ics'));
    await settle();
    const r2 = await first.sync('alice/cal', t1);
    assert.deepEqual([sorted(r2.changed), r2.deleted], [['c.ics', 'd.ics'], ['b.ics']]);
    assert.equal(await first.getSyncToken('alice/cal'), r2.token);
    await first.close();

    // While it is stopped; the token it gave is still answered after the restart.
    await writeFile(join(cal, 'a.ics'), ev('a', 'edited while stopped'));
    await unlink(join(cal, 'd.ics'));
    await writeFile(join(cal, 'e.ics'), ev('e'));
    const second = await openStorage(folder);
    try {
      const r3 = await second.sync('alice/cal', r2.token);
      assert.deepEqual([sorted(r3.changed), r3.deleted], [['a.ics', 'e.ics'], ['d.ics']]);
      const r4 = await second.sync('alice/cal', r3.token);
      assert.deepEqual([r4.token, r4.changed, r4.deleted], [r3.token, [], []]);
      // Almanac's own writes after the restart too.
      await second.putItem('alice/cal', 'f.ics', item('f'), ok, ctx);
      await second.putItem('alice/cal', 'a.ics', item('a', 'again'), ok, ctx);
      await second.deleteItem('alice/cal', 'c.ics', ok, ctx);
      const r5 = await second.sync('alice/cal', r4.token);
      assert.deepEqual([sorted(r5.changed), r5.deleted], [['a.ics', 'f.ics'], ['c.ics']]);
      // An earlier token still gets every change since it.
      const r6 = await second.sync('alice/cal', t1);
      assert.deepEqual(
        [sorted(r6.changed), sorted(r6.deleted)],
        [
          ['a.ics', 'e.ics', 'f.ics'],
          ['b.ics', 'c.ics', 'd.ics'],
        ],
      );
      // No state is saved per token.
      const tokens = join(cal, '.Radicale.cache', 'sync-token');
      assert.deepEqual(existsSync(tokens) ? readdirSync(tokens) : [], []);
    } finally {
      await second.close();
    }
  });
});

void test('a limit pages first and incremental syncs; the pages add up to every change', async () => {
  await withCalendar(async (s) => {
    const all = ['a', 'b', 'c', 'd', 'e'].map((n) => `${n}.ics`);
    for (const href of all) await s.putItem('alice/cal', href, item(href), ok, ctx);
    const seen: string[] = [];
    let token = '';
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 5);
      const r = await s.sync('alice/cal', token, 2);
      assert.ok(r.changed.length + r.deleted.length <= 2);
      seen.push(...r.changed);
      token = r.token;
      if (r.truncated !== true) break;
    }
    assert.deepEqual(sorted(seen), all);
    assert.equal(token, await s.getSyncToken('alice/cal'));

    await s.putItem('alice/cal', 'a.ics', item('a.ics', '2'), ok, ctx);
    await s.putItem('alice/cal', 'b.ics', item('b.ics', '2'), ok, ctx);
    await s.deleteItem('alice/cal', 'c.ics', ok, ctx);
    const p1 = await s.sync('alice/cal', token, 2);
    assert.equal(p1.truncated, true);
    assert.deepEqual(sorted(p1.changed), ['a.ics', 'b.ics']);
    const p2 = await s.sync('alice/cal', p1.token, 2);
    assert.deepEqual([p2.changed, p2.deleted, p2.truncated], [[], ['c.ics'], undefined]);
    assert.equal(p2.token, await s.getSyncToken('alice/cal'));
  });
});

void test('tokens of another collection, of a copied folder, of a removed log or from the future are refused', async () => {
  await withCalendar(async (s, folder, cal) => {
    await s.createCollection('alice/other', { tag: 'VCALENDAR' }, ctx);
    await s.putItem('alice/cal', 'a.ics', item('a'), ok, ctx);
    const token = await s.getSyncToken('alice/cal');
    await assert.rejects(s.sync('alice/other', token), { code: 'invalid-sync-token' });
    const ahead = token.replace(/-(\d+)$/, (_m, n: string) => `-${Number(n) + 5}`);
    await assert.rejects(s.sync('alice/cal', ahead), { code: 'invalid-sync-token' });
    await assert.rejects(s.sync('alice/cal', `${token}x`), { code: 'invalid-sync-token' });
    // A copy of the folder made by hand, log included, is another collection.
    execFileSync('cp', ['-r', cal, join(folder, 'collection-root', 'alice', 'copy')]);
    await assert.rejects(s.sync('alice/copy', token), { code: 'invalid-sync-token' });
    assert.deepEqual((await s.sync('alice/copy', '')).changed, ['a.ics']);
    // A removed log: its tokens cannot be answered any more; a first sync works.
    await rm(join(cal, '.Almanac.sync'), { recursive: true });
    await assert.rejects(s.sync('alice/cal', token), { code: 'invalid-sync-token' });
    const fresh = await s.sync('alice/cal', '');
    assert.deepEqual(fresh.changed, ['a.ics']);
    assert.notEqual(fresh.token, token);
  });
});

void test('the log keeps the newest line per item: many changes of one item do not grow it', async () => {
  await withCalendar(async (s, _folder, cal) => {
    const first = await s.sync('alice/cal', '');
    for (let k = 0; k < 1100; k++) await s.putItem('alice/cal', 'a.ics', item('a', `v${k}`), ok, ctx);
    const lines = readFileSync(join(cal, '.Almanac.sync', 'log'), 'utf8')
      .trim()
      .split('\n');
    assert.ok(lines.length < 1100, `${lines.length} lines`);
    const r = await s.sync('alice/cal', first.token);
    assert.deepEqual(r.changed, ['a.ics']);
  });
});

void test('the CTag changes with every change, made here or by hand, and with the props; it survives a restart', async () => {
  await withCalendar(async (s, folder, cal) => {
    const empty = await s.getEtag('alice/cal');
    const seen = new Set([empty]);
    const changed = async (what: string): Promise<string> => {
      const ctag = await s.getEtag('alice/cal');
      assert.ok(!seen.has(ctag), `${what} changes the CTag`);
      seen.add(ctag);
      assert.equal(await s.getEtag('alice/cal'), ctag, `the CTag is stable after ${what}`);
      return ctag;
    };
    await s.putItem('alice/cal', 'a.ics', item('a'), ok, ctx);
    await changed('an addition');
    await s.putItem('alice/cal', 'a.ics', item('a', '2'), ok, ctx);
    await changed('a modification');
    await writeFile(join(cal, 'b.ics'), ev('b'));
    await settle();
    await changed('an addition by hand');
    await s.setProps('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'x' }, ctx);
    await changed('new props');
    await s.deleteItem('alice/cal', 'b.ics', ok, ctx);
    const last = await changed('a deletion');
    await s.close();
    const again = await openStorage(folder);
    try {
      assert.equal(await again.getEtag('alice/cal'), last);
    } finally {
      await again.close();
    }
  });
});
