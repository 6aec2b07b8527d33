// `npm run bench [-- --size small|default|100000] [--reps N]`: the same workload against Almanac and
// Radicale 3.1.8, alternating, several repetitions; prints a table and writes bench/results/<date>-<size>.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  PROPFIND_CTAG,
  PROPFIND_ETAG_TYPE,
  addressbookMultiget,
  addressbookQuery,
  calendarMultiget,
  calendarQueryMonth,
  countResponses,
  extractSyncToken,
  syncCollection,
} from './bodies.js';
import { calendarIcs, contactHref, eventHref, eventIcs, writeDataFolder, type FolderSpec } from './data.js';
import { expect, send, type RequestOptions } from './http.js';
import { rssKiB, setAlmanacExtraArgs, startServer, type RunningServer, type ServerKind } from './servers.js';

interface Plan {
  size: string;
  servers: ServerKind[];
  calendars: number[];
  contacts: number;
  importEvents: number;
  reps: number;
  loadSeconds: number;
  /** A server's samples of one operation stop once they add up to this (slow servers get fewer reps). */
  opBudgetMs: number;
  /** Operations whose name matches this regular expression are not run. */
  skip?: string;
  /**
   * Almanac's storage: the folder (as Radicale) or PostgreSQL (the folder copied in first); `both`:
   * one Almanac on each, their requests alternating as Almanac's and Radicale's do, so that the two
   * storages are compared under the same machine load.
   */
  storage: 'filesystem' | 'postgresql' | 'both';
}

function parseArgs(argv: string[]): Plan {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = get('--size') ?? 'default';
  const repsArg = get('--reps');
  const base: Record<string, Plan> = {
    small: mk('small', ['almanac', 'radicale'], [200], 100, 100, 3, 1, 10000),
    default: mk('default', ['almanac', 'radicale'], [1000, 10000], 1000, 1000, 7, 4, 25000),
    '100000': mk('100000', ['almanac'], [1000, 100000], 1000, 1000, 5, 3, 40000),
  };
  const plan = base[size];
  if (plan === undefined) throw new Error(`--size must be small, default or 100000 (got ${size})`);
  if (repsArg !== undefined) plan.reps = Math.max(1, Number(repsArg));
  if (argv.includes('--almanac-only')) plan.servers = ['almanac'];
  plan.skip = get('--skip');
  const storage = get('--storage') ?? 'filesystem';
  if (storage !== 'filesystem' && storage !== 'postgresql' && storage !== 'both')
    throw new Error(`--storage must be filesystem, postgresql or both (got ${storage})`);
  plan.storage = storage;
  if (storage === 'both') plan.servers = ['almanac', 'almanac-pg'];
  return plan;
}

function mk(
  size: string,
  servers: ServerKind[],
  calendars: number[],
  contacts: number,
  importEvents: number,
  reps: number,
  loadSeconds: number,
  opBudgetMs: number,
): Plan {
  return {
    size,
    servers,
    calendars,
    contacts,
    importEvents,
    reps,
    loadSeconds,
    opBudgetMs,
    storage: 'filesystem',
  };
}

type Samples = Record<string, { samples: number[]; errors: string[]; info: string[] }>;
interface Row {
  op: string;
  unit: 'ms' | 'req/s' | 'MiB';
  by: Samples;
}

interface Ctx {
  server: RunningServer;
  agent: Agent;
  /** Last sync token per collection path (for the incremental sync). */
  tokens: Map<string, string>;
}

const USER = 'bench';
const calPath = (n: number): string => `/${USER}/cal-${n}/`;
const BOOK = `/${USER}/contacts/`;

function spec(plan: Plan): FolderSpec {
  const calendars: Record<string, number> = {};
  for (const n of plan.calendars) calendars[`cal-${n}`] = n;
  return { user: USER, calendars, addressbooks: { contacts: plan.contacts } };
}

