/**
 * The share database in Radicale's formats: a csv file Radicale wrote (the fixture, written by hand after
 * sharing/csv.py) is read unchanged and written back byte for byte; Python reads what we write the way
 * Radicale's csv backend does; "files" share pickles written by Python are read, ours load in Python.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { testConfig } from '../helpers/config.js';
import { CsvStore, FilesStore, createShareStore, defaultLocation } from '../../src/sharing/store.js';
import { parsePyLiteral, pyRepr, type ShareRecord } from '../../src/sharing/record.js';

const quiet = pino({ level: 'silent' });
const FIXTURE = new URL('../fixtures/sharing/sharing.csv', import.meta.url);
const TOKEN = '/.token/v1/G1b2nJKjk3kxafqtTYK8_QDbDXeS_YQUQHnvEEYHcNgo/';

function folder(): string {
  return mkdtempSync(join(tmpdir(), 'almanac-sharing-'));
}

function config(dir: string, type: 'csv' | 'files', path = ''): ReturnType<typeof testConfig> {
  return testConfig({
    storage: { filesystem_folder: dir, _filesystem_fsync: false },
    sharing: { type, database_path: path, collection_by_map: true },
  });
}

const share = (over: Partial<ShareRecord> = {}): ShareRecord => ({
  ShareType: 'map',
  PathOrToken: '/bob/x/',
  PathMapped: '/alice/cal/',
  Conversion: 'none',
  Owner: 'alice',
  User: 'bob',
  Permissions: 'r',
  EnabledByOwner: false,
  EnabledByUser: false,
  HiddenByOwner: true,
  HiddenByUser: true,
  TimestampCreated: 1767225600,
  TimestampUpdated: 1767225601,
  Properties: { 'D:displayname': 'Bob\'s; "view"' },
  Actions: { config: { conversion_bday_age_max: 40 } },
  ...over,
});

describe('csv share database', () => {
  it("is found at Radicale's default path, <filesystem_folder>/collection-db/sharing.csv", () => {
    const dir = folder();
    assert.equal(defaultLocation(config(dir, 'csv')), join(dir, 'collection-db', 'sharing.csv'));
    assert.equal(defaultLocation(config(dir, 'files')), join(dir, 'collection-db', 'files'));
    assert.equal(defaultLocation(config(dir, 'csv', join(dir, 'db.csv'))), join(dir, 'db.csv'));
    assert.equal(createShareStore(testConfig(), quiet), undefined);
  });

  it('reads a database Radicale wrote, every field with its type', async () => {
    const dir = folder();
    mkdirSync(join(dir, 'collection-db'));
    copyFileSync(FIXTURE, join(dir, 'collection-db', 'sharing.csv'));
    const store = createShareStore(config(dir, 'csv'), quiet);
    assert.ok(store);
    await store.open();
    const all = await store.list();
    assert.equal(all.length, 5);
    assert.deepEqual(all[0], {
      ShareType: 'map',
      PathOrToken: '/bob/alice-cal/',
      PathMapped: '/alice/cal/',
      Conversion: 'none',
      Owner: 'alice',
      User: 'bob',
      Permissions: 'r',
      EnabledByOwner: true,
      EnabledByUser: true,
      HiddenByOwner: false,
      HiddenByUser: false,
      TimestampCreated: 1767225600,
      TimestampUpdated: 1767229200,
      Properties: { 'D:displayname': 'Alice calendar', 'ICAL:calendar-color': '#ff0000' },
      Actions: {},
    });
    const token = await store.get('token', TOKEN);
    assert.equal(token?.Permissions, 'rp');
    assert.deepEqual(token?.Properties, {}); // an empty field reads as {} (as Radicale's reader)
    assert.equal(all[2]?.User, ':staff,dev');
    assert.deepEqual(
      [all[3]?.EnabledByOwner, all[3]?.EnabledByUser, all[3]?.HiddenByOwner],
      [true, true, true],
    );
    assert.deepEqual(all[4]?.Actions, {
      config: { conversion_bday_summary_template: 'Birthday; {fn}', conversion_bday_age_max: 50 },
    });
  });

  it('writes it back byte for byte after a create and a delete', async () => {
    const dir = folder();
    const path = join(dir, 'sharing.csv');
    copyFileSync(FIXTURE, path);
    const store = new CsvStore(path, config(dir, 'csv', path));
    await store.open();
    assert.equal(await store.create(share()), 'ok');
    assert.equal(await store.create(share()), 'conflict');
    assert.notDeepEqual(readFileSync(path), readFileSync(FIXTURE));
    assert.equal(await store.delete('map', '/bob/x/'), 'ok');
    assert.equal(await store.delete('map', '/bob/x/'), 'not-found');
    // Booleans read from `true`/`1`/`yes` are written back as Radicale writes them (True), and empty dict
    // fields, which Radicale reads as {}, as {} (Radicale does the same).
    const expected = readFileSync(FIXTURE, 'utf8')
      .replace(';true;1;yes;', ';True;True;True;')
      .replace('1767225600;;\r\n', '1767225600;{};{}\r\n');
    assert.equal(readFileSync(path, 'utf8'), expected);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('.')),
      [],
    );
  });

  it('a new database holds the header only; the folder is created', async () => {
    const dir = folder();
    const store = createShareStore(config(dir, 'csv'), quiet);
    await store?.open();
    assert.equal(
      readFileSync(join(dir, 'collection-db', 'sharing.csv'), 'utf8'),
      'ShareType;PathOrToken;PathMapped;Conversion;Owner;User;Permissions;EnabledByOwner;EnabledByUser;' +
        'HiddenByOwner;HiddenByUser;TimestampCreated;TimestampUpdated;Properties;Actions\r\n',
    );
  });

  it('refuses a wrong header, a short row and a duplicate row (as Radicale does at load)', async () => {
    const dir = folder();
    const path = join(dir, 'sharing.csv');
    const good = readFileSync(FIXTURE, 'utf8');
    const lines = good.split('\r\n');
    for (const [text, why] of [
      [good.replace('ShareType;', 'Kind;'), /header/],
      [`${good}map;/bob/y/\r\n`, /line 7: 2 fields/],
      [`${good}${lines[1] ?? ''}\r\n`, /line 7: duplicate row/],
      [
        good.replace(
          ';True;True;False;False;1767225600;1767229200',
          ';maybe;True;False;False;1767225600;1767229200',
        ),
        /line 2: EnabledByOwner "maybe"/,
      ],
    ] as const) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(path, text);
      await assert.rejects(new CsvStore(path, config(dir, 'csv', path)).open(), why);
    }
  });

  it('Python reads our file as Radicale does (csv module, `;`, the dict rewrite before json.loads)', async () => {
    const dir = folder();
    const path = join(dir, 'sharing.csv');
    const store = new CsvStore(path, config(dir, 'csv', path));
    await store.open();
    await store.create(share({ Properties: { 'D:displayname': 'Semi; colon' } }));
    await store.create(share({ PathOrToken: '/bob/y/', Properties: null, Actions: null }));
    // Radicale's csv.py read path: DictReader with delimiter ';', then its quote rewriting and json.loads.
    const py = `
import csv, json, sys
def dictfield(v):
    if v == "":
        return {}
    v = v.strip('"').replace('"', '\\\\"').replace("\\\\'", "'")
    for a, b in (("{'", '{"'), ("'}", '"}'), ("': '", '": "'), ("': {", '": {'), ("': ", '": '), ("', '", '", "'), (", '", ', "')):
        v = v.replace(a, b)
    return json.loads(v)
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f, delimiter=";"))
out = [{**r, "Properties": dictfield(r["Properties"]), "Actions": dictfield(r["Actions"])} for r in rows]
print(json.dumps(out))
`;
    const rows = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', py, path], { encoding: 'utf8' }),
    ) as Record<string, unknown>[];
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0], {
      ShareType: 'map',
      PathOrToken: '/bob/x/',
      PathMapped: '/alice/cal/',
      Conversion: 'none',
      Owner: 'alice',
      User: 'bob',
      Permissions: 'r',
      EnabledByOwner: 'False',
      EnabledByUser: 'False',
      HiddenByOwner: 'True',
      HiddenByUser: 'True',
      TimestampCreated: '1767225600',
      TimestampUpdated: '1767225601',
      Properties: { 'D:displayname': 'Semi; colon' },
      Actions: { config: { conversion_bday_age_max: 40 } },
    });
    assert.deepEqual([rows[1]?.Properties, rows[1]?.Actions], [{}, {}]);
  });
});

describe('files share database', () => {
  const pyWrite = `
import os, pickle, sys
from urllib.parse import quote
folder = sys.argv[1]
row = {"ShareType": "map", "PathOrToken": "/bob/alice-cal/", "PathMapped": "/alice/cal/", "Owner": "alice",
       "User": "bob", "Permissions": "rw", "EnabledByOwner": True, "EnabledByUser": False, "HiddenByOwner": False,
       "HiddenByUser": True, "TimestampCreated": 1767225600, "TimestampUpdated": 4102444800,
       "Properties": {"D:displayname": "x"}, "Conversion": "none", "Actions": None}
os.makedirs(os.path.join(folder, "map"), exist_ok=True)
with open(os.path.join(folder, "map", quote(row["PathOrToken"], safe="")), "wb") as f:
    pickle.dump(("1", row), f)
with open(os.path.join(folder, "map", quote("/bob/v2/", safe="")), "wb") as f:
    pickle.dump(("2", dict(row, PathOrToken="/bob/v2/")), f)
`;

  it('reads the pickles Python writes; a file of another version is skipped, as Radicale skips it', async () => {
    const dir = folder();
    const db = join(dir, 'collection-db', 'files');
    execFileSync('/usr/bin/python3', ['-c', pyWrite, db]);
    const store = createShareStore(config(dir, 'files'), quiet);
    assert.ok(store instanceof FilesStore);
    await store.open();
    const all = await store.list();
    assert.equal(all.length, 1);
    assert.deepEqual(all[0], {
      ShareType: 'map',
      PathOrToken: '/bob/alice-cal/',
      PathMapped: '/alice/cal/',
      Conversion: 'none',
      Owner: 'alice',
      User: 'bob',
      Permissions: 'rw',
      EnabledByOwner: true,
      EnabledByUser: false,
      HiddenByOwner: false,
      HiddenByUser: true,
      TimestampCreated: 1767225600,
      TimestampUpdated: 4102444800,
      Properties: { 'D:displayname': 'x' },
      Actions: null,
    });
    assert.deepEqual(readdirSync(db).sort(), ['map', 'token']);
  });

  it('writes files Python unpickles to the same tuple, at the quoted name', async () => {
    const dir = folder();
    const store = createShareStore(config(dir, 'files'), quiet);
    assert.ok(store);
    await store.open();
    assert.equal(await store.create(share({ PathOrToken: '/bob/é x/' })), 'ok');
    assert.equal(await store.create(share({ PathOrToken: '/bob/é x/' })), 'conflict');
    assert.equal(
      await store.create(share({ ShareType: 'token', PathOrToken: TOKEN, Properties: null })),
      'ok',
    );
    assert.equal(
      await store.update('token', TOKEN, (r) => ({
        ...r,
        EnabledByOwner: true,
        TimestampUpdated: 4102444800,
      })),
      'ok',
    );
    const db = join(dir, 'collection-db', 'files');
    assert.deepEqual(readdirSync(join(db, 'map')), ['%2Fbob%2F%C3%A9%20x%2F']);
    const py = `
import json, os, pickle, sys
out = {}
for t in ("map", "token"):
    for n in os.listdir(os.path.join(sys.argv[1], t)):
        with open(os.path.join(sys.argv[1], t, n), "rb") as f:
            v = pickle.load(f)
        assert type(v) is tuple and v[0] == "1"
        assert [type(v[1][k]).__name__ for k in ("EnabledByOwner", "TimestampUpdated", "Properties")] in (["bool", "int", "dict"], ["bool", "int", "NoneType"])
        out[n] = v[1]
print(json.dumps(out))
`;
    const got = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, db], { encoding: 'utf8' })) as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(got['%2Fbob%2F%C3%A9%20x%2F'], { ...share({ PathOrToken: '/bob/é x/' }) });
    assert.deepEqual(got['%2F.token%2Fv1%2FG1b2nJKjk3kxafqtTYK8_QDbDXeS_YQUQHnvEEYHcNgo%2F'], {
      ...share({ ShareType: 'token', PathOrToken: TOKEN, Properties: null }),
      EnabledByOwner: true,
      TimestampUpdated: 4102444800,
    });
    assert.equal(await store.delete('token', TOKEN), 'ok');
    assert.equal(await store.get('token', TOKEN), undefined);
  });
});

describe('Python repr of dict fields', () => {
  it('writes str(dict) as Python does and reads it back, quotes and backslashes included', () => {
    const v = {
      a: "it's",
      b: 'say "hi"',
      c: 'both \' and "',
      d: 'back\\slash',
      n: 3,
      t: true,
      z: null,
      e: {},
    };
    const text = pyRepr(v);
    assert.equal(
      text,
      `{'a': "it's", 'b': 'say "hi"', 'c': 'both \\' and "', 'd': 'back\\\\slash', 'n': 3, 't': True, 'z': None, 'e': {}}`,
    );
    assert.deepEqual(parsePyLiteral(text), v);
    const py = execFileSync(
      '/usr/bin/python3',
      ['-c', `import json,sys; print(json.dumps(eval(sys.argv[1])))`, text],
      {
        encoding: 'utf8',
      },
    );
    assert.deepEqual(JSON.parse(py), v);
    assert.equal(parsePyLiteral("{'a': 'b'"), undefined);
    assert.equal(parsePyLiteral('{'.repeat(100)), undefined);
  });
});
