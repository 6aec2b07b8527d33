// `node --import tsx bench/pg-profile.ts [events]`: one Almanac in this process on PostgreSQL (the
// bench's calendar copied in), the bench's slow requests, and per request: the time, the SQL
// statements sent (count, rows, time in the database round trip) (STORAGE=filesystem: the same on
// the folder, for comparison).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import {
  PROPFIND_ETAG_TYPE,
  calendarMultiget,
  calendarQueryMonth,
  extractSyncToken,
  syncCollection,
} from './bodies.js';
import { eventHref, eventIcs, writeDataFolder } from './data.js';
import { expect } from './http.js';
import { startAlmanac } from '../test/helpers/almanac.js';
import { createTestDatabase, dropTestDatabase } from '../test/helpers/postgres.js';

const n = Number(process.argv[2] ?? 10000);
const name = `cal-${n}`;
const path = `/bench/${name}/`;
const work = await mkdtemp(join(tmpdir(), 'almanac-pgprof-'));
await writeDataFolder(join(work, 'f'), { user: 'bench', calendars: { [name]: n }, addressbooks: {} });
const fs = process.env.STORAGE === 'filesystem';
const url = fs ? '' : await createTestDatabase();
const copy = fs
  ? { status: 0, stderr: '' }
  : spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'storage', 'copy', '--from', join(work, 'f'), '--to', url],
      { encoding: 'utf8' },
    );
if (copy.status !== 0) throw new Error(copy.stderr);

interface Stat {
  n: number;
  rows: number;
  ms: number;
  sql: Map<string, number>;
}
let stat: Stat = { n: 0, rows: 0, ms: 0, sql: new Map() };
const { Client } = createRequire(import.meta.url)('pg') as typeof pg;
// eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied with its `this` below
const orig = Client.prototype.query as (...a: unknown[]) => unknown;
(Client.prototype as unknown as { query: (...a: unknown[]) => unknown }).query = function (
  this: pg.Client,
  ...args: unknown[]
): unknown {
  const t = performance.now();
  const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string }).text ?? '?');
  const key = text.replace(/\s+/g, ' ').slice(0, 90);
  const done = (r: { rowCount?: number | null } | undefined): void => {
    stat.n++;
    stat.rows += r?.rowCount ?? 0;
    stat.ms += performance.now() - t;
    stat.sql.set(key, (stat.sql.get(key) ?? 0) + 1);
  };
  const last = args[args.length - 1];
  if (typeof last === 'function') {
    args[args.length - 1] = (err: unknown, r: { rowCount?: number }): unknown => {
      done(r);
      return (last as (e: unknown, r: unknown) => unknown)(err, r);
    };
  }
  const out = orig.apply(this, args);
  if (out instanceof Promise) {
    return out.then((r: { rowCount?: number }) => {
      done(r);
      return r;
    });
  }
  return out;
};

const app = await startAlmanac({
  users: { bench: 'bench' },
  ...(fs ? { folder: join(work, 'f') } : {}),
  config: {
    storage: fs
      ? { type: 'multifilesystem', _filesystem_fsync: 'False' }
      : { type: 'postgresql', postgresql_url: url, postgresql_pool_size: '4' },
    rights: { type: 'owner_only' },
  },
});
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const xml = (depth: string): Record<string, string> => ({
  'Content-Type': 'application/xml; charset=utf-8',
  Depth: depth,
});
const reps = Number(process.env.REPS ?? 5);
async function run(label: string, f: () => Promise<{ ms: number }>): Promise<void> {
  await f(); // warm
  const times: number[] = [];
  for (let i = 1; i < reps; i++) times.push((await f()).ms);
  stat = { n: 0, rows: 0, ms: 0, sql: new Map() };
  const r = await f();
  times.push(r.ms);
  times.sort((a, b) => a - b);
  r.ms = times[Math.floor(times.length / 2)] ?? r.ms;
  console.log(
    `\n${label}: ${r.ms.toFixed(1)} ms; ${stat.n} statements, ${stat.rows} rows, ${stat.ms.toFixed(1)} ms in pg calls`,
  );
  for (const [s, c] of stat.sql) console.log(`  ${c}× ${s}`);
}
const base = app.url;
await run('PROPFIND D1', () =>
  expect(base, { method: 'PROPFIND', path, agent, headers: xml('1'), body: PROPFIND_ETAG_TYPE }, [207]),
);
const hrefs = Array.from({ length: 100 }, (_, k) => path + eventHref(name, (k * Math.floor(n / 100)) % n));
await run('multiget 100', () =>
  expect(base, { method: 'REPORT', path, agent, headers: xml('1'), body: calendarMultiget(hrefs) }, [207]),
);
await run('calendar-query 1 month', () =>
  expect(
    base,
    {
      method: 'REPORT',
      path,
      agent,
      headers: xml('1'),
      body: calendarQueryMonth('20260301T000000Z', '20260401T000000Z'),
    },
    [207],
  ),
);
await run('GET whole', () => expect(base, { method: 'GET', path, agent }, [200]));
await run('sync initial', () =>
  expect(base, { method: 'REPORT', path, agent, headers: xml('0'), body: syncCollection('') }, [207]),
);
const first = await expect(
  base,
  { method: 'REPORT', path, agent, headers: xml('0'), body: syncCollection('') },
  [207],
);
const token = extractSyncToken(first.body);
for (let k = 0; k < 10; k++) {
  await expect(
    base,
    {
      method: 'PUT',
      path: path + eventHref(name, k * 7),
      agent,
      headers: { 'Content-Type': 'text/calendar' },
      body: eventIcs(name, k * 7, 1),
    },
    [204, 201],
  );
}
await run('sync after 10', () =>
  expect(base, { method: 'REPORT', path, agent, headers: xml('0'), body: syncCollection(token) }, [207]),
);
await run('GET item', () => expect(base, { method: 'GET', path: path + eventHref(name, 37), agent }, [200]));
await run('PUT item', () =>
  expect(
    base,
    {
      method: 'PUT',
      path: path + eventHref(name, 5),
      agent,
      headers: { 'Content-Type': 'text/calendar' },
      body: eventIcs(name, 5, 2),
    },
    [204, 201],
  ),
);
agent.destroy();
await app.stop();
if (!fs) await dropTestDatabase(url);
await rm(work, { recursive: true, force: true });
process.exit(0);
