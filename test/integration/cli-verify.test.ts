/**
 * The verify flags of Radicale 3.6/3.7 as a user runs them: `--verify-item FILE` checks one item file
 * as a PUT would take it; `--verify-sharing` checks Radicale's sharing database (csv or files), and
 * says plainly when there is nothing it can verify.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { SHARE_FIELDS } from '../../src/cli/verify-sharing.js';
import { migrate } from '../../src/storage/postgres/schema.js';
import { createTestDatabase, dropTestDatabase, requirePostgres } from '../helpers/postgres.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'almanac-verify-'));
  made.push(dir);
  const cal = join(dir, 'collection-root', 'alice', 'cal');
  mkdirSync(cal, { recursive: true });
  writeFileSync(join(cal, '.Radicale.props'), '{"tag": "VCALENDAR"}');
  mkdirSync(join(dir, 'collection-root', 'alice', 'book'));
  writeFileSync(join(dir, 'collection-root', 'alice', 'book', '.Radicale.props'), '{"tag": "VADDRESSBOOK"}');
  return dir;
}

function almanac(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--config', '', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const EVENT =
  'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:one@example.org\r\n' +
  'DTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
const VCARD = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1\r\nFN:Alice\r\nN:;Alice;;;\r\nEND:VCARD\r\n';

describe('--verify-item FILE', () => {
  it('reports a valid event with its component, UID and ETag (exit 0)', () => {
    const dir = tempFolder();
    const file = join(dir, 'collection-root', 'alice', 'cal', 'one.ics');
    writeFileSync(file, EVENT);
    const r = almanac(['--verify-item', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const etag = `"${createHash('sha256').update(EVENT).digest('hex')}"`;
    assert.match(r.stdout, new RegExp(`one\\.ics: valid VEVENT item, UID "one@example\\.org", ETag ${etag}`));
    assert.match(r.stdout, /Item verification successful/);
  });

  it('refuses a broken item, an item of the wrong kind for its folder, and a missing file (exit 1)', () => {
    const dir = tempFolder();
    const broken = join(dir, 'collection-root', 'alice', 'cal', 'broken.ics');
    writeFileSync(broken, 'BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n');
    const r = almanac(['--verify-item', broken]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /broken\.ics: invalid iCalendar object: /);
    assert.match(r.stdout, /Item verification failed/);
    const card = join(dir, 'collection-root', 'alice', 'cal', 'card.vcf');
    writeFileSync(card, VCARD);
    assert.equal(almanac(['--verify-item', card]).status, 1);
    const missing = almanac([`--verify-item=${join(dir, 'nope.ics')}`]);
    assert.equal(missing.status, 1);
    assert.match(missing.stdout, /cannot read the file/);
  });

  it('takes a file outside any collection by its content (a vCard)', () => {
    const dir = tempFolder();
    const file = join(dir, 'loose.vcf');
    writeFileSync(file, VCARD);
    const r = almanac(['--verify-item', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /valid VCARD item, UID "card-1"/);
  });
});

const header = SHARE_FIELDS.join(';');
const TOKEN = `/.token/v1/${'A'.repeat(44)}/`;
function csvRow(fields: Partial<Record<(typeof SHARE_FIELDS)[number], string>>): string {
  const base: Record<string, string> = {
    ShareType: 'map',
    PathOrToken: '/bob/alice-cal/',
    PathMapped: '/alice/cal/',
    Conversion: 'none',
    Owner: 'alice',
    User: 'bob',
    Permissions: 'r',
    EnabledByOwner: 'True',
    EnabledByUser: 'True',
    HiddenByOwner: 'False',
    HiddenByUser: 'False',
    TimestampCreated: '1767225600',
    TimestampUpdated: '1767225600',
    Properties: "{'D:displayname': 'Alice'}",
    Actions: '{}',
    ...fields,
  };
  return SHARE_FIELDS.map((f) => base[f] ?? '').join(';');
}

describe('--verify-sharing', () => {
  it('with [sharing] type = none says there is nothing to verify and exits 2', () => {
    const dir = tempFolder();
    const r = almanac(['--storage-filesystem-folder', dir, '--verify-sharing']);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /Sharing is off \(\[sharing\] type = none\): there is no sharing database, nothing was verified/,
    );
  });

  it('checks a csv database row by row; a sound one passes', () => {
    const dir = tempFolder();
    mkdirSync(join(dir, 'collection-db'));
    const db = join(dir, 'collection-db', 'sharing.csv');
    const args = ['--storage-filesystem-folder', dir, '--sharing-type', 'csv', '--verify-sharing'];
    const good = [
      header,
      csvRow({}),
      csvRow({ ShareType: 'token', PathOrToken: TOKEN, User: 'alice', Permissions: 'rp' }),
      csvRow({ PathOrToken: '/bob/bdays/', PathMapped: '/alice/book/', Conversion: 'bday' }),
    ];
    writeFileSync(db, good.join('\r\n') + '\r\n');
    const ok = almanac(args);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /sharing\.csv \(csv\): 3 share\(s\), no problems found/);
    // Every share is served now (bday ones too): no note that some are not.
    assert.doesNotMatch(ok.stdout, /not served/);
    const bad = [
      ...good,
      csvRow({ ShareType: 'token', PathOrToken: '/.token/v1/short/' }),
      csvRow({ PathOrToken: '/bob/gone/', PathMapped: '/alice/gone/' }),
      csvRow({ PathOrToken: '/bob/x/', Permissions: 'rPpz', EnabledByUser: 'maybe' }),
      csvRow({ PathOrToken: '/bob/y/', PathMapped: '/alice/cal/', Conversion: 'bday' }),
      csvRow({}),
    ];
    writeFileSync(db, bad.join('\r\n') + '\r\n');
    const r = almanac(args);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    for (const expected of [
      /line 5: token "\/\.token\/v1\/short\/" is not \/\.token\/v1\/<44 characters>\//,
      /line 6: PathMapped \/alice\/gone\/ is not a collection in the storage/,
      /line 7: Permissions "rPpz": unknown letter\(s\) z/,
      /line 7: Permissions "rPpz" holds both P and p/,
      /line 7: EnabledByUser "maybe" is not a boolean/,
      /line 8: Conversion bday needs an address book, \/alice\/cal\/ is VCALENDAR/,
      /line 9: duplicate row/,
      /line 9: PathOrToken \/bob\/alice-cal\/ is already the key of .*line 2/,
    ]) {
      assert.match(r.stdout, expected);
    }
  });

  it('checks a files database written by Python (pickled tuples, file names quoted)', () => {
    const dir = tempFolder();
    const folder = join(dir, 'collection-db', 'files');
    const py = `
import os, pickle, sys
from urllib.parse import quote
folder = sys.argv[1]
def share(**kw):
    row = {"ShareType": "map", "PathOrToken": "/bob/alice-cal/", "PathMapped": "/alice/cal/", "Owner": "alice",
           "User": "bob", "Permissions": "r", "EnabledByOwner": True, "EnabledByUser": True, "HiddenByOwner": False,
           "HiddenByUser": False, "TimestampCreated": 1767225600, "TimestampUpdated": 1767225600,
           "Properties": None, "Conversion": "none", "Actions": None}
    row.update(kw)
    os.makedirs(os.path.join(folder, row["ShareType"]), exist_ok=True)
    with open(os.path.join(folder, row["ShareType"], quote(row["PathOrToken"], safe="")), "wb") as f:
        pickle.dump(("1", row), f)
share()
share(ShareType="token", PathOrToken=${JSON.stringify(TOKEN)}, User="alice", Properties={"D:displayname": "x"})
if len(sys.argv) > 2:
    share(PathOrToken="/bob/other/", PathMapped="/carol/none/")
`;
    execFileSync('/usr/bin/python3', ['-c', py, folder]);
    const args = ['--storage-filesystem-folder', dir, '--sharing-type', 'files', '--verify-sharing'];
    const ok = almanac(args);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /files \(files\): 2 share\(s\), no problems found/);
    execFileSync('/usr/bin/python3', ['-c', py, folder, 'bad']);
    const r = almanac(args);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /%2Fbob%2Fother%2F: PathMapped \/carol\/none\/ is not a collection in the storage/,
    );
  });
});

describe('--verify-sharing on PostgreSQL storage', () => {
  it('checks the table shares with the same checks as a file', async (t) => {
    if (!requirePostgres(t)) return;
    const url = await createTestDatabase();
    try {
      const pool = new pg.Pool({ connectionString: url });
      await migrate(pool);
      await pool.query(
        `INSERT INTO shares (share_type, path_or_token, path_mapped, conversion, owner, username, permissions,
           enabled_by_owner, enabled_by_user, hidden_by_owner, hidden_by_user, timestamp_created,
           timestamp_updated, properties, actions)
         VALUES ('map', '/bob/gone/', '/alice/gone/', 'none', 'alice', 'bob', 'rz', true, true, false, false,
           1767225600, 1767225600, NULL, NULL)`,
      );
      await pool.end();
      const args = ['--storage-type', 'postgresql', '--storage-postgresql-url', url, '--sharing-type', 'csv'];
      const r = almanac([...args, '--verify-sharing']);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /share map \/bob\/gone\/: PathMapped \/alice\/gone\/ is not a collection in the storage/,
      );
      assert.match(r.stdout, /share map \/bob\/gone\/: Permissions "rz": unknown letter\(s\) z/);
      assert.match(r.stdout, /PostgreSQL table shares \(postgresql\): 1 share\(s\), 2 problem\(s\)/);
    } finally {
      await dropTestDatabase(url);
    }
  });
});

describe('--verify-storage and --verify-item with [encoding] stock', () => {
  it('a Latin-1 folder verifies clean when stock says Latin-1, and is reported as broken otherwise', () => {
    const dir = tempFolder();
    const file = join(dir, 'collection-root', 'alice', 'cal', 'latin1.ics');
    writeFileSync(file, Buffer.from(EVENT.replace('SUMMARY:x', 'SUMMARY:Jürgen'), 'latin1'));
    const asLatin1 = almanac([
      '--storage-filesystem-folder',
      dir,
      '--encoding-stock',
      'iso-8859-1',
      '--verify-storage',
    ]);
    assert.equal(asLatin1.status, 0, asLatin1.stdout + asLatin1.stderr);
    const asUtf8 = almanac(['--storage-filesystem-folder', dir, '--verify-storage']);
    assert.equal(asUtf8.status, 1, asUtf8.stdout + asUtf8.stderr);
    assert.match(asUtf8.stdout, /latin1\.ics: unparsable item/);
    assert.equal(almanac(['--encoding-stock', 'latin-1', '--verify-item', file]).status, 0);
    const wrong = almanac(['--verify-item', file]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stdout, /not valid utf-8 \(\[encoding\] stock\)/);
  });
});
