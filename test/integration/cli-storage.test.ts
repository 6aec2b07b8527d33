/**
 * `almanac storage …` as an administrator meets it: found from `almanac --help`, `--help` on each
 * subcommand, and a copy that tells in plain words about what it could not carry.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURE, copyFixture } from '../helpers/radicale.js';
import { startAlmanac } from '../helpers/almanac.js';
import { createTestDatabase, dropTestDatabase, requirePostgres } from '../helpers/postgres.js';
import { TestPushService } from '../helpers/push-service.js';
import { D, DavClient, mkcalendar, propXml, put, vevent } from './helpers/dav-client.js';
import { P, PUSH_CONFIG, readMessage, registerAt, registerBody } from './helpers/webdav-push.js';
import { SHARE_FIELDS } from '../../src/sharing/record.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'almanac-cli-storage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function almanac(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

void describe('almanac storage', () => {
  void it('almanac --help names the storage and user commands', () => {
    const h = almanac(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /almanac storage migrate\|copy/);
    assert.match(h.stdout, /storage copy --from A --to B/);
    assert.match(h.stdout, /almanac user add\|passwd\|remove\|list/);
  });

  void it('each subcommand takes --help', () => {
    for (const sub of ['copy', 'migrate']) {
      const r = almanac(['storage', sub, '--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /almanac storage copy --from <folder\|postgresql:\/\/…> --to/);
      assert.equal(r.stderr, '');
    }
  });

  void it('copy says in words which item it could not read, and fails', () => {
    const from = copyFixture();
    writeFileSync(join(from, 'collection-root/alice/work/broken.ics'), 'BEGIN:VCALENDAR\r\ngarbage\r\n');
    const to = join(dir, 'copy');
    const r = almanac(['storage', 'copy', '--from', from, '--to', to]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /"level"|\{"/, 'no JSON log records');
    assert.match(
      r.stderr,
      /^almanac storage: warning: skipping broken item: .*\/alice\/work\/broken\.ics: invalid iCalendar data/m,
    );
    assert.match(r.stdout, /1 item\(s\) of the source could not be read and were not copied/);
    assert.ok(existsSync(join(to, 'collection-root/alice/work/review.ics')), 'the rest is copied');
  });

  void it('--verify-storage says which folder it checked, with how many collections and items', () => {
    const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
      collections: Record<string, { items: Record<string, string> }>;
    };
    const leaves = Object.keys(expected.collections);
    const principals = new Set(leaves.map((p) => p.split('/')[1])).size;
    const items = Object.values(expected.collections).reduce((n, c) => n + Object.keys(c.items).length, 0);
    const folder = copyFixture();
    const r = almanac(['--config', '', '--storage-filesystem-folder', folder, '--verify-storage']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(
      r.stdout,
      `Checked the folder ${folder}: ${leaves.length + principals} collections, ${items} items: no problems found\n`,
    );
    writeFileSync(join(folder, 'collection-root/alice/work/broken.ics'), 'BEGIN:VCALENDAR\r\ngarbage\r\n');
    const bad = almanac(['--config', '', '--storage-filesystem-folder', folder, '--verify-storage']);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /broken\.ics: unparsable item/);
    assert.match(
      bad.stdout,
      new RegExp(
        `Checked the folder ${folder.replace(/[/.]/g, '\\$&')}: \\d+ collections, ${items} items: 1 problem\\(s\\)\n$`,
      ),
    );
    assert.doesNotMatch(bad.stderr, /skipping broken item/, 'said once, by the check');
  });

  void it('copy carries WebDAV-Push registrations and keys, folder → PostgreSQL → folder', async (t) => {
    if (!requirePostgres(t)) return;
    const push = await TestPushService.start();
    const url = await createTestDatabase();
    const from = copyFixture();
    const back = join(dir, 'push-back');
    const sub = push.subscribe();
    const transports = async (c: DavClient): Promise<string> => {
      const r = await c.request('PROPFIND', '/alice/pushcal/', {
        user: 'alice',
        headers: { Depth: '0' },
        body: `<?xml version="1.0"?><propfind xmlns="DAV:"><prop>${propXml(P('transports'))}${propXml(P('topic'))}</prop></propfind>`,
      });
      return r.text;
    };
    try {
      let server = await startAlmanac({ folder: from, config: { push: PUSH_CONFIG } });
      let before: string;
      try {
        const c = new DavClient(server.url);
        assert.equal((await mkcalendar(c, '/alice/pushcal/')).status, 201);
        assert.equal((await registerAt(c, '/alice/pushcal/', registerBody(sub))).status, 201);
        before = await transports(c);
      } finally {
        await server.stop();
      }
      const there = almanac(['storage', 'copy', '--from', from, '--to', url]);
      assert.equal(there.status, 0, there.stdout + there.stderr);
      assert.match(there.stdout, /^WebDAV-Push: 1 registration\(s\) and the keys carried$/m);
      const home = almanac(['storage', 'copy', '--from', url, '--to', back]);
      assert.equal(home.status, 0, home.stdout + home.stderr);
      assert.match(home.stdout, /^WebDAV-Push: 1 registration\(s\) and the keys carried$/m);

      // The registration made before the two copies is pushed, signed with the same key, same topic.
      server = await startAlmanac({ folder: back, config: { push: PUSH_CONFIG } });
      try {
        const c = new DavClient(server.url);
        assert.equal(await transports(c), before, 'the same VAPID key and topic');
        assert.equal((await put(c, '/alice/pushcal/a.ics', vevent('a'))).status, 201);
        const [got] = await push.waitFor(sub, 1);
        assert.ok(before.includes(got?.vapid.key ?? '?'), 'signed with the key the client registered with');
        assert.ok(before.includes(`>${readMessage(got?.message ?? '').topic}<`));
      } finally {
        await server.stop();
      }
    } finally {
      await push.stop();
      await dropTestDatabase(url);
    }
  });

  void it('copy carries the shares, csv folder → PostgreSQL table → csv folder, and files folders too', async (t) => {
    if (!requirePostgres(t)) return;
    const url = await createTestDatabase();
    const from = copyFixture();
    const back = copyFixture();
    rmSync(join(back, 'collection-root'), { recursive: true });
    const row = (path: string, enabled: string): string =>
      [
        'map',
        path,
        '/alice/work/',
        'none',
        'alice',
        'bob',
        'r',
        enabled,
        enabled,
        'False',
        'False',
        '1767225600',
        '1767225600',
        "{'D:displayname': 'Work (from Alice)'}",
        '{}',
      ].join(';');
    const csv = [SHARE_FIELDS.join(';'), row('/bob/alice-work/', 'True'), row('/bob/later/', 'False')]
      .map((l) => `${l}\r\n`)
      .join('');
    mkdirSync(join(from, 'collection-db'));
    writeFileSync(join(from, 'collection-db', 'sharing.csv'), csv);
    const sharing = { type: 'csv', collection_by_map: 'True' };
    const bobSees = async (c: DavClient, path: string): Promise<number> =>
      (await c.request('GET', `${path}review.ics`, { user: 'bob' })).status;
    try {
      const there = almanac(['storage', 'copy', '--from', from, '--to', url]);
      assert.equal(there.status, 0, there.stdout + there.stderr);
      assert.match(
        there.stdout,
        /^sharing: 2 share\(s\) carried \(csv .*sharing\.csv → PostgreSQL table shares\)$/m,
      );

      // A server on the database serves them from the table (its own folder has no csv at all).
      let server = await startAlmanac({
        config: { storage: { type: 'postgresql', postgresql_url: url }, sharing },
      });
      try {
        const c = new DavClient(server.url);
        assert.equal(await bobSees(c, '/bob/alice-work/'), 200);
        assert.equal(await bobSees(c, '/bob/later/'), 404);
        const listed = await c.propfind('/bob/', [D('displayname')], '1', 'bob');
        assert.match(listed.text, /Work \(from Alice\)/);
        // Changed on PostgreSQL: the change goes back with the next copy.
        for (const user of ['alice', 'bob']) {
          const r = await c.request('POST', '/.sharing/v1/map/enable', {
            user,
            body: 'PathOrToken=%2Fbob%2Flater%2F',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          });
          assert.equal(r.status, 200, r.text);
        }
        assert.equal(await bobSees(c, '/bob/later/'), 200);
      } finally {
        await server.stop();
      }

      const home = almanac(['storage', 'copy', '--from', url, '--to', back]);
      assert.equal(home.status, 0, home.stdout + home.stderr);
      assert.match(
        home.stdout,
        /^sharing: 2 share\(s\) carried \(PostgreSQL table shares → csv .*sharing\.csv\)$/m,
      );
      const written = readFileSync(join(back, 'collection-db', 'sharing.csv'), 'utf8').split('\r\n');
      assert.equal(written[0], SHARE_FIELDS.join(';'));
      assert.equal(written[1], row('/bob/alice-work/', 'True'));
      assert.match(
        written[2] ?? '',
        /^map;\/bob\/later\/;\/alice\/work\/;none;alice;bob;r;True;True;False;False;/,
      );
      server = await startAlmanac({ folder: back, config: { sharing } });
      try {
        const c = new DavClient(server.url);
        assert.equal(await bobSees(c, '/bob/alice-work/'), 200);
        assert.equal(await bobSees(c, '/bob/later/'), 200);
      } finally {
        await server.stop();
      }

      // The files format: one pickle a share, both ways; the table is a mirror (the csv's shares go).
      const files = copyFixture();
      const backFiles = copyFixture();
      mkdirSync(join(files, 'collection-db', 'files', 'map'), { recursive: true });
      mkdirSync(join(backFiles, 'collection-db', 'files'), { recursive: true });
      server = await startAlmanac({
        folder: files,
        config: { sharing: { ...sharing, type: 'files', permit_create_map: 'True' } },
      });
      try {
        const c = new DavClient(server.url);
        const r = await c.request('POST', '/.sharing/v1/map/create', {
          user: 'alice',
          body: 'PathMapped=%2Falice%2Fholidays%2F&PathOrToken=%2Fbob%2Fholidays%2F&User=bob&Enabled=True',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        });
        assert.equal(r.status, 200, r.text);
      } finally {
        await server.stop();
      }
      const up = almanac(['storage', 'copy', '--from', files, '--to', url]);
      assert.equal(up.status, 0, up.stdout + up.stderr);
      assert.match(up.stdout, /^sharing: 1 share\(s\) carried \(files .* → PostgreSQL table shares\)$/m);
      const down = almanac(['storage', 'copy', '--from', url, '--to', backFiles]);
      assert.equal(down.status, 0, down.stdout + down.stderr);
      assert.deepEqual(readdirSync(join(backFiles, 'collection-db', 'files', 'map')), [
        '%2Fbob%2Fholidays%2F',
      ]);
      assert.deepEqual(
        readFileSync(join(backFiles, 'collection-db', 'files', 'map', '%2Fbob%2Fholidays%2F')),
        readFileSync(join(files, 'collection-db', 'files', 'map', '%2Fbob%2Fholidays%2F')),
      );
    } finally {
      await dropTestDatabase(url);
    }
  });
});