function stats(xs: number[]): { median: number; p95: number } {
  if (xs.length === 0) return { median: NaN, p95: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
  return { median: at(0.5), p95: at(0.95) };
}

/** One timed operation: does its untimed setup, returns named timings (ms) and optional info. */
type Op = (ctx: Ctx, rep: number) => Promise<Array<[string, number, string?]>>;

function hrefsSpread(n: number, count: number, offset: number, href: (i: number) => string): string[] {
  const step = Math.max(1, Math.floor(n / count));
  const out: string[] = [];
  for (let k = 0; k < Math.min(count, n); k++) out.push(href((k * step + offset) % n));
  return out;
}

function calendarOps(n: number): Array<[string, Op]> {
  const path = calPath(n);
  const name = `cal-${n}`;
  const label = (s: string): string => `${s} (${n})`;
  return [
    [
      label('PROPFIND D1 getetag+type'),
      async ({ server, agent }) => {
        const r = await expect(
          server.baseUrl,
          { method: 'PROPFIND', path, agent, headers: xmlHeaders('1'), body: PROPFIND_ETAG_TYPE },
          [207],
        );
        return [[label('PROPFIND D1 getetag+type'), r.ms, `${countResponses(r.body)} responses`]];
      },
    ],
    [
      label('calendar-query 1 month'),
      async ({ server, agent }) => {
        const body = calendarQueryMonth('20260301T000000Z', '20260401T000000Z');
        const r = await expect(
          server.baseUrl,
          { method: 'REPORT', path, agent, headers: xmlHeaders('1'), body },
          [207],
        );
        return [[label('calendar-query 1 month'), r.ms, `${countResponses(r.body)} responses`]];
      },
    ],
    [
      label('calendar-multiget 100'),
      async ({ server, agent }, rep) => {
        const hrefs = hrefsSpread(n, 100, rep, (i) => path + eventHref(name, i));
        const r = await expect(
          server.baseUrl,
          { method: 'REPORT', path, agent, headers: xmlHeaders('1'), body: calendarMultiget(hrefs) },
          [207],
        );
        return [[label('calendar-multiget 100'), r.ms, `${countResponses(r.body)} responses`]];
      },
    ],
    [
      label('sync-collection'),
      async ({ server, agent }, rep) => {
        // Untimed: the item this round deletes exists before the first sync.
        const doomed = `${path}sync-${rep}-old.ics`;
        const put = (href: string, body: string): Promise<unknown> =>
          expect(
            server.baseUrl,
            { method: 'PUT', path: href, agent, headers: icsHeaders(), body },
            [201, 204],
          );
        await put(doomed, eventIcs(`sync-old-${n}-${rep}`, rep));
        const first = await expect(
          server.baseUrl,
          { method: 'REPORT', path, agent, headers: xmlHeaders('0'), body: syncCollection('') },
          [207],
        );
        const token = extractSyncToken(first.body);
        // 10 mixed changes, as a client's day brings them: 8 modifications, 1 addition, 1 deletion.
        for (let k = 0; k < 8; k++) {
          const i = ((rep * 10 + k) * 7) % n;
          await put(path + eventHref(name, i), eventIcs(name, i, rep + 1));
        }
        await put(`${path}sync-${rep}-new.ics`, eventIcs(`sync-new-${n}-${rep}`, rep));
        await expect(server.baseUrl, { method: 'DELETE', path: doomed, agent }, [200, 204]);
        const second = await expect(
          server.baseUrl,
          { method: 'REPORT', path, agent, headers: xmlHeaders('0'), body: syncCollection(token) },
          [207],
        );
        return [
          [label('sync-collection initial'), first.ms, `${countResponses(first.body)} responses`],
          [label('sync-collection after 10 changes'), second.ms, `${countResponses(second.body)} responses`],
        ];
      },
    ],
    [
      label('GET item'),
      async ({ server, agent }, rep) => {
        const r = await expect(
          server.baseUrl,
          { method: 'GET', path: path + eventHref(name, (rep * 37) % n), agent },
          [200],
        );
        return [[label('GET item'), r.ms]];
      },
    ],
    [
      label('GET whole calendar'),
      async ({ server, agent }) => {
        const r = await expect(server.baseUrl, { method: 'GET', path, agent }, [200]);
        return [[label('GET whole calendar'), r.ms, `${r.bytes} bytes`]];
      },
    ],
    [
      label('PUT new item'),
      async ({ server, agent }, rep) => {
        const href = `${path}new-${rep}.ics`;
        const put = await expect(
          server.baseUrl,
          {
            method: 'PUT',
            path: href,
            agent,
            headers: { ...icsHeaders(), 'If-None-Match': '*' },
            body: eventIcs(`new-${n}-${rep}`, rep),
          },
          [201],
        );
        const del = await expect(server.baseUrl, { method: 'DELETE', path: href, agent }, [200, 204]);
        return [
          [label('PUT new item'), put.ms],
          [label('DELETE item'), del.ms],
        ];
      },
    ],
  ];
}

function contactOps(n: number): Array<[string, Op]> {
  const label = (s: string): string => `${s} (${n} cards)`;
  return [
    [
      label('PROPFIND D1 getetag+type'),
      async ({ server, agent }) => {
        const r = await expect(
          server.baseUrl,
          { method: 'PROPFIND', path: BOOK, agent, headers: xmlHeaders('1'), body: PROPFIND_ETAG_TYPE },
          [207],
        );
        return [[label('PROPFIND D1 getetag+type'), r.ms, `${countResponses(r.body)} responses`]];
      },
    ],
    [
      label('addressbook-query FN contains'),
      async ({ server, agent }) => {
        const r = await expect(
          server.baseUrl,
          { method: 'REPORT', path: BOOK, agent, headers: xmlHeaders('1'), body: addressbookQuery('anna') },
          [207],
        );
        return [[label('addressbook-query FN contains'), r.ms, `${countResponses(r.body)} responses`]];
      },
    ],
    [
      label('addressbook-multiget 100'),
      async ({ server, agent }, rep) => {
        const hrefs = hrefsSpread(n, 100, rep, (i) => BOOK + contactHref(i));
        const r = await expect(
          server.baseUrl,
          { method: 'REPORT', path: BOOK, agent, headers: xmlHeaders('1'), body: addressbookMultiget(hrefs) },
          [207],
        );
        return [[label('addressbook-multiget 100'), r.ms, `${countResponses(r.body)} responses`]];
      },
    ],
  ];
}

function importOp(events: number): Array<[string, Op]> {
  const body = calendarIcs('imp', events);
  const label = `whole-calendar PUT import (${events})`;
  return [
    [
      label,
      async ({ server, agent }, rep) => {
        const path = `/${USER}/import-${rep}/`;
        const r = await expect(
          server.baseUrl,
          { method: 'PUT', path, agent, headers: icsHeaders(), body },
          [201, 204],
        );
        await send(server.baseUrl, { method: 'DELETE', path, agent });
        return [[label, r.ms]];
      },
    ],
  ];
}

function xmlHeaders(depth: string): Record<string, string> {
  return { Depth: depth, 'Content-Type': 'application/xml; charset=utf-8' };
}

function icsHeaders(): Record<string, string> {
  return { 'Content-Type': 'text/calendar; charset=utf-8' };
}

/** Runs `op` plan.reps times per server, alternating which server goes first. */
async function measure(plan: Plan, ctxs: Ctx[], rows: Map<string, Row>, op: Op): Promise<void> {
  const spent = new Map<string, number>();
  for (let rep = 0; rep < plan.reps; rep++) {
    const order = rep % 2 === 0 ? ctxs : [...ctxs].reverse();
    for (const ctx of order) {
      const kind = ctx.server.kind;
      if ((spent.get(kind) ?? 0) > plan.opBudgetMs) continue;
      const t0 = Date.now();
      try {
        for (const [name, ms, info] of await op(ctx, rep)) {
          const cell = cellOf(rows, name, 'ms', kind);
          cell.samples.push(ms);
          if (info !== undefined && !cell.info.includes(info)) cell.info.push(info);
        }
      } catch (err) {
        const cell = cellOf(rows, op.name, 'ms', kind);
        cell.errors.push(err instanceof Error ? err.message : String(err));
      }
      spent.set(kind, (spent.get(kind) ?? 0) + Date.now() - t0);
    }
  }
}

function cellOf(rows: Map<string, Row>, op: string, unit: Row['unit'], kind: string): Samples[string] {
  let row = rows.get(op);
  if (row === undefined) {
    row = { op, unit, by: {} };
    rows.set(op, row);
  }
  let cell = row.by[kind];
  if (cell === undefined) {
    cell = { samples: [], errors: [], info: [] };
    row.by[kind] = cell;
  }
  return cell;
}

/** Closed-loop load: `conns` workers send requests back to back for `seconds`. */
async function load(
  ctx: Ctx,
  conns: number,
  seconds: number,
  make: (k: number) => { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ rps: number; errors: number; latencies: number[]; firstError: string }> {
  const agent = new Agent({ keepAlive: true, maxSockets: conns });
  const until = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  let firstError = '';
  const latencies: number[] = [];
  const t0 = Date.now();
  const worker = async (w: number): Promise<void> => {
    for (let k = w; Date.now() < until; k += conns) {
      try {
        const r = await send(ctx.server.baseUrl, { ...make(k), agent, timeoutMs: 30000 });
        latencies.push(r.ms);
        if (r.status >= 200 && r.status < 300) done++;
        else {
          errors++;
          firstError ||= `status ${r.status}`;
        }
      } catch (err) {
        errors++;
        firstError ||= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: conns }, (_, w) => worker(w)));
  const elapsed = (Date.now() - t0) / 1000;
  agent.destroy();
  return { rps: done / elapsed, errors, latencies, firstError };
}

async function loadTests(plan: Plan, ctxs: Ctx[], rows: Map<string, Row>): Promise<void> {
  const n = plan.calendars[0] ?? 0;
  const path = calPath(n);
  const kinds: Array<
    [string, (k: number) => { method: string; path: string; headers?: Record<string, string>; body?: string }]
  > = [
    ['GET item', (k) => ({ method: 'GET', path: path + eventHref(`cal-${n}`, (k * 13) % n) })],
    [
      'PROPFIND D0 getctag+sync-token',
      () => ({ method: 'PROPFIND', path, headers: xmlHeaders('0'), body: PROPFIND_CTAG }),
    ],
  ];
  for (const conns of [8, 64]) {
    for (const [what, make] of kinds) {
      const order = conns === 8 ? ctxs : [...ctxs].reverse();
      for (const ctx of order) {
        const r = await load(ctx, conns, plan.loadSeconds, make);
        const name = `concurrent ${what} x${conns} on cal-${n}`;
        const cell = cellOf(rows, name, 'req/s', ctx.server.kind);
        cell.samples.push(r.rps);
        const st = stats(r.latencies);
        cell.info.push(
          `${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}; latency median ${st.median.toFixed(1)} ms, p95 ${st.p95.toFixed(1)} ms`,
        );
        for (let e = 0; e < r.errors; e++) cell.errors.push(e === 0 ? r.firstError : 'same');
      }
    }
  }
}

/** Starts a server and times until the first PROPFIND Depth 1 of the largest calendar answers 207. */
async function startAndTime(
  kind: ServerKind,
  folder: string,
  htpasswd: string,
  bigPath: string,
): Promise<{ server: RunningServer; ms: number }> {
  const t0 = process.hrtime.bigint();
  const server = await startServer(kind, folder, htpasswd);
  const agent = new Agent({ keepAlive: false });
  for (;;) {
    try {
      const r = await send(server.baseUrl, {
        method: 'PROPFIND',
        path: bigPath,
        agent,
        headers: xmlHeaders('1'),
        body: PROPFIND_ETAG_TYPE,
      });
      if (r.status === 207) break;
      throw new Error(`PROPFIND -> ${r.status}`);
    } catch (err) {
      const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (elapsedMs > 600000)
        throw new Error(`${kind} did not answer: ${String(err)}\n${server.stderrTail()}`, { cause: err });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { server, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

/**
 * The first PROPFIND of every other collection after start-up (both servers build their caches then); kept
 * out of the repeated measurements so one cold sample does not eat a slow server's time budget.
 */
async function firstListings(plan: Plan, ctxs: Ctx[], rows: Map<string, Row>): Promise<void> {
  const biggest = Math.max(...plan.calendars);
  const paths = [...plan.calendars.filter((n) => n !== biggest).map(calPath), BOOK];
  const first = async (ctx: Ctx, name: string, opts: Omit<RequestOptions, 'agent'>): Promise<void> => {
    try {
      const r = await expect(
        ctx.server.baseUrl,
        { ...opts, agent: ctx.agent, timeoutMs: 600_000 },
        [200, 207],
      );
      cellOf(rows, name, 'ms', ctx.server.kind).samples.push(r.ms);
    } catch (err) {
      cellOf(rows, name, 'ms', ctx.server.kind).errors.push(err instanceof Error ? err.message : String(err));
    }
  };
  for (const path of paths) {
    for (const ctx of ctxs) {
      await first(ctx, `first PROPFIND D1 after start ${path}`, {
        method: 'PROPFIND',
        path,
        headers: xmlHeaders('1'),
        body: PROPFIND_ETAG_TYPE,
      });
    }
  }
  // The first sync of a never-synced calendar and its first (cold) whole GET, biggest last.
  for (const n of [...plan.calendars].sort((a, b) => a - b)) {
    for (const ctx of ctxs) {
      await first(ctx, `first sync-collection of a never-synced calendar (${n})`, {
        method: 'REPORT',
        path: calPath(n),
        headers: xmlHeaders('0'),
        body: syncCollection(''),
      });
      await first(ctx, `first GET whole calendar after start (${n})`, { method: 'GET', path: calPath(n) });
    }
  }
}

/** Restarts each server on its own, now used, folder (its caches present) and times the first answer. */
async function restarts(
  ctxs: Ctx[],
  work: string,
  htpasswd: string,
  bigPath: string,
  rows: Map<string, Row>,
  biggest: number,
): Promise<void> {
  for (const ctx of ctxs) {
    const kind = ctx.server.kind;
    await ctx.server.stop();
    const { server, ms } = await startAndTime(kind, join(work, kind), htpasswd, bigPath);
    ctx.server = server;
    cellOf(
      rows,
      `restart on used folder until first PROPFIND D1 answers (${biggest})`,
      'ms',
      kind,
    ).samples.push(ms);
    console.log(`${kind} restarted in ${ms.toFixed(0)} ms`);
  }
}

function fmt(x: number, unit: Row['unit']): string {
  if (!Number.isFinite(x)) return '-';
  if (unit === 'req/s') return x.toFixed(0);
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function cellText(row: Row, kind: string): string {
  const cell = row.by[kind];
  if (cell === undefined) return 'n/a';
  if (cell.samples.length === 0) return `ERROR: ${(cell.errors[0] ?? '').slice(0, 60)}`;
  const st = stats(cell.samples);
  const errs = cell.errors.length > 0 ? ` (${cell.errors.length} err)` : '';
  if (row.unit !== 'ms') return `${fmt(st.median, row.unit)} ${row.unit}${errs}`;
  return `${fmt(st.median, 'ms')} / ${fmt(st.p95, 'ms')}${errs}`;
}

function ratioText(row: Row): string {
  const a = row.by.almanac;
  const r = row.by.radicale;
  if (a === undefined || r === undefined || a.samples.length === 0 || r.samples.length === 0) return '-';
  const ma = stats(a.samples).median;
  const mr = stats(r.samples).median;
  // Latency: Radicale/Almanac; throughput: Almanac/Radicale — both read as "times faster than Radicale".
  const ratio = row.unit === 'req/s' ? ma / mr : mr / ma;
  return `${ratio.toFixed(1)}x`;
}

/** PostgreSQL against the folder: latency pg/fs, throughput fs/pg — both read as "times slower". */
function storageRatioText(row: Row): string {
  const f = row.by.almanac;
  const p = row.by['almanac-pg'];
  if (f === undefined || p === undefined || f.samples.length === 0 || p.samples.length === 0) return '-';
  const mf = stats(f.samples).median;
  const mp = stats(p.samples).median;
  return `${(row.unit === 'req/s' ? mf / mp : mp / mf).toFixed(2)}x`;
}

function printTable(rows: Row[]): string {
  const storages = rows.some((r) => r.by['almanac-pg'] !== undefined);
  const header = storages
    ? ['operation', 'filesystem median/p95', 'PostgreSQL median/p95', 'pg/fs']
    : ['operation', 'Almanac median/p95', 'Radicale median/p95', 'speed-up'];
  const body = rows.map((row) => [
    row.unit === 'ms' ? row.op + ' [ms]' : `${row.op} [${row.unit}]`,
    cellText(row, 'almanac'),
    cellText(row, storages ? 'almanac-pg' : 'radicale'),
    storages ? storageRatioText(row) : ratioText(row),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
  return out;
}

/** The commit measured, and whether src/ had uncommitted changes (others work in the same checkout). */
function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--short', 'src'], { encoding: 'utf8' }).trim();
    return dirty === '' ? head : `${head} + uncommitted src changes: ${dirty.split('\n').join('; ')}`;
  } catch {
    return 'git unavailable';
  }
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime unavailable';
  }
}

interface RunMeta {
  startedAt: Date;
  plan: Plan;
  source: string;
  loadBefore: string;
}

/** Writes bench/results/<date>-<size>.json (also after each operation, marked partial, so a killed run keeps its data). */
async function writeResults(meta: RunMeta, rows: Map<string, Row>, complete: boolean): Promise<string> {
  const list = [...rows.values()];
  const table = printTable(list);
  const outDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  await mkdir(outDir, { recursive: true });
  // A run without Radicale is no side-by-side result: it never replaces one.
  const suffix =
    (meta.plan.storage === 'filesystem'
      ? ''
      : `-${meta.plan.storage === 'both' ? 'storages' : 'postgresql'}`) +
    (meta.plan.servers.includes('radicale') || meta.plan.size === '100000' ? '' : '-almanac-only');
  const outFile = join(
    outDir,
    `${meta.startedAt.toISOString().slice(0, 10)}-${meta.plan.size}${suffix}.json`,
  );
  const json = {
    startedAt: meta.startedAt.toISOString(),
    complete,
    plan: meta.plan,
    node: process.version,
    source: meta.source,
    loadBefore: meta.loadBefore,
    loadAfter: uptime(),
    rows: list.map((row) => ({
      op: row.op,
      unit: row.unit,
      speedup: ratioText(row),
      by: Object.fromEntries(Object.entries(row.by).map(([k, c]) => [k, { ...stats(c.samples), ...c }])),
    })),
    table,
  };
  await writeFile(outFile, JSON.stringify(json, null, 2) + '\n');
  if (complete) console.log(`wrote ${outFile}`);
  return table;
}

/**
 * Another collection's GET and PROPFIND latency while a whole-calendar import of `events` runs: the
 * quiet medians first, then the medians during the import (reads for at most 60 s; a server that is
 * still importing then is left to finish while it is being stopped).
 */
async function readsDuringImport(
  plan: Plan,
  ctxs: Ctx[],
  rows: Map<string, Row>,
  events: number,
): Promise<void> {
  const body = calendarIcs('big-import', events);
  const readPath = calPath(Math.min(...plan.calendars));
  const reads = (k: number): Omit<RequestOptions, 'agent'> =>
    k % 2 === 0
      ? { method: 'GET', path: readPath + eventHref(`cal-${Math.min(...plan.calendars)}`, k % 100) }
      : { method: 'PROPFIND', path: readPath, headers: xmlHeaders('0'), body: PROPFIND_CTAG };
  for (const ctx of ctxs) {
    const kind = ctx.server.kind;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sample = async (k: number): Promise<number> => {
      const r = await send(ctx.server.baseUrl, { ...reads(k), agent });
      if (r.status >= 400) throw new Error(`read answered ${r.status}`);
      return r.ms;
    };
    const quiet: number[] = [];
    for (let k = 0; k < 40; k++) quiet.push(await sample(k));
    cellOf(rows, `GET/PROPFIND of another collection, quiet`, 'ms', kind).samples.push(...quiet);
    const importing = send(ctx.server.baseUrl, {
      method: 'PUT',
      path: `/${USER}/big-import/`,
      headers: icsHeaders(),
      body,
      agent: new Agent({ keepAlive: false }),
    });
    let done = false;
    void importing.then(
      () => (done = true),
      () => (done = true),
    );
    const during: number[] = [];
    const until = Date.now() + 60_000;
    await new Promise((r) => setTimeout(r, 200)); // let the import start
    for (let k = 0; !done && Date.now() < until; k++) {
      try {
        during.push(await sample(k));
      } catch (err) {
        cellOf(
          rows,
          `GET/PROPFIND of another collection during a ${events}-event import`,
          'ms',
          kind,
        ).errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    cellOf(
      rows,
      `GET/PROPFIND of another collection during a ${events}-event import`,
      'ms',
      kind,
    ).samples.push(...during);
    if (done) await importing.catch(() => undefined);
    agent.destroy();
    console.log(
      `  reads during import on ${kind}: ${during.length} reads, import ${done ? 'finished' : 'still running'}`,
    );
  }
}

/** Copies the generated folder into a fresh PostgreSQL database and points Almanac at it. */
async function usePostgres(folder: string, kind: ServerKind): Promise<void> {
  const { createTestDatabase } = await import('../test/helpers/postgres.js');
  const url = await createTestDatabase();
  const t0 = Date.now();
  const copy = spawnSync(
    process.execPath,
    ['dist/cli/main.js', 'storage', 'copy', '--from', folder, '--to', url],
    {
      encoding: 'utf8',
    },
  );
  if (copy.status !== 0) throw new Error(`storage copy failed: ${copy.stderr}`);
  console.log(`copied the data folder into PostgreSQL in ${Date.now() - t0} ms`);
  setAlmanacExtraArgs(['--storage-type', 'postgresql', '--storage-postgresql-url', url], kind);
}

async function main(): Promise<void> {
  const plan = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const loadBefore = uptime();
  const source = gitState();
  console.log(`almanac source: ${source}`);
  console.log(`bench size=${plan.size} servers=${plan.servers.join(',')} reps=${plan.reps}; ${loadBefore}`);
  const work = await mkdtemp(join(tmpdir(), 'almanac-bench-'));
  const htpasswd = join(work, 'htpasswd');
  await writeFile(htpasswd, 'bench:bench\n');
  const base = join(work, 'base');
  const t0 = Date.now();
  await writeDataFolder(base, spec(plan));
  console.log(`generated data folder in ${Date.now() - t0} ms`);

  const rows = new Map<string, Row>();
  const meta: RunMeta = { startedAt, plan, source, loadBefore };
  const ctxs: Ctx[] = [];
  const bigPath = calPath(Math.max(...plan.calendars));
  const rss: Record<string, Record<string, number>> = {};
  try {
    for (const kind of plan.servers) {
      const folder = join(work, kind);
      await cp(base, folder, { recursive: true });
      if (kind === 'almanac-pg' || (kind === 'almanac' && plan.storage === 'postgresql'))
        await usePostgres(folder, kind);
      const { server, ms } = await startAndTime(kind, folder, htpasswd, bigPath);
      cellOf(
        rows,
        `start-up until first PROPFIND D1 answers (${Math.max(...plan.calendars)})`,
        'ms',
        kind,
      ).samples.push(ms);
      rss[kind] = { afterStartMiB: (await rssKiB(server.pid)) / 1024 };
      ctxs.push({ server, agent: new Agent({ keepAlive: true, maxSockets: 1 }), tokens: new Map() });
      console.log(`${kind} up on ${server.baseUrl} (pid ${server.pid}) in ${ms.toFixed(0)} ms`);
    }
    await firstListings(plan, ctxs, rows);
    const ops: Array<[string, Op]> = [];
    for (const n of plan.calendars) ops.push(...calendarOps(n));
    ops.push(...contactOps(plan.contacts), ...importOp(plan.importEvents));
    for (const [name, op] of ops) {
      if (plan.skip !== undefined && new RegExp(plan.skip).test(name)) continue;
      Object.defineProperty(op, 'name', { value: name });
      const t = Date.now();
      await measure(plan, ctxs, rows, op);
      console.log(`  ${name}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
      await writeResults(meta, rows, false);
    }
    for (const ctx of ctxs)
      (rss[ctx.server.kind] ??= {}).afterWorkloadMiB = (await rssKiB(ctx.server.pid)) / 1024;
    await loadTests(plan, ctxs, rows);
    for (const ctx of ctxs)
      (rss[ctx.server.kind] ??= {}).afterLoadTestMiB = (await rssKiB(ctx.server.pid)) / 1024;
    await restarts(ctxs, work, htpasswd, bigPath, rows, Math.max(...plan.calendars));
    if (!(plan.skip !== undefined && new RegExp(plan.skip).test('reads during import')))
      await readsDuringImport(plan, ctxs, rows, Math.max(...plan.calendars));
  } finally {
    for (const ctx of ctxs) {
      ctx.agent.destroy();
      await ctx.server.stop();
    }
  }
  for (const [kind, r] of Object.entries(rss)) {
    for (const [what, mib] of Object.entries(r))
      cellOf(rows, `RSS ${what.replace(/MiB$/, '')}`, 'MiB', kind).samples.push(mib);
  }
  const table = await writeResults(meta, rows, true);
  console.log('\n' + table);
  console.log(`\nmachine load: before ${loadBefore}\n              after  ${uptime()}`);
  await rm(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
