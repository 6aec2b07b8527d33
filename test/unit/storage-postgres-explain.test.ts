/**
 * The plans of the PostgreSQL storage's main queries, taken from the statements it really sends
 * (captured from its pool) and explained with their parameters on a database holding a small
 * collection beside a big one and many others: single-item lookups go through the items primary key, never a scan of
 * the items table (nor of collections); a collection's listing, its change log and a sync read by index. The plans are
 * printed, to be read when a query is changed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pino } from 'pino';
import { PostgresBackend } from '../../src/storage/postgres/storage.js';
import { type CheckedStorage, checkedStorage } from '../../src/storage/checked-storage.js';
import type { ChangeContext, ItemDescription, NewItem, WriteCheck } from '../../src/storage/types.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';

const ctx: ChangeContext = { user: 'alice', path: '/alice/cal/', request: 'PUT' };
const ok: WriteCheck = () => undefined;

function describe(text: string): ItemDescription {
  const uid = /^UID:(.*?)\r?$/m.exec(text)?.[1] ?? '';
  const n = Number(/^X-N:(\d+)/m.exec(text)?.[1] ?? 0);
  return { uid, component: 'VEVENT', start: 1000 * n, end: 1000 * n + 3600 };
}
const event = (uid: string, n: number): string =>
  `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nX-N:${n}\r\nSUMMARY:e ${n}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const items = (prefix: string, count: number): NewItem[] =>
  Array.from({ length: count }, (_, n) => {
    const text = event(`${prefix}-${n}`, n);
    return { href: `${prefix}-${n}.ics`, text, description: describe(text) };
  });

interface Sent {
  readonly sql: string;
  readonly params: readonly unknown[];
}

let url = '';
let s: CheckedStorage<PostgresBackend>;
let explainer: pg.Client;
let sent: Sent[] = [];

const skip = (t: { skip: (m: string) => void }): boolean => {
  if (postgresAvailable()) return false;
  if (process.env.CI === 'true') throw new Error('PostgreSQL is missing: apt-get install postgresql');
  t.skip('PostgreSQL is missing: apt-get install postgresql');
  return true;
};

before(async () => {
  if (!postgresAvailable()) return;
  url = await createTestDatabase();
  s = checkedStorage(
    new PostgresBackend({
      url,
      poolSize: 2,
      hook: '',
      hookCwd: process.cwd(),
      describe,
      log: pino({ level: 'silent' }),
    }),
  );
  // Every statement the storage sends (pool.query and transactions both go through a client's query).
  s.backend.db.pool.on('connect', (client) => {
    const clientQuery = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      const [first, second] = a;
      if (typeof first === 'string') sent.push({ sql: first, params: Array.isArray(second) ? second : [] });
      else if (typeof first === 'object' && first !== null && 'text' in first) {
        // A prepared statement: { name, text, values }.
        const { text, values } = first as { text: string; values?: unknown[] };
        sent.push({ sql: text, params: values ?? [] });
      }
      return clientQuery(...a);
    };
  });
  await s.open();
  await s.createCollection('alice', {}, ctx);
  await s.replaceCollection('alice/big', { tag: 'VCALENDAR' }, items('big', 5000), ctx);
  await s.replaceCollection('alice/cal', { tag: 'VCALENDAR' }, items('cal', 200), ctx);
  explainer = new pg.Client({ connectionString: url });
  await explainer.connect();
  // Many collections, as a server has: a lookup by path or id is then no longer cheaper as a scan.
  await explainer.query(
    `INSERT INTO collections (path, parent) SELECT 'alice/other-' || g, 'alice' FROM generate_series(1, 3000) g`,
  );
  await explainer.query('ANALYZE');
});

after(async () => {
  if (!postgresAvailable()) return;
  await explainer.end();
  await s.close();
  await dropTestDatabase(url);
});

/** The statements `run` sends (not BEGIN/COMMIT), each with its plan; the plans are printed. */
async function plans(label: string, run: () => Promise<unknown>): Promise<string[]> {
  sent = [];
  await run();
  const out: string[] = [];
  for (const q of sent) {
    if (/^(BEGIN|COMMIT|ROLLBACK)/.test(q.sql)) continue;
    const r = await explainer.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.sql}`, [...q.params]);
    const plan = r.rows.map((row) => row['QUERY PLAN']).join('\n');
    console.log(`-- ${label}\n${q.sql.replace(/\s+/g, ' ').trim()}\n${plan}\n`);
    out.push(plan);
  }
  assert.ok(out.length > 0, `${label} sent no statement`);
  return out;
}

const noItemScan = (plan: string): void => {
  assert.doesNotMatch(plan, /Seq Scan on items/, plan);
  assert.doesNotMatch(plan, /Seq Scan on collections/, plan);
};

void test('single-item lookups read the items primary key, never a scan of items', async (t) => {
  if (skip(t)) return;
  const meta = await plans('getItemMeta', () => s.getItemMeta('alice/cal', 'cal-7.ics'));
  const metas = await plans('getItemMetas', () =>
    s.getItemMetas('alice/cal', ['cal-1.ics', 'cal-2.ics', 'cal-3.ics']),
  );
  const texts = await plans('getItems(hrefs), cold', async () => {
    for await (const it of s.getItems('alice/cal', ['cal-4.ics', 'cal-5.ics'])) assert.ok(it.text);
  });
  const uid = await plans('findByUid', () => s.findByUid('alice/cal', 'cal-9'));
  for (const plan of [...meta, ...metas, ...texts, ...uid]) noItemScan(plan);
  for (const plan of [...meta, ...metas, ...texts].filter((p) => / on items/.test(p)))
    assert.match(plan, /items_pkey/, plan);
  assert.match(uid.join('\n'), /items_uid/);
  const put = await plans('putItem', () =>
    s.putItem(
      'alice/cal',
      'cal-8.ics',
      { text: event('cal-8', 8), description: describe(event('cal-8', 8)) },
      ok,
      ctx,
    ),
  );
  for (const plan of put) noItemScan(plan);
});

void test("a collection's listing, its update from the change log and sync read by index", async (t) => {
  if (skip(t)) return;
  const load = await plans('listItems (first: whole listing)', () => s.listItems('alice/cal'));
  assert.ok(
    load.some((p) => /Index .*on items|Bitmap Index Scan on items/.test(p)),
    load.join('\n'),
  );
  for (const plan of load) noItemScan(plan);
  await s.putItem(
    'alice/cal',
    'new.ics',
    { text: event('new', 1), description: describe(event('new', 1)) },
    ok,
    ctx,
  );
  const delta = await plans('listItems (after a change: the log since the cached position)', () =>
    s.listItems('alice/cal'),
  );
  assert.match(delta.join('\n'), /changes_seq|changes_pkey/);
  for (const plan of delta) {
    noItemScan(plan);
    assert.doesNotMatch(plan, /Seq Scan on changes/, plan);
  }
  const token = await s.getSyncToken('alice/cal');
  await s.putItem(
    'alice/cal',
    'new2.ics',
    { text: event('new2', 2), description: describe(event('new2', 2)) },
    ok,
    ctx,
  );
  const sync = await plans('sync (incremental)', () => s.sync('alice/cal', token));
  assert.match(sync.join('\n'), /changes_seq/);
  for (const plan of sync) {
    noItemScan(plan);
    assert.doesNotMatch(plan, /Seq Scan on changes/, plan);
  }
});
