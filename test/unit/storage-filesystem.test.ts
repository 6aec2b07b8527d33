/**
 * What only the Radicale-compatible filesystem storage does, on temporary folders: its folder format,
 * Radicale's caches and history, files written by hand, symlinks, the hook, a second process. What
 * every backend does is the storage contract (test/contract/storage-contract.ts, run on this backend
 * by storage-contract-filesystem.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FilesystemBackend, type FilesystemStorageOptions } from '../../src/storage/filesystem/storage.js';
import { type CheckedStorage } from '../../src/storage/checked-storage.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import { asStringPair, loadPickle } from '../../src/storage/pickle.js';
import type { ChangeContext, ItemDescription, NewItem, WriteCheck } from '../../src/storage/types.js';

const ctx: ChangeContext = { user: 'alice', path: '/alice/cal/', request: 'PUT' };
const ok: WriteCheck = () => undefined;

function describe(text: string): ItemDescription {
  if (!text.startsWith('BEGIN:')) throw new Error('not an item');
  const uid = /^UID:(.*)\r?$/m.exec(text)?.[1] ?? '';
  const component = /^BEGIN:(VEVENT|VTODO|VJOURNAL|VCARD)\r?$/m.exec(text)?.[1] ?? '';
  return { uid, component, start: 0, end: 0 };
}

const ev = (uid: string, summary = 'x'): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const item = (uid: string, summary = 'x'): Omit<NewItem, 'href'> => ({
  text: ev(uid, summary),
  description: describe(ev(uid, summary)),
});
const sha = (s: string): string => `"${createHash('sha256').update(s).digest('hex')}"`;

/** An opened storage on `folder` with the tests' options. */
async function openStorage(
  folder: string,
  extra: Partial<FilesystemStorageOptions> = {},
): Promise<CheckedStorage<FilesystemBackend>> {
  const s = filesystemStorage({ folder, maxResourceSize: 10_000, describe, ...extra });
  await s.open();
  return s;
}

async function withStorage(
  fn: (s: CheckedStorage<FilesystemBackend>, folder: string) => Promise<void>,
  extra: Partial<FilesystemStorageOptions> = {},
): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-fs-'));
  const s = await openStorage(folder, extra);
  try {
    await s.createCollection('alice', {}, ctx);
    await s.createCollection('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'Cal é' }, ctx);
    await fn(s, folder);
  } finally {
    await s.close();
    await rm(folder, { recursive: true, force: true });
  }
}

const colDir = (folder: string, path: string): string => join(folder, 'collection-root', path);

void test('open creates collection-root with folder_umask; props are written as Python json.dumps', async () => {
  await withStorage(
    async (s, folder) => {
      assert.equal((await s.getCollection('alice'))?.tag, '');
      assert.equal(statSync(join(folder, 'collection-root')).mode & 0o777, 0o700);
      assert.equal(statSync(colDir(folder, 'alice/cal')).mode & 0o777, 0o700);
      assert.equal(
        readFileSync(join(colDir(folder, 'alice/cal'), '.Radicale.props'), 'utf8'),
        '{"D:displayname": "Cal \\u00e9", "tag": "VCALENDAR"}',
      );
      assert.equal(existsSync(join(colDir(folder, 'alice'), '.Radicale.props')), false);
    },
    { umask: 0o077 },
  );
});

