/**
 * The share part of `almanac storage copy` (src/sharing/copy.ts) on its edges: a folder with both
 * formats, a source without a share database, an empty table into a folder without one, and a copy into
 * the table standing for the one import a start would do.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { copyShares } from '../../src/sharing/copy.js';
import { PgShareStore } from '../../src/sharing/pg-store.js';
import { importFolderShares } from '../../src/sharing/store.js';
import { SHARE_FIELDS, csvCells, csvLine, type ShareRecord } from '../../src/sharing/record.js';
import { PostgresBackend } from '../../src/storage/postgres/storage.js';
import { type CheckedStorage, checkedStorage } from '../../src/storage/checked-storage.js';
import { testConfig } from '../helpers/config.js';
import {
  createTestDatabase,
  dropTestDatabase,
  postgresAvailable,
  requirePostgres,
} from '../helpers/postgres.js';

const quiet = pino({ level: 'silent' });
const share = (path: string): ShareRecord => ({
  ShareType: 'map',
  PathOrToken: path,
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
  TimestampUpdated: 1767225600,
  Properties: {},
  Actions: {},
});

function folderWithCsv(...records: ShareRecord[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'almanac-share-copy-'));
  mkdirSync(join(dir, 'collection-db'));
  writeFileSync(
    join(dir, 'collection-db', 'sharing.csv'),
    csvLine(SHARE_FIELDS) + records.map((r) => csvLine(csvCells(r))).join(''),
  );
  return dir;
}

describe('storage copy of the shares', () => {
  let url = '';
  let storage: CheckedStorage<PostgresBackend>;
  before(async () => {
    if (!postgresAvailable()) return;
    url = await createTestDatabase();
    storage = checkedStorage(
      new PostgresBackend({
        url,
        poolSize: 2,
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
    await storage.close();
    await dropTestDatabase(url);
  });
  const table = (): { kind: 'table'; db: PostgresBackend['db'] } => ({
    kind: 'table',
    db: storage.backend.db,
  });

  it('a folder with both sharing.csv and files/ needs --sharing to say which', async (t: TestContext) => {
    if (!requirePostgres(t)) return;
    const dir = folderWithCsv(share('/bob/a/'));
    mkdirSync(join(dir, 'collection-db', 'files'));
    await assert.rejects(copyShares({ kind: 'folder', folder: dir }, table()), /--sharing csv\|files/);
    const r = await copyShares({ kind: 'folder', folder: dir }, table(), 'csv');
    assert.equal(r.shares, 1);
  });

  it('a source without a share database leaves the target as it is; an empty table makes no csv', async (t: TestContext) => {
    if (!requirePostgres(t)) return;
    const empty = mkdtempSync(join(tmpdir(), 'almanac-share-copy-'));
    assert.deepEqual(await copyShares({ kind: 'folder', folder: empty }, table()), {});
    assert.deepEqual(
      (await new PgShareStore(storage.backend.db).list()).map((r) => r.PathOrToken),
      ['/bob/a/'],
    );
    await new PgShareStore(storage.backend.db).replaceAll([]);
    const r = await copyShares(table(), { kind: 'folder', folder: empty });
    assert.equal(r.shares, 0);
    assert.equal(r.to, undefined);
    assert.equal(existsSync(join(empty, 'collection-db')), false);
  });

  it('after a copy into the table, a start with [sharing] type = csv imports nothing from the folder', async (t: TestContext) => {
    if (!requirePostgres(t)) return;
    const dir = folderWithCsv(share('/bob/from-copy/'));
    await copyShares({ kind: 'folder', folder: dir }, table());
    const store = new PgShareStore(storage.backend.db);
    await store.delete('map', '/bob/from-copy/');
    const config = testConfig({
      storage: { type: 'postgresql', postgresql_url: url, filesystem_folder: dir },
      sharing: { type: 'csv', collection_by_map: true },
    });
    await importFolderShares(store, config, quiet);
    assert.deepEqual(await store.list(), []);
  });
});
