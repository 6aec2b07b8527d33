/**
 * The PostgreSQL storage against a real private PostgreSQL: every Storage method, the change log and
 * its sync tokens, migrations, and preconditions racing on two connection pools.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { DavError } from '../../src/dav/errors.js';
import { PostgresStorage } from '../../src/storage/postgres/storage.js';
import {
  StorageError,
  type ChangeContext,
  type Item,
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
const sha = (s: string): string => `"${createHash('sha256').update(s, 'utf8').digest('hex')}"`;

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
const opened: PostgresStorage[] = [];

async function open(maxSyncTokenAge?: number): Promise<PostgresStorage> {
  const s = new PostgresStorage({
    url,
    poolSize: 4,
    ...(maxSyncTokenAge === undefined ? {} : { maxSyncTokenAge }),
    hook: '',
    hookCwd: process.cwd(),
    describe,
    log: pino({ level: 'silent' }),
  });
  await s.open();
  opened.push(s);
  return s;
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

let s: PostgresStorage;

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
  const rows = await s.db.query<{ version: number }>('SELECT version FROM schema_migrations');
  assert.deepEqual(
    rows.map((r) => r.version),
    [1, 2, 3, 4],
  );
  const again = await open();
  assert.equal((await again.getCollection(''))?.path, '');
});

void test('collections: create, get, list, props, tag, exists, not-found, conflict', async (t) => {
  if (skipIfMissing(t)) return;
  const info = await s.createCollection('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'Cal' }, ctx);
  assert.equal(info.tag, 'VCALENDAR');
  assert.equal((await s.getCollection('alice/cal'))?.props['D:displayname'], 'Cal');
  assert.equal(await s.getCollection('alice/none'), undefined);
  assert.deepEqual(
    (await s.listCollections('alice')).map((c) => c.path),
    ['alice/cal'],
  );
  assert.deepEqual(
    (await s.listCollections('')).map((c) => c.path),
    ['alice'],
  );
  await assert.rejects(s.createCollection('alice/cal', {}, ctx), { code: 'exists' });
  await assert.rejects(s.createCollection('nobody/cal', {}, ctx), { code: 'not-found' });
  await assert.rejects(s.createCollection('alice/cal/sub', {}, ctx), { code: 'conflict' });
  await assert.rejects(s.createCollection('alice/.hidden', {}, ctx), { code: 'invalid-name' });
  const set = await s.setProps('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'Renamed' }, ctx);
  assert.equal(set.props['D:displayname'], 'Renamed');
  await assert.rejects(s.setProps('alice', { tag: 'VCALENDAR' }, ctx), { code: 'conflict' });
  await assert.rejects(s.setProps('alice/none', {}, ctx), { code: 'not-found' });
});

void test('items: put, get, list, find by UID, replace keeps created=false, delete', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/items', { tag: 'VCALENDAR' }, ctx);
  const a = item('a@x');
  const put = await s.putItem('alice/items', 'a.ics', a, ok, ctx);
  assert.equal(put.created, true);
  assert.equal(put.meta.etag, sha(a.text));
  assert.equal(put.meta.size, Buffer.byteLength(a.text));
  assert.deepEqual([put.meta.uid, put.meta.start, put.meta.end], ['a@x', 100, 200]);
  const again = await s.putItem('alice/items', 'a.ics', item('a@x', 'changed'), ok, ctx);
  assert.equal(again.created, false);
  assert.notEqual(again.meta.etag, put.meta.etag);
  await s.putItem('alice/items', 'b.ics', item('b@x'), ok, ctx);
  assert.deepEqual(
    (await s.listItems('alice/items')).map((m) => m.href),
    ['a.ics', 'b.ics'],
  );
  assert.equal((await s.getItemMeta('alice/items', 'b.ics'))?.uid, 'b@x');
  assert.equal(await s.getItemMeta('alice/items', 'zz.ics'), undefined);
  assert.equal((await s.findByUid('alice/items', 'b@x'))?.href, 'b.ics');
  assert.equal(await s.findByUid('alice/items', 'nope'), undefined);
  const items: Item[] = await all(s.getItems('alice/items', ['b.ics', 'missing.ics', 'a.ics']));
  assert.deepEqual(
    items.map((i) => i.href),
    ['b.ics', 'a.ics'],
  );
  assert.equal(items[1]?.text, event('a@x', 'changed'));
  assert.equal((await all(s.getItems('alice/items'))).length, 2);
  await s.deleteItem('alice/items', 'b.ics', ok, ctx);
  await assert.rejects(s.deleteItem('alice/items', 'b.ics', ok, ctx), { code: 'not-found' });
  await assert.rejects(s.putItem('alice/none', 'x.ics', a, ok, ctx), { code: 'not-found' });
  await assert.rejects(s.putItem('', 'x.ics', a, ok, ctx), { code: 'conflict' });
  await assert.rejects(s.putItem('alice/items', '../x', a, ok, ctx), { code: 'invalid-name' });
  await assert.rejects(s.listItems('alice/none'), { code: 'not-found' });
});

void test('write checks see the existing item, the collection and another holder of the UID', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/uids', { tag: 'VCALENDAR' }, ctx);
  await s.putItem('alice/uids', 'one.ics', item('same@x'), ok, ctx);
  const seen: unknown[] = [];
  await assert.rejects(
    s.putItem(
      'alice/uids',
      'two.ics',
      item('same@x'),
      (e, c, same) => {
        seen.push(e, c.path, same?.href);
        noUidConflict(e, c, same);
      },
      ctx,
    ),
    DavError,
  );
  assert.deepEqual(seen, [undefined, 'alice/uids', 'one.ics']);
  // Without the caller's check the database itself refuses a second item with that UID.
  await assert.rejects(s.putItem('alice/uids', 'two.ics', item('same@x'), ok, ctx), { code: 'conflict' });
  await assert.rejects(s.putItem('alice/uids', 'one.ics', item('other@x'), ifMatch('"nope"'), ctx), DavError);
  assert.equal((await s.listItems('alice/uids')).length, 1);
});

void test('item dead properties: kept across PUT, carried by MOVE/COPY, dropped by DELETE', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/props', { tag: 'VCALENDAR' }, ctx);
  await s.createCollection('alice/props2', { tag: 'VCALENDAR' }, ctx);
  await s.putItem('alice/props', 'p.ics', item('p@x'), ok, ctx);
  assert.deepEqual(await s.getItemProps('alice/props', 'p.ics'), {});
  await s.setItemProps('alice/props', 'p.ics', { '{urn:x}color': 'red' });
  await s.putItem('alice/props', 'p.ics', item('p@x', 'v2'), ok, ctx);
  assert.deepEqual(await s.getItemProps('alice/props', 'p.ics'), { '{urn:x}color': 'red' });
  await assert.rejects(s.setItemProps('alice/props', 'none.ics', {}), { code: 'not-found' });
  await s.copyItem({ path: 'alice/props', href: 'p.ics' }, { path: 'alice/props2', href: 'c.ics' }, ok, ctx);
  assert.deepEqual(await s.getItemProps('alice/props2', 'c.ics'), { '{urn:x}color': 'red' });
  const moved = await s.moveItem(
    { path: 'alice/props', href: 'p.ics' },
    { path: 'alice/props', href: 'q.ics' },
    ok,
    ctx,
  );
  assert.equal(moved.created, true);
  assert.equal(moved.meta.href, 'q.ics');
  assert.deepEqual(await s.getItemProps('alice/props', 'q.ics'), { '{urn:x}color': 'red' });
  assert.deepEqual(await s.getItemProps('alice/props', 'p.ics'), {});
  assert.deepEqual(
    (await s.listItems('alice/props')).map((m) => m.href),
    ['q.ics'],
  );
  await s.deleteItem('alice/props', 'q.ics', ok, ctx);
  await s.putItem('alice/props', 'q.ics', item('p@x'), ok, ctx);
  assert.deepEqual(await s.getItemProps('alice/props', 'q.ics'), {});
});

void test('move and copy items: UID check with the moved item ignored, not-found source', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/m1', { tag: 'VCALENDAR' }, ctx);
  await s.createCollection('alice/m2', { tag: 'VCALENDAR' }, ctx);
  await s.putItem('alice/m1', 'a.ics', item('ma@x'), ok, ctx);
  await s.putItem('alice/m2', 'b.ics', item('ma@x'), ok, ctx);
  await assert.rejects(
    s.moveItem({ path: 'alice/m1', href: 'a.ics' }, { path: 'alice/m2', href: 'c.ics' }, noUidConflict, ctx),
    DavError,
  );
  const same = await s.moveItem(
    { path: 'alice/m1', href: 'a.ics' },
    { path: 'alice/m1', href: 'a2.ics' },
    noUidConflict,
    ctx,
  );
  assert.equal(same.meta.uid, 'ma@x');
  const over = await s.moveItem(
    { path: 'alice/m1', href: 'a2.ics' },
    { path: 'alice/m2', href: 'b.ics' },
    noUidConflict,
    ctx,
  );
  assert.equal(over.created, false);
  assert.deepEqual(await s.listItems('alice/m1'), []);
  await assert.rejects(
    s.copyItem({ path: 'alice/m1', href: 'a.ics' }, { path: 'alice/m2', href: 'x.ics' }, ok, ctx),
    { code: 'not-found' },
  );
});

void test('collections: replace, copy, move (with sync tokens kept), delete, root delete', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('bob', {}, ctx);
  const rep = await s.replaceCollection(
    'bob/cal',
    { tag: 'VCALENDAR' },
    [{ ...item('r1@x') }, { href: 'named.ics', ...item('r2@x') }],
    ctx,
  );
  assert.equal(rep.tag, 'VCALENDAR');
  assert.deepEqual(
    (await s.listItems('bob/cal')).map((m) => m.href),
    ['named.ics', 'r1@x.ics'],
  );
  await s.setItemProps('bob/cal', 'named.ics', { 'D:x': '1' });
  assert.deepEqual((await s.copyCollection('bob/cal', 'bob/copy', false, ctx)).created, true);
  assert.deepEqual(
    (await s.listItems('bob/copy')).map((m) => m.etag),
    (await s.listItems('bob/cal')).map((m) => m.etag),
  );
  assert.deepEqual(await s.getItemProps('bob/copy', 'named.ics'), { 'D:x': '1' });
  await assert.rejects(s.copyCollection('bob/cal', 'bob/copy', false, ctx), { code: 'exists' });
  const token = await s.getSyncToken('bob/cal');
  assert.equal((await s.moveCollection('bob/cal', 'bob/moved', false, ctx)).created, true);
  assert.equal(await s.getCollection('bob/cal'), undefined);
  assert.equal(await s.getSyncToken('bob/moved'), token);
  await s.putItem('bob/moved', 'n.ics', item('n@x'), ok, ctx);
  assert.deepEqual(await s.sync('bob/moved', token), {
    token: await s.getSyncToken('bob/moved'),
    changed: ['n.ics'],
    deleted: [],
  });
  assert.equal((await s.moveCollection('bob/moved', 'bob/copy', true, ctx)).created, false);
  assert.equal((await s.listItems('bob/copy')).length, 3);
  await assert.rejects(s.moveCollection('bob', 'bob/copy/x', false, ctx), { code: 'conflict' });
  await s.deleteCollection('bob/copy', ctx);
  assert.equal(await s.getCollection('bob/copy'), undefined);
  await assert.rejects(s.deleteCollection('bob/copy', ctx), { code: 'not-found' });
  // A replaced collection starts a new history: old tokens are refused.
  await s.createCollection('bob/r', { tag: 'VCALENDAR' }, ctx);
  const old = await s.getSyncToken('bob/r');
  await s.replaceCollection('bob/r', { tag: 'VCALENDAR' }, [], ctx);
  await assert.rejects(s.sync('bob/r', old), { code: 'invalid-sync-token' });
  await s.deleteCollection('bob', ctx);
  assert.equal(await s.getCollection('bob'), undefined);
});

void test('ctag changes with items and props; sync tokens are monotonic, replayable and paged', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/sync', { tag: 'VCALENDAR' }, ctx);
  const t0 = await s.getSyncToken('alice/sync');
  const e0 = await s.getEtag('alice/sync');
  // Radicale's form (64 hex digits), so a folder can keep the state under that name after a copy.
  assert.match(t0, /^http:\/\/radicale\.org\/ns\/sync\/[0-9a-f]{64}$/);
  for (const n of ['1', '2', '3']) await s.putItem('alice/sync', `${n}.ics`, item(`${n}@s`), ok, ctx);
  const t1 = await s.getSyncToken('alice/sync');
  const e1 = await s.getEtag('alice/sync');
  assert.notEqual(e1, e0);
  assert.ok(t1 > t0, 'tokens grow with the log');
  assert.equal(await s.getEtag('alice/sync'), e1, 'stable without changes');
  const initial = await s.sync('alice/sync', '');
  assert.deepEqual(
    [initial.token, [...initial.changed].sort(), initial.deleted],
    [t1, ['1.ics', '2.ics', '3.ics'], []],
  );
  assert.deepEqual(await s.sync('alice/sync', t1), { token: t1, changed: [], deleted: [] });
  // Tokens issued before the padding (32 hex digits) are still accepted.
  assert.deepEqual(await s.sync('alice/sync', t1.slice(0, -32)), { token: t1, changed: [], deleted: [] });
  await s.deleteItem('alice/sync', '2.ics', ok, ctx);
  await s.putItem('alice/sync', '1.ics', item('1@s', 'v2'), ok, ctx);
  const t2 = await s.getSyncToken('alice/sync');
  assert.deepEqual(await s.sync('alice/sync', t1), { token: t2, changed: ['1.ics'], deleted: ['2.ics'] });
  // Replaying an old token gives the same answer again.
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
  const e2 = await s.getEtag('alice/sync');
  await s.setProps('alice/sync', { tag: 'VCALENDAR', 'D:displayname': 'x' }, ctx);
  assert.notEqual(await s.getEtag('alice/sync'), e2);
  for (const bad of ['http://radicale.org/ns/sync/zz', `${t2}0`, t2.replace(/.$/, 'f'), 'urn:x']) {
    await assert.rejects(s.sync('alice/sync', bad), { code: 'invalid-sync-token' }, bad);
  }
  await assert.rejects(s.sync('alice/items', t2), { code: 'invalid-sync-token' });
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
  const n = await s.db.query<{ n: string }>(
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
  await s.db.query(`UPDATE items SET text = 'garbage' WHERE href = 'x.ics'`);
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
  const hooked = new PostgresStorage({
    url,
    poolSize: 2,
    hook: 'echo %(user)s %(request)s %(path)s >> hook.log',
    hookCwd: dir,
    describe,
    log: pino({ level: 'silent' }),
  });
  opened.push(hooked);
  await hooked.open();
  await hooked.createCollection(
    'alice/hooked',
    {},
    { user: 'alice', path: '/alice/hooked/', request: 'MKCOL' },
  );
  assert.equal(readFileSync(`${dir}/hook.log`, 'utf8'), 'alice MKCOL /alice/hooked/\n');
});

void test('time-range candidates come from the index: overlapping, unknown and open-ended spans', async (t) => {
  if (skipIfMissing(t)) return;
  await s.createCollection('alice/ranges', { tag: 'VCALENDAR' }, ctx);
  const put = (href: string, component: string, start: number, end: number): Promise<unknown> =>
    s.putItem(
      'alice/ranges',
      href,
      { text: event(href), description: { uid: href, component, start, end } },
      ok,
      ctx,
    );
  await put('a.ics', 'VEVENT', 100, 200);
  await put('b.ics', 'VEVENT', 1000, 2000);
  await put('c.ics', 'VEVENT', 0, 0);
  await put('d.ics', 'VEVENT', 3000, Number.MAX_SAFE_INTEGER);
  await put('e.ics', 'VTODO', 100, 200);
  const hrefs = async (start: number, end: number, component?: string): Promise<string[]> =>
    (await s.listItemsInRange('alice/ranges', { start, end }, component)).map((m) => m.href);
  assert.deepEqual(await hrefs(150, 160), ['a.ics', 'c.ics', 'e.ics']);
  assert.deepEqual(await hrefs(150, 160, 'VEVENT'), ['a.ics', 'c.ics']);
  assert.deepEqual(await hrefs(5000, 6000), ['c.ics', 'd.ics']);
  assert.deepEqual(await hrefs(-Infinity, Infinity, 'VTODO'), ['e.ics']);
  // The query can use the (collection_id, start_time, end_time) index.
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