void test("putItem writes the file and an entry of Radicale's item cache; the check runs on this process's view and on the folder", async () => {
  await withStorage(async (s, folder) => {
    // What each write's check saw: it runs twice, on this process's view and under .Radicale.lock on
    // the folder (here both are the same).
    const seen: string[] = [];
    const check: WriteCheck = (existing, _c, sameUid) => {
      seen.push(`${existing?.etag ?? '-'} ${sameUid?.href ?? '-'}`);
    };
    const a = await s.putItem('alice/cal', 'a.ics', item('A'), check, ctx);
    assert.equal(a.created, true);
    assert.equal(a.meta.etag, sha(ev('A')));
    assert.equal(readFileSync(join(colDir(folder, 'alice/cal'), 'a.ics'), 'utf8'), ev('A'));
    // A stale Radicale item cache must disappear when the item is replaced.
    await mkdir(join(colDir(folder, 'alice/cal'), '.Radicale.cache', 'item'), { recursive: true });
    await writeFile(join(colDir(folder, 'alice/cal'), '.Radicale.cache', 'item', 'a.ics'), 'stale');
    const b = await s.putItem('alice/cal', 'a.ics', item('A', 'changed'), check, ctx);
    assert.equal(b.created, false);
    // ... and be replaced by an entry for the new bytes, so Radicale serves them with our ETag.
    const entry = loadPickle(
      readFileSync(join(colDir(folder, 'alice/cal'), '.Radicale.cache', 'item', 'a.ics')),
    );
    assert.ok(Array.isArray(entry));
    assert.equal(entry[2], b.meta.etag);
    assert.equal(entry[3], item('A', 'changed').text);
    await s.putItem('alice/cal', 'other.ics', item('A'), check, ctx);
    const twice = (x: string): string[] => [x, x];
    assert.deepEqual(seen, [...twice('- -'), ...twice(`${a.meta.etag} -`), ...twice('- a.ics')]);
    // A refused write leaves no file behind, not even its temp file.
    await assert.rejects(
      s.putItem(
        'alice/cal',
        'c.ics',
        item('C'),
        () => {
          throw new Error('refused');
        },
        ctx,
      ),
      /refused/,
    );
    assert.equal(existsSync(join(colDir(folder, 'alice/cal'), 'c.ics')), false);
    assert.deepEqual(
      readdirSync(colDir(folder, 'alice/cal')).filter((n) => n.startsWith('.Radicale.tmp')),
      [],
    );
  });
});

void test('listing ignores dot-files, ~ files, temp dirs, folders, oversize and broken items; sees hand edits', async () => {
  await withStorage(async (s, folder) => {
    const dir = colDir(folder, 'alice/cal');
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await writeFile(join(dir, '.hidden.ics'), ev('H'));
    await writeFile(join(dir, 'backup.ics~'), ev('B'));
    await mkdir(join(dir, '.Radicale.tmp-abc'));
    await writeFile(join(dir, 'big.ics'), ev('BIG', 'x'.repeat(20_000)));
    await writeFile(join(dir, 'broken.ics'), 'garbage');
    assert.deepEqual(
      (await s.listItems('alice/cal')).map((m) => m.href),
      ['a.ics'],
    );
    await writeFile(join(dir, 'a.ics'), ev('A', 'edited by hand'));
    const [meta] = await s.listItems('alice/cal');
    assert.equal(meta?.etag, sha(ev('A', 'edited by hand')));
    const items = [];
    for await (const it of s.getItems('alice/cal')) items.push(it);
    assert.deepEqual(
      items.map((i) => i.text),
      [ev('A', 'edited by hand')],
    );
  });
});

void test("deleteItem removes the file and records the deletion in Radicale's history", async () => {
  await withStorage(async (s, folder) => {
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await s.deleteItem('alice/cal', 'a.ics', ok, ctx);
    assert.equal(existsSync(join(colDir(folder, 'alice/cal'), 'a.ics')), false);
    const hist = asStringPair(
      loadPickle(readFileSync(join(colDir(folder, 'alice/cal'), '.Radicale.cache/history/a.ics'))),
    );
    assert.equal(hist?.[0], '');
  });
});

void test('an expired deletion refuses older tokens from the next write on, a PUT as well as a DELETE', async () => {
  await withStorage(
    async (s) => {
      await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
      const first = await s.sync('alice/cal', '');
      await s.deleteItem('alice/cal', 'a.ics', ok, ctx);
      await new Promise((r) => setTimeout(r, 1100));
      await s.putItem('alice/cal', 'b.ics', item('B'), ok, ctx);
      await s.getSyncToken('alice/cal');
      await assert.rejects(s.sync('alice/cal', first.token), { code: 'invalid-sync-token' });
    },
    { maxSyncTokenAge: 1 },
  );
});

