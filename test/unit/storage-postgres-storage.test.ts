/**
 * What only the PostgreSQL storage does, against a real private PostgreSQL: migrations, the unique
 * index on UIDs, its sync token format and change log (order, pruning), preconditions racing on two
 * connection pools, verify, the hook, the time-range index. What every backend does is the storage
 * contract (test/contract/storage-contract.ts, run on this backend by storage-contract-postgres.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pino } from 'pino';
import { DavError } from '../../src/dav/errors.js';
import { PostgresBackend } from '../../src/storage/postgres/storage.js';
import { type CheckedStorage, checkedStorage } from '../../src/storage/checked-storage.js';
import { inRequestScope, outsideRequestScope } from '../../src/storage/request-scope.js';
import {
  StorageError,
  type ChangeContext,
  type ItemDescription,
  type WriteCheck,
} from '../../src/storage/types.js';
import { createTestDatabase, postgresAvailable } from '../helpers/postgres.js';

const ctx: ChangeContext = { user: 'alice', path: '/alice/cal/', request: 'PUT' };
const ok: WriteCheck = () => undefined;

function describe(text: string): ItemDescription {
  const uid = /^UID:(.*?)\r?$/m.exec(text)?.[1] ?? '';
  if (!text.startsWith('BEGIN:')) throw new Error('not an item');
  return { uid, component: 'VEVENT', start: 100, end: 200 };
}

const event = (uid: string, summary = 'x'): string =>
  `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const item = (uid: string, summary = 'x'): { text: string; description: ItemDescription } => {
  const text = event(uid, summary);
  return { text, description: describe(text) };
};

/** If-Match as the DAV layer does it: 412 unless the existing ETag matches. */
const ifMatch =
  (etag: string): WriteCheck =>
  (existing) => {
    if (existing?.etag !== etag) throw new DavError(412, 'precondition failed');
  };
const noUidConflict: WriteCheck = (_e, _c, same) => {
  if (same !== undefined) throw new DavError(403, 'uid conflict');
};

let url = '';
const opened: CheckedStorage<PostgresBackend>[] = [];

async function open(maxSyncTokenAge?: number): Promise<CheckedStorage<PostgresBackend>> {
  const s = checkedStorage(
    new PostgresBackend({
      url,
      poolSize: 4,
      ...(maxSyncTokenAge === undefined ? {} : { maxSyncTokenAge }),
      hook: '',
      hookCwd: process.cwd(),
      describe,
      log: pino({ level: 'silent' }),
    }),
  );
  await s.open();
  opened.push(s);
  return s;
}

let s: CheckedStorage<PostgresBackend>;

before(async () => {
  if (!postgresAvailable()) return;
  url = await createTestDatabase();
  s = await open();
  await s.createCollection('alice', {}, ctx);
});

after(async () => {
  for (const st of opened) await st.close();
});

const skipIfMissing = (t: { skip: (m: string) => void }): boolean => {
  if (postgresAvailable()) return false;
  if (process.env.CI === 'true') throw new Error('PostgreSQL is missing: apt-get install postgresql');
  t.skip('PostgreSQL is missing: apt-get install postgresql');
  return true;
};

void test('migrations are recorded and running them again changes nothing', async (t) => {
  if (skipIfMissing(t)) return;
  const rows = await s.backend.db.query<{ version: number }>('SELECT version FROM schema_migrations');
  assert.deepEqual(
    rows.map((r) => r.version),
    [1, 2, 3, 4, 5],
  );
  const again = await open();
  assert.equal((await again.getCollection(''))?.path, '');
});

void test("without the caller's UID check the database itself refuses a second item with that UID", async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/uids', { tag: 'VCALENDAR' }, ctx);
  await s.createCollection('alice/uids2', { tag: 'VCALENDAR' }, ctx);
  await s.putItem('alice/uids', 'one.ics', item('same@x'), ok, ctx);
  await s.putItem('alice/uids2', 'other.ics', item('same@x'), ok, ctx);
  await assert.rejects(s.putItem('alice/uids', 'two.ics', item('same@x'), ok, ctx), { code: 'conflict' });
  await assert.rejects(
    s.copyItem({ path: 'alice/uids', href: 'one.ics' }, { path: 'alice/uids', href: 'c.ics' }, ok, ctx),
    { code: 'conflict' },
  );
  await assert.rejects(
    s.moveItem({ path: 'alice/uids2', href: 'other.ics' }, { path: 'alice/uids', href: 'm.ics' }, ok, ctx),
    { code: 'conflict' },
  );
  await assert.rejects(
    s.replaceCollection('alice/uids', { tag: 'VCALENDAR' }, [item('dup@x'), item('dup@x', 'again')], ctx),
    { code: 'conflict' },
  );
  assert.deepEqual(
    (await s.listItems('alice/uids')).map((m) => m.href),
    ['one.ics'],
  );
  assert.deepEqual(
    (await s.listItems('alice/uids2')).map((m) => m.href),
    ['other.ics'],
  );
});

