/**
 * The share database in PostgreSQL (src/sharing/pg-store.ts) against a real private PostgreSQL: the same
 * answers as the csv and files stores (conflict, not-found, fields and dict key order kept), two stores on
 * one database (two Almanac instances) seeing each other's changes at once, a change made outside Almanac
 * seen too, and the one-time import of a folder's csv database at start-up.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { PgShareStore } from '../../src/sharing/pg-store.js';
import { createShareStore, importFolderShares } from '../../src/sharing/store.js';
import { SHARE_FIELDS, csvCells, csvLine, type ShareRecord } from '../../src/sharing/record.js';
import { PostgresBackend } from '../../src/storage/postgres/storage.js';
import { type CheckedStorage, checkedStorage } from '../../src/storage/checked-storage.js';
import { Db } from '../../src/storage/postgres/db.js';
import { hintCollectionPaths, inRequestScope } from '../../src/storage/request-scope.js';
import { testConfig } from '../helpers/config.js';
import {
  createTestDatabase,
  dropTestDatabase,
  postgresAvailable,
  requirePostgres,
} from '../helpers/postgres.js';

const quiet = pino({ level: 'silent' });

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
  // Keys out of jsonb's order: they must come back as written.
  Properties: { 'ICAL:calendar-color': '#ff0000', 'D:displayname': 'Bob\'s; "view"' },
  Actions: { config: { conversion_bday_age_max: 40, conversion_bday_categories: 'X' } },
  ...over,
});

describe('PostgreSQL share store', () => {
  let url = '';
  let storage: CheckedStorage<PostgresBackend>;
  const stores: PgShareStore[] = [];
  const open = async (): Promise<PgShareStore> => {
    const s = PgShareStore.connect(url, quiet);
    await s.open();
    stores.push(s);
    return s;
  };
  before(async () => {
    if (!postgresAvailable()) return;
    url = await createTestDatabase();
    // The table comes with the storage's migrations.
    storage = checkedStorage(
      new PostgresBackend({
        url,
        poolSize: 1,
        hook: '',
        hookCwd: process.cwd(),
        describe: () => ({ uid: '', component: 'VEVENT', start: 0, end: 0 }),
        log: quiet,
      }),
    );
    await storage.open();
  });
  after(async () => {
    if (url === '') return;
    for (const s of stores) await s.close();
    await storage.close();
    await dropTestDatabase(url);
  });

  it('creates, gets, updates and deletes as the file stores do', async (t: TestContext) => {
    if (!requirePostgres(t)) return;
    const s = await open();
    assert.equal(await s.create(share()), 'ok');
    assert.equal(await s.create(share({ Owner: 'carol' })), 'conflict');
    // The same PathOrToken as a token is another key.
    assert.equal(await s.create(share({ ShareType: 'token', PathOrToken: '/bob/x/' })), 'ok');
    assert.deepEqual(await s.get('map', '/bob/x/'), share());
    assert.deepEqual(Object.keys((await s.get('map', '/bob/x/'))?.Properties ?? {}), [
      'ICAL:calendar-color',
      'D:displayname',
    ]);
    assert.equal(
      await s.update('map', '/bob/x/', (r) => ({ ...r, EnabledByOwner: true, Properties: null })),
      'ok',
    );
    assert.deepEqual(await s.get('map', '/bob/x/'), share({ EnabledByOwner: true, Properties: null }));
    assert.equal(await s.update('map', '/bob/none/', (r) => r), 'not-found');
    assert.equal(await s.delete('token', '/bob/x/'), 'ok');
    assert.equal(await s.delete('token', '/bob/x/'), 'not-found');
    assert.deepEqual(
      (await s.list()).map((r) => `${r.ShareType} ${r.PathOrToken}`),
      ['map /bob/x/'],
    );
    assert.equal(await s.delete('map', '/bob/x/'), 'ok');
  });

  it("two stores on one database (two instances) see each other's changes at their next lookup", async (t: TestContext) => {
    if (!requirePostgres(t)) return;
    const a = await open();
    const b = await open();
    assert.deepEqual(await b.list(), []);
    await a.create(share({ PathOrToken: '/bob/two/' }));
    assert.equal((await b.get('map', '/bob/two/'))?.EnabledByUser, false);
    await b.update('map', '/bob/two/', (r) => ({ ...r, EnabledByUser: true }));
    assert.equal((await a.get('map', '/bob/two/'))?.EnabledByUser, true);
    // Outside Almanac (psql): seen as well, the trigger moves the version.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("UPDATE shares SET permissions = 'rw' WHERE path_or_token = '/bob/two/'");
    // A row the stores could not read does not get in.
    await assert.rejects(client.query("UPDATE shares SET properties = '[1]'"), /check constraint/);
    await client.end();
    assert.equal((await a.get('map', '/bob/two/'))?.Permissions, 'rw');
    assert.equal((await b.get('map', '/bob/two/'))?.Permissions, 'rw');
    await a.delete('map', '/bob/two/');
    assert.equal(await b.get('map', '/bob/two/'), undefined);
  });

  it("in a request the version comes with the storage's collection lookup: no query of its own, yet every change seen", async (t: TestContext) => {
    if (!requirePostgres(t)) return;
    const db = new Db({ url, poolSize: 2, log: quiet });
    const a = new PgShareStore(db, true);
    await a.open();
    stores.push(a);
    const other = await open();
    let sent = 0;
    const query = db.query.bind(db);
    db.query = (...args: Parameters<Db['query']>) => {
      sent++;
      return query(...args);
    };
    const tx = db.tx.bind(db);
    db.tx = ((...args: Parameters<Db['tx']>) => {
      sent++;
      return tx(...args);
    }) as Db['tx'];
    await storage.createCollection('carol', {}, { user: 'carol', path: '/carol/', request: 'MKCOL' });
    assert.deepEqual(await a.list(), []);
    sent = 0;
    await inRequestScope(async () => {
      hintCollectionPaths(['carol', 'carol/cal']);
      await storage.getCollection('carol');
      assert.deepEqual(await a.list(), []);
    });
    assert.equal(sent, 0, 'the share store sent no statement');
    // Another instance's change: seen by the next request.
    await other.create(share({ PathOrToken: '/bob/seen/' }));
    await inRequestScope(async () => {
      await storage.getCollection('carol');
      assert.deepEqual(
        (await a.list()).map((r) => r.PathOrToken),
        ['/bob/seen/'],
      );
      // This request's own write: seen at once.
      assert.equal(await a.create(share({ PathOrToken: '/bob/mine/' })), 'ok');
      assert.deepEqual(
        (await a.list()).map((r) => r.PathOrToken),
        ['/bob/seen/', '/bob/mine/'],
      );
    });
    await other.delete('map', '/bob/seen/');
    await other.delete('map', '/bob/mine/');
    assert.deepEqual(await a.list(), []);
  });

  it('with [sharing] type = csv the first start imports the folder csv once; database_path keeps the file', async (t: TestContext) => {
    if (!requirePostgres(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'almanac-sharing-pg-'));
    mkdirSync(join(dir, 'collection-db'));
    const csv = join(dir, 'collection-db', 'sharing.csv');
    const rows = [share({ PathOrToken: '/bob/imported/' }), share({ PathOrToken: '/bob/second/' })];
    writeFileSync(csv, csvLine(SHARE_FIELDS) + rows.map((r) => csvLine(csvCells(r))).join(''));
    const config = testConfig({
      storage: { type: 'postgresql', postgresql_url: url, filesystem_folder: dir },
      sharing: { type: 'csv', collection_by_map: true },
    });
    const store = createShareStore(config, quiet);
    assert.ok(store instanceof PgShareStore);
    stores.push(store);
    await store.open();
    await importFolderShares(store, config, quiet);
    assert.deepEqual(
      (await store.list()).map((r) => r.PathOrToken),
      ['/bob/imported/', '/bob/second/'],
    );
    assert.deepEqual(await store.get('map', '/bob/imported/'), rows[0]);
    // Deleted in the table: a second start does not bring it back from the file.
    await store.delete('map', '/bob/second/');
    await importFolderShares(store, config, quiet);
    assert.deepEqual(
      (await store.list()).map((r) => r.PathOrToken),
      ['/bob/imported/'],
    );
    const own = createShareStore(
      testConfig({
        storage: { type: 'postgresql', postgresql_url: url, filesystem_folder: dir },
        sharing: { type: 'csv', database_path: csv, collection_by_map: true },
      }),
      quiet,
    );
    assert.equal(own?.type, 'csv');
    await own?.open();
    assert.equal((await own?.list())?.length, 2);
    await store.replaceAll([]);
  });
});