void test('a refused whole-collection upload leaves no temp folder; a copied collection takes no cache with it', async () => {
  await withStorage(async (s, folder) => {
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    // A failure while preparing (unsafe href) leaves the collection as it was, and no temp folder.
    await assert.rejects(
      s.replaceCollection('alice/cal', { tag: 'VCALENDAR' }, [{ href: '.bad', ...item('Z') }], ctx),
      { code: 'invalid-name' },
    );
    assert.deepEqual(readdirSync(colDir(folder, 'alice')).sort(), ['cal']);
    assert.equal(readFileSync(join(colDir(folder, 'alice/cal'), 'a.ics'), 'utf8'), ev('A'));
    assert.ok(existsSync(join(colDir(folder, 'alice/cal'), '.Radicale.cache')));
    // The copy's caches are its own, made when it is used; over an existing one, none of that one's stay.
    await s.createCollection('alice/copy', { tag: 'VCALENDAR' }, ctx);
    await s.putItem('alice/copy', 'x.ics', item('X'), ok, ctx);
    assert.ok(existsSync(join(colDir(folder, 'alice/copy'), '.Radicale.cache')));
    assert.deepEqual(await s.copyCollection('alice/cal', 'alice/copy', true, ctx), { created: false });
    assert.equal(existsSync(join(colDir(folder, 'alice/copy'), '.Radicale.cache')), false);
    assert.deepEqual(readdirSync(colDir(folder, 'alice')).sort(), ['cal', 'copy']);
    assert.deepEqual(readdirSync(colDir(folder, 'alice/copy')).sort(), ['.Radicale.props', 'a.ics']);
    // Deleting the root removes its props file too.
    await s.setProps('', { 'D:displayname': 'root' }, ctx);
    assert.ok(existsSync(join(folder, 'collection-root', '.Radicale.props')));
    await s.deleteCollection('', ctx);
    assert.deepEqual(readdirSync(join(folder, 'collection-root')), []);
  });
});

void test('symlinked collection folders are followed', async () => {
  await withStorage(async (s, folder) => {
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await symlink(colDir(folder, 'alice/cal'), colDir(folder, 'alice/link'));
    assert.equal((await s.getCollection('alice/link'))?.tag, 'VCALENDAR');
    assert.deepEqual(
      (await s.listItems('alice/link')).map((m) => m.href),
      ['a.ics'],
    );
  });
});

void test('the hook runs after each change with shell-quoted placeholders, in the storage folder', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'almanac-hook-'));
  const out = join(outDir, 'log');
  try {
    await withStorage(
      async (s, folder) => {
        await s.putItem('alice/cal', 'a.ics', item('A'), ok, {
          user: '',
          path: "/alice/it's/",
          request: 'PUT',
        });
        const lines = readFileSync(out, 'utf8').trim().split('\n');
        const last = lines[lines.length - 1] ?? '';
        // %(path)s is a filesystem path, as in Radicale 3.8; an absent %(to_path)s is empty.
        assert.equal(last, `Anonymous ${folder}/collection-root/alice/it's/ PUT ${folder} |`);
      },
      { hook: `echo %(user)s %(path)s %(request)s $(pwd) %(to_path)s'|' >> ${out}` },
    );
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});

void test('a failing hook is only logged', async () => {
  await withStorage(
    async (s) => {
      const r = await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
      assert.equal(r.created, true);
    },
    { hook: 'exit 3' },
  );
});

void test('the hook sees the collection as its write left it: the next write there waits for it', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'almanac-hook-'));
  const out = join(outDir, 'log');
  try {
    await withStorage(
      async (s) => {
        await Promise.all([
          s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx),
          s.putItem('alice/cal', 'b.ics', item('B'), ok, ctx),
        ]);
        // The two PUTs' hooks (after the two MKCOLs' of the set-up): the first ran before b.ics was written.
        assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n').slice(-2), ['a.ics', 'a.ics b.ics']);
      },
      { hook: `sleep 0.3; echo $(ls collection-root/alice/cal) >> ${out}` },
    );
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});

void test('verify reports broken items, duplicate UIDs, bad props and collections inside calendars', async () => {
  await withStorage(async (s, folder) => {
    const problems: string[] = [];
    assert.equal(await s.verify((p) => problems.push(p)), true);
    assert.deepEqual(problems, []);
    const dir = colDir(folder, 'alice/cal');
    await writeFile(join(dir, 'a.ics'), ev('A'));
    await writeFile(join(dir, 'b.ics'), ev('A'));
    await writeFile(join(dir, 'c.ics'), 'junk');
    await mkdir(join(dir, 'sub'));
    await mkdir(colDir(folder, 'alice/bad'));
    await writeFile(join(colDir(folder, 'alice/bad'), '.Radicale.props'), '{"tag": 5');
    const found: string[] = [];
    assert.equal(await s.verify((p) => found.push(p)), false);
    const all = found.join('\n');
    assert.match(all, /UID "A" also used/);
    assert.match(all, /c\.ics: unparsable/);
    assert.match(all, /contains the collection sub/);
    assert.match(all, /alice\/bad: \.Radicale\.props: invalid JSON/);
  });
});