void test("sync tokens have Radicale's form, grow with the log, and page in the log's order", async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/sync', { tag: 'VCALENDAR' }, ctx);
  const t0 = await s.getSyncToken('alice/sync');
  // Radicale's form (64 hex digits), so a folder can keep the state under that name after a copy.
  assert.match(t0, /^http:\/\/radicale\.org\/ns\/sync\/[0-9a-f]{64}$/);
  for (const n of ['1', '2', '3']) await s.putItem('alice/sync', `${n}.ics`, item(`${n}@s`), ok, ctx);
  const t1 = await s.getSyncToken('alice/sync');
  assert.ok(t1 > t0, 'tokens grow with the log');
  // Tokens issued before the padding (32 hex digits) are still accepted.
  assert.deepEqual(await s.sync('alice/sync', t1.slice(0, -32)), { token: t1, changed: [], deleted: [] });
  await s.deleteItem('alice/sync', '2.ics', ok, ctx);
  await s.putItem('alice/sync', '1.ics', item('1@s', 'v2'), ok, ctx);
  const t2 = await s.getSyncToken('alice/sync');
  assert.deepEqual(await s.sync('alice/sync', t1), { token: t2, changed: ['1.ics'], deleted: ['2.ics'] });
  assert.deepEqual(await s.sync('alice/sync', t0), {
    token: t2,
    changed: ['3.ics', '1.ics'],
    deleted: ['2.ics'],
  });
  // Paging: one change per page, each page's token continues where it stopped.
  const p1 = await s.sync('alice/sync', t0, 1);
  assert.equal(p1.truncated, true);
  assert.deepEqual(p1.changed, ['3.ics']);
  const p2 = await s.sync('alice/sync', p1.token, 1);
  assert.deepEqual([p2.deleted, p2.truncated], [['2.ics'], true]);
  const p3 = await s.sync('alice/sync', p2.token, 1);
  assert.deepEqual([p3.changed, p3.token, p3.truncated], [['1.ics'], t2, undefined]);
  // A position the log has not reached yet (the last hex digit of an unpadded token raised).
  const ahead = t2.slice(0, -32).replace(/.$/, 'f');
  // And a padding that is not zeros.
  for (const bad of [ahead, t2.replace(/.$/, 'f')]) {
    await assert.rejects(s.sync('alice/sync', bad), { code: 'invalid-sync-token' }, bad);
  }
});

void test('deletions older than max_sync_token_age are pruned and older tokens refused', async (t) => {
  if (skipIfMissing(t)) return;
  const forgetful = await open(0);
  await s.createCollection('alice/prune', { tag: 'VCALENDAR' }, ctx);
  await s.putItem('alice/prune', 'keep.ics', item('keep@p'), ok, ctx);
  const old = await s.getSyncToken('alice/prune');
  await s.putItem('alice/prune', 'gone.ics', item('gone@p'), ok, ctx);
  const mid = await s.getSyncToken('alice/prune');
  // The default age keeps the deletion: the old token still learns about it.
  await s.deleteItem('alice/prune', 'gone.ics', ok, ctx);
  assert.deepEqual((await s.sync('alice/prune', old)).deleted, ['gone.ics']);
  await forgetful.putItem('alice/prune', 'gone2.ics', item('gone2@p'), ok, ctx);
  await forgetful.deleteItem('alice/prune', 'gone2.ics', ok, ctx);
  for (const tok of [old, mid])
    await assert.rejects(s.sync('alice/prune', tok), { code: 'invalid-sync-token' });
  const now = await s.getSyncToken('alice/prune');
  assert.deepEqual(await s.sync('alice/prune', now), { token: now, changed: [], deleted: [] });
  assert.deepEqual((await s.sync('alice/prune', '')).changed, ['keep.ics']);
  const n = await s.backend.db.query<{ n: string }>(
    `SELECT count(*) AS n FROM changes WHERE collection_id = (SELECT id FROM collections WHERE path = 'alice/prune')`,
  );
  assert.equal(n[0]?.n, '1', 'only the live item is left in the log');
});