void test('CTag and sync token kept up to date in place equal what a fresh process computes from the folder', async () => {
  await withStorage(async (s, folder) => {
    const fresh = async (): Promise<{ etag: string; token: string }> => {
      const other = await openStorage(folder, { crossProcessLock: false });
      try {
        return { etag: await other.getEtag('alice/cal'), token: await other.getSyncToken('alice/cal') };
      } finally {
        await other.close();
      }
    };
    for (let i = 0; i < 40; i++) await s.putItem('alice/cal', `e${i}.ics`, item(`U${i}`), ok, ctx);
    let token = await s.getSyncToken('alice/cal');
    await s.getEtag('alice/cal');
    const steps: [string, () => Promise<void>, string[], string[]][] = [
      [
        'replace two items',
        async () => {
          await s.putItem('alice/cal', 'e3.ics', item('U3', 'changed'), ok, ctx);
          await s.putItem('alice/cal', 'e17.ics', item('U17', 'changed'), ok, ctx);
        },
        ['e17.ics', 'e3.ics'],
        [],
      ],
      [
        'edit one by hand',
        async () => {
          await writeFile(join(colDir(folder, 'alice/cal'), 'e5.ics'), ev('U5', 'by hand'));
          await new Promise((r) => setTimeout(r, 100));
        },
        ['e5.ics'],
        [],
      ],
      ['delete one', () => s.deleteItem('alice/cal', 'e9.ics', ok, ctx), [], ['e9.ics']],
      [
        'add one',
        () => s.putItem('alice/cal', 'new.ics', item('NEW'), ok, ctx).then(() => undefined),
        ['new.ics'],
        [],
      ],
      [
        'add one and delete it again',
        async () => {
          await s.putItem('alice/cal', 'brief.ics', item('BRIEF'), ok, ctx);
          await s.listItems('alice/cal');
          await s.deleteItem('alice/cal', 'brief.ics', ok, ctx);
        },
        [],
        ['brief.ics'],
      ],
      [
        'add two, list, replace one',
        async () => {
          await s.putItem('alice/cal', 'n1.ics', item('N1'), ok, ctx);
          await s.putItem('alice/cal', 'n2.ics', item('N2'), ok, ctx);
          assert.ok((await s.listItems('alice/cal')).some((m) => m.href === 'n2.ics'));
          await s.putItem('alice/cal', 'n1.ics', item('N1', 'v2'), ok, ctx);
        },
        ['n1.ics', 'n2.ics'],
        [],
      ],
      [
        'replace the new one',
        () => s.putItem('alice/cal', 'new.ics', item('NEW', 'v2'), ok, ctx).then(() => undefined),
        ['new.ics'],
        [],
      ],
    ];
    for (const [what, change, changed, deleted] of steps) {
      await change();
      const result = await s.sync('alice/cal', token);
      assert.deepEqual([...result.changed].sort(), changed, `${what}: changed`);
      assert.deepEqual([...result.deleted].sort(), deleted, `${what}: deleted`);
      const mine = { etag: await s.getEtag('alice/cal'), token: await s.getSyncToken('alice/cal') };
      assert.equal(mine.token, result.token, `${what}: token`);
      // Let the token state reach the disk before another process looks.
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(mine, await fresh(), `${what}: the same CTag and token from scratch`);
      token = result.token;
    }
  });
});