void test('two instances racing the same If-Match PUT: exactly one wins, the other gets 412', async (t) => {
  if (skipIfMissing(t)) return;
  const other = await open();
  await s.createCollection('alice/race', { tag: 'VCALENDAR' }, ctx);
  for (let round = 0; round < 10; round++) {
    const { meta } = await s.putItem('alice/race', 'r.ics', item('r@x', `base ${round}`), ok, ctx);
    const results = await Promise.allSettled([
      s.putItem('alice/race', 'r.ics', item('r@x', `A ${round}`), ifMatch(meta.etag), ctx),
      other.putItem('alice/race', 'r.ics', item('r@x', `B ${round}`), ifMatch(meta.etag), ctx),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1, `round ${round}`);
    assert.ok(
      lost[0]?.status === 'rejected' && lost[0].reason instanceof DavError && lost[0].reason.status === 412,
    );
    const final = await other.getItemMeta('alice/race', 'r.ics');
    assert.equal(final?.etag, won[0]?.status === 'fulfilled' ? won[0].value.meta.etag : '');
  }
  // Two instances creating the same UID under different hrefs: the database lets only one in.
  const creates = await Promise.allSettled([
    s.putItem('alice/race', 'u1.ics', item('dup@x'), noUidConflict, ctx),
    other.putItem('alice/race', 'u2.ics', item('dup@x'), noUidConflict, ctx),
  ]);
  assert.equal(creates.filter((r) => r.status === 'fulfilled').length, 1);
  const failed = creates.find((r) => r.status === 'rejected');
  assert.ok(
    failed?.status === 'rejected' &&
      (failed.reason instanceof DavError || failed.reason instanceof StorageError),
  );
});

void test('concurrent writers through two instances: the log has every change once, in commit order', async (t) => {
  if (skipIfMissing(t)) return;
  const other = await open();
  await s.createCollection('alice/busy', { tag: 'VCALENDAR' }, ctx);
  const start = await s.getSyncToken('alice/busy');
  const writes: Promise<unknown>[] = [];
  const tokens: string[] = [];
  for (let i = 0; i < 40; i++) {
    const st = i % 2 === 0 ? s : other;
    writes.push(st.putItem('alice/busy', `${i}.ics`, item(`${i}@busy`), ok, ctx));
    if (i % 5 === 0) writes.push(st.getSyncToken('alice/busy').then((tok) => void tokens.push(tok)));
  }
  await Promise.all(writes);
  const res = await other.sync('alice/busy', start);
  assert.equal(new Set(res.changed).size, 40);
  // Each token seen mid-way replays to exactly the items missing at that point.
  for (const tok of tokens) {
    const d = await s.sync('alice/busy', tok);
    const before = await s.sync('alice/busy', start, 0);
    assert.equal(before.truncated, true);
    assert.equal(d.token, res.token);
    assert.ok(d.changed.every((h) => res.changed.includes(h)));
  }
});

void test('verify reports items whose text no longer matches their index', async (t) => {
  if (skipIfMissing(t)) return;
  const problems: string[] = [];
  assert.equal(await s.verify((p) => problems.push(p)), true, problems.join('\n'));
  await s.createCollection('alice/broken', { tag: 'VCALENDAR' }, ctx);
  await s.putItem('alice/broken', 'x.ics', item('x@x'), ok, ctx);
  await s.backend.db.query(`UPDATE items SET text = 'garbage' WHERE href = 'x.ics'`);
  assert.equal(await s.verify((p) => problems.push(p)), false);
  assert.ok(problems.some((p) => p.includes('alice/broken/x.ics')));
  await s.deleteCollection('alice/broken', ctx);
});

void test('the hook runs after each change', async (t) => {
  if (skipIfMissing(t)) return;
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/almanac-hook-`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hooked = checkedStorage(
    new PostgresBackend({
      url,
      poolSize: 2,
      hook: 'echo %(user)s %(request)s %(path)s >> hook.log',
      hookCwd: dir,
      describe,
      log: pino({ level: 'silent' }),
    }),
  );
  opened.push(hooked);
  await hooked.open();
  await hooked.createCollection(
    'alice/hooked',
    {},
    { user: 'alice', path: '/alice/hooked/', request: 'MKCOL' },
  );
  assert.equal(readFileSync(`${dir}/hook.log`, 'utf8'), 'alice MKCOL /alice/hooked/\n');
});

void test('time-range candidates can come from the (collection_id, start_time, end_time) index', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/ranges', { tag: 'VCALENDAR' }, ctx);
  await s.putItem('alice/ranges', 'a.ics', item('a@r'), ok, ctx);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET enable_seqscan = off');
    const plan = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT href FROM items WHERE collection_id = 1 AND ((start_time <= 160 AND end_time >= 150) OR (start_time = 0 AND end_time = 0))`,
    );
    assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /items_time_range/);
  } finally {
    await client.end();
  }
});

void test("a listing cached by one instance follows another instance's changes, also past a pruned log", async (t) => {
  if (skipIfMissing(t)) return;
  const reader = await open();
  const forgetful = await open(0);
  const path = 'alice/cached';
  await s.createCollection(path, { tag: 'VCALENDAR' }, ctx);
  for (const n of ['a', 'b', 'c']) await s.putItem(path, `${n}.ics`, item(`${n}@c`, 'old'), ok, ctx);
  const hrefs = async (): Promise<string[]> => (await reader.listItems(path)).map((m) => m.href);
  const text = async (href: string): Promise<string | undefined> => {
    for await (const it of reader.getItems(path, [href])) return it.text;
    return undefined;
  };
  assert.deepEqual(await hrefs(), ['a.ics', 'b.ics', 'c.ics']);
  assert.match((await text('b.ics')) ?? '', /SUMMARY:old/);
  // Through another instance: one rewritten, one deleted, one added.
  await s.putItem(path, 'b.ics', item('b@c', 'new'), ok, ctx);
  await s.deleteItem(path, 'c.ics', ok, ctx);
  await s.putItem(path, 'd.ics', item('d@c'), ok, ctx);
  assert.deepEqual(await hrefs(), ['a.ics', 'b.ics', 'd.ics']);
  assert.equal((await reader.getItemMeta(path, 'b.ics'))?.etag, (await s.getItemMeta(path, 'b.ics'))?.etag);
  assert.match((await text('b.ics')) ?? '', /SUMMARY:new/);
  assert.equal(await text('c.ics'), undefined);
  assert.deepEqual(
    (await reader.getItemMetas(path, ['d.ics', 'none.ics', '..', 'a.ics'])).map((m) => m.href),
    ['d.ics', 'a.ics'],
  );
  // Deletions forgotten at once (max_sync_token_age 0): the reader's cached position is below the
  // log's floor, so it cannot learn them from the log and must read the listing again.
  await forgetful.deleteItem(path, 'a.ics', ok, ctx);
  await forgetful.putItem(path, 'e.ics', item('e@c'), ok, ctx);
  await forgetful.deleteItem(path, 'e.ics', ok, ctx);
  assert.deepEqual(await hrefs(), ['b.ics', 'd.ics']);
  const all: string[] = [];
  for await (const it of reader.getItems(path)) all.push(it.href);
  assert.deepEqual(all, ['b.ics', 'd.ics']);
});

void test('within one request a collection row is read once, and read again after a write', async (t) => {
  if (skipIfMissing(t)) return;
  const other = await open();
  await s.createCollection('alice/scoped', { tag: 'VCALENDAR', 'D:displayname': 'one' }, ctx);
  const name = async (st: CheckedStorage<PostgresBackend>): Promise<string | undefined> =>
    (await st.getCollection('alice/scoped'))?.props['D:displayname'];
  await inRequestScope(async () => {
    assert.equal(await name(s), 'one');
    // Another instance's change (its own connection, outside this process's request).
    await other.backend.db.query(
      `UPDATE collections SET props = '{"tag": "VCALENDAR", "D:displayname": "two"}', seq = seq + 1 WHERE path = 'alice/scoped'`,
    );
    // The same request sees one state of the row…
    assert.equal(await name(s), 'one');
    // …and reads afresh outside the request's scope (a GET compares the ETag after an export).
    assert.notEqual(
      await s.getEtag('alice/scoped'),
      await outsideRequestScope(() => other.getEtag('alice/scoped')),
    );
    assert.equal(
      await outsideRequestScope(() => s.getEtag('alice/scoped')),
      await outsideRequestScope(() => other.getEtag('alice/scoped')),
    );
    // A write through this storage forgets what the request read.
    await s.putItem('alice/scoped', 'x.ics', item('x@scoped'), ok, ctx);
    assert.equal(await name(s), 'two');
  });
  // The next request reads afresh.
  await other.setProps('alice/scoped', { tag: 'VCALENDAR', 'D:displayname': 'three' }, ctx);
  assert.equal(await inRequestScope(() => name(s)), 'three');
  assert.equal(await name(s), 'three');
});