void test('a token issued before a restart goes on working: its state was saved for the next process (and Radicale)', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-fs-'));
  const open = (): Promise<CheckedStorage<FilesystemBackend>> => openStorage(folder);
  try {
    let s = await open();
    await s.createCollection('alice', {}, ctx);
    await s.createCollection('alice/cal', { tag: 'VCALENDAR' }, ctx);
    for (let i = 0; i < 5; i++) await s.putItem('alice/cal', `e${i}.ics`, item(`U${i}`), ok, ctx);
    const first = await s.sync('alice/cal', '');
    await s.putItem('alice/cal', 'e1.ics', item('U1', 'changed'), ok, ctx);
    const second = await s.sync('alice/cal', first.token);
    assert.deepEqual(second.changed, ['e1.ics']);
    await s.close();
    s = await open();
    try {
      await s.deleteItem('alice/cal', 'e2.ics', ok, ctx);
      const fromFirst = await s.sync('alice/cal', first.token);
      assert.deepEqual([...fromFirst.changed].sort(), ['e1.ics']);
      assert.deepEqual(fromFirst.deleted, ['e2.ics']);
      const fromSecond = await s.sync('alice/cal', second.token);
      assert.deepEqual(fromSecond.changed, []);
      assert.deepEqual(fromSecond.deleted, ['e2.ics']);
      assert.equal(fromSecond.token, fromFirst.token);
    } finally {
      await s.close();
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

void test('a UID held by two items written by hand still conflicts after one of them is removed', async () => {
  await withStorage(async (s, folder) => {
    const dir = colDir(folder, 'alice/cal');
    await s.putItem('alice/cal', 'other.ics', item('OTHER'), ok, ctx);
    await s.listItems('alice/cal');
    await writeFile(join(dir, 'a.ics'), ev('SHARED', 'a'));
    await writeFile(join(dir, 'b.ics'), ev('SHARED', 'b'));
    await new Promise((r) => setTimeout(r, 100));
    // The other holder each write's check saw last (under .Radicale.lock, on the folder).
    const holders: (string | undefined)[] = [];
    let writes = 0;
    const record: WriteCheck = (_existing, _collection, sameUid) => {
      holders[writes] = sameUid?.href;
    };
    const counted = async (p: Promise<unknown>): Promise<void> => {
      await p;
      writes++;
    };
    await counted(s.putItem('alice/cal', 'c.ics', item('SHARED'), record, ctx));
    await s.deleteItem('alice/cal', 'a.ics', ok, ctx);
    await counted(s.putItem('alice/cal', 'b.ics', item('SHARED', 'b2'), record, ctx));
    await counted(s.putItem('alice/cal', 'other.ics', item('OTHER', 'v2'), record, ctx));
    assert.ok(holders[0] === 'a.ics' || holders[0] === 'b.ics', `first: ${holders[0]}`);
    assert.equal(holders[1], 'c.ics', 'b.ics shares its UID with c.ics');
    assert.equal(holders[2], undefined, 'a UID held once has no other holder');
  });
});

void test('a whole-collection upload with fsync on stores every item (one syncfs for many, an fsync each for few)', async () => {
  await withStorage(
    async (s, folder) => {
      for (const n of [3, 300]) {
        const items = Array.from({ length: n }, (_, i) => item(`up-${n}-${i}`, `event ${i}`));
        await s.replaceCollection(`alice/up${n}`, { tag: 'VCALENDAR' }, items, ctx);
        const listed = await s.listItems(`alice/up${n}`);
        assert.equal(listed.length, n);
        const names = readdirSync(join(folder, 'collection-root', 'alice', `up${n}`)).filter(
          (f) => !f.startsWith('.'),
        );
        assert.equal(names.length, n);
        const texts = new Set<string>();
        for await (const it of s.getItems(`alice/up${n}`)) texts.add(it.text);
        assert.deepEqual(texts, new Set(items.map((i) => i.text)));
      }
    },
    { fsync: true },
  );
});

void test('after a whole-collection upload the first listing reads none of the new files again', async () => {
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (s: string): void => {
        lines.push(s);
      },
    },
  );
  await withStorage(
    async (s) => {
      const items = Array.from({ length: 120 }, (_, i) => item(`seed-${i}`, `event ${i}`));
      await s.replaceCollection('alice/seeded', { tag: 'VCALENDAR' }, items, ctx);
      lines.length = 0;
      const listed = await s.listItems('alice/seeded');
      assert.equal(listed.length, 120);
      assert.deepEqual(new Set(listed.map((m) => m.uid)), new Set(items.map((i) => i.description.uid)));
      const listing = lines.map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');
      assert.match(listing, /listing: 120 entries kept, 0 read/);
      // An item's ETag is still that of its bytes.
      for await (const it of s.getItems('alice/seeded', [listed[0]?.href ?? ''])) {
        assert.equal(it.etag, sha(it.text));
      }
    },
    { cacheLog: true, log },
  );
});