void test('in one request, the metas of the items a sync reports are never older than its token', async (t) => {
  if (skipIfMissing(t)) return;
  const writer = await open();
  const path = 'alice/synced';
  await s.createCollection(path, { tag: 'VCALENDAR' }, ctx);
  await s.putItem(path, 'a.ics', item('a@sy', 'one'), ok, ctx);
  const token = await s.getSyncToken(path);
  await s.putItem(path, 'b.ics', item('b@sy'), ok, ctx);
  await inRequestScope(async () => {
    // The request reads the collection (and its listing is cached at that position)…
    assert.equal((await s.listItems(path)).length, 2);
    // …then another instance changes the item before the sync is read.
    const { meta } = await outsideRequestScope(() =>
      writer.putItem(path, 'a.ics', item('a@sy', 'two'), ok, ctx),
    );
    const r = await s.sync(path, token);
    assert.deepEqual([...r.changed].sort(), ['a.ics', 'b.ics']);
    assert.equal(r.token, await outsideRequestScope(() => writer.getSyncToken(path)));
    assert.equal((await s.getItemMetas(path, ['a.ics']))[0]?.etag, meta.etag);
    assert.equal((await s.getItemMeta(path, 'a.ics'))?.etag, meta.etag);
  });
});

void test("a large import refreshes the planner's statistics: it knows the collection's size", async (t) => {
  if (skipIfMissing(t)) return;
  const own = await createTestDatabase();
  const imported = checkedStorage(
    new PostgresBackend({
      url: own,
      poolSize: 2,
      hook: '',
      hookCwd: process.cwd(),
      describe,
      log: pino({ level: 'silent' }),
    }),
  );
  await imported.open();
  const client = new pg.Client({ connectionString: own });
  await client.connect();
  const lastAnalyze = async (): Promise<Date | null> =>
    (
      await client.query<{ last_analyze: Date | null }>(
        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'items'",
      )
    ).rows[0]?.last_analyze ?? null;
  try {
    await imported.createCollection('alice', {}, ctx);
    const items = (n: number, p: string): { text: string; description: ItemDescription }[] =>
      Array.from({ length: n }, (_, k) => item(`${p}-${k}`, 'a summary long enough to fill a page or two'));
    // A small import leaves the statistics to autovacuum…
    await imported.replaceCollection('alice/small', { tag: 'VCALENDAR' }, items(50, 's'), ctx);
    // …a large one does not wait for it (close() waits for the ANALYZE started in the background).
    await imported.replaceCollection('alice/big', { tag: 'VCALENDAR' }, items(3000, 'b'), ctx);
    await imported.close();
    let analyzed = await lastAnalyze();
    for (let k = 0; analyzed === null && k < 50; k++) {
      await new Promise((r) => setTimeout(r, 100));
      analyzed = await lastAnalyze();
    }
    assert.ok(analyzed !== null, 'items analyzed after the import');
    const [big] = (await client.query<{ id: string }>("SELECT id FROM collections WHERE path = 'alice/big'"))
      .rows;
    // The planner knows the collection's size (without statistics it guesses a few hundred rows and
    // reads a batch of 500 texts by scanning the whole collection instead of by primary key).
    const plan = await client.query<{ 'QUERY PLAN': string }>(
      'EXPLAIN SELECT href FROM items WHERE collection_id = $1',
      [big?.id],
    );
    const estimate = Number(/rows=(\d+)/.exec(plan.rows[0]?.['QUERY PLAN'] ?? '')?.[1]);
    assert.ok(estimate > 2500 && estimate < 3500, `estimated ${estimate} rows of 3000`);
  } finally {
    await client.end();
  }
});
