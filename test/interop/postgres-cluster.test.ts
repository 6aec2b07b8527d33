/**
 * Two Almanac processes on one PostgreSQL database behind a real nginx (round-robin): 20 clients do
 * interleaved PUT/GET/DELETE/sync and If-Match increments of one shared counter. Afterwards every
 * client's items are as it last wrote them, the counter holds every acknowledged increment (no lost
 * update), and every sync token a client received replays, from the state the client had then, to
 * the final listing. The second run SIGKILLs one instance mid-way: no acknowledged write is lost and
 * the other instance keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NS, parseXml, type XmlElement } from '../../src/dav/xml.js';
import { createTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import {
  findTool,
  freePort,
  httpRequest,
  nginxDir,
  startNginx,
  type HttpReply,
  type RunningNginx,
} from './helpers/nginx.js';

const ROOT = resolve(import.meta.dirname, '../..');
const AUTH = ['alice', 'alicepw'] as const;
const CAL = '/alice/cal/';
const COUNTER = `${CAL}counter.ics`;
const CLIENTS = 20;
const OPS_PER_CLIENT = 16;

const missing = !postgresAvailable()
  ? 'PostgreSQL is missing: apt-get install postgresql'
  : findTool('nginx') === undefined
    ? 'nginx is missing: apt-get install nginx'
    : false;
if (missing && process.env.CI === 'true') throw new Error(`${missing} (CI must install it)`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const event = (uid: string, summary: string): string =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac cluster test//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20260101T000000Z',
    'DTSTART:20260110T100000Z',
    'DTEND:20260110T110000Z',
    `SUMMARY:${summary}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

const summaryOf = (text: string): string => /^SUMMARY:(.*?)\r?$/m.exec(text)?.[1] ?? '';

interface Instance {
  readonly port: number;
  readonly proc: ChildProcess;
}

async function startInstance(dir: string, url: string, name: string): Promise<Instance> {
  const port = await freePort();
  const conf = join(dir, `${name}.ini`);
  writeFileSync(
    conf,
    `[server]\nhosts = 127.0.0.1:${port}\nmax_connections = 40\n` +
      `[auth]\ntype = htpasswd\nhtpasswd_filename = ${join(dir, 'users')}\nhtpasswd_encryption = plain\ndelay = 0.01\n` +
      `[storage]\ntype = postgresql\npostgresql_url = ${url}\npostgresql_pool_size = 5\n` +
      `[logging]\nlevel = warning\n`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--config', conf], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    const up = await httpRequest(`http://127.0.0.1:${port}/`, 'OPTIONS').then(
      () => true,
      () => false,
    );
    if (up) return { port, proc };
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`Almanac ${name} did not start`);
}

/** A request that reports a lost connection as status 0 instead of throwing. */
async function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string> } = {},
): Promise<HttpReply> {
  try {
    return await httpRequest(base + path, method, { ...opts, auth: AUTH });
  } catch {
    return { status: 0, headers: {}, body: '' };
  }
}

const put = (
  base: string,
  path: string,
  text: string,
  headers: Record<string, string> = {},
): Promise<HttpReply> =>
  call(base, 'PUT', path, {
    body: text,
    headers: { 'Content-Type': 'text/calendar; charset=utf-8', ...headers },
  });

function responses(body: string): XmlElement[] {
  return parseXml(body).children.filter((c) => c.ns === NS.D && c.local === 'response');
}

function find(el: XmlElement, local: string): XmlElement | undefined {
  if (el.local === local) return el;
  for (const c of el.children) {
    const f = find(c, local);
    if (f) return f;
  }
  return undefined;
}

/** href → ETag of every item, from a Depth 1 PROPFIND. */
async function listing(base: string): Promise<Map<string, string>> {
  const r = await call(base, 'PROPFIND', CAL, {
    headers: { Depth: '1' },
    body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>',
  });
  assert.equal(r.status, 207);
  const out = new Map<string, string>();
  for (const resp of responses(r.body)) {
    const href = find(resp, 'href')?.text.trim() ?? '';
    if (href !== CAL) out.set(href, find(resp, 'getetag')?.text.trim() ?? '');
  }
  return out;
}

interface SyncAnswer {
  readonly token: string;
  readonly changed: Map<string, string>;
  readonly deleted: string[];
}

async function syncFrom(base: string, token: string): Promise<SyncAnswer | undefined> {
  const r = await call(base, 'REPORT', CAL, {
    headers: { Depth: '1', 'Content-Type': 'application/xml' },
    body: `<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
  });
  if (r.status !== 207) return undefined;
  const root = parseXml(r.body);
  const changed = new Map<string, string>();
  const deleted: string[] = [];
  for (const resp of responses(r.body)) {
    const href = find(resp, 'href')?.text.trim() ?? '';
    const etag = find(resp, 'getetag')?.text.trim();
    if (etag !== undefined && etag !== '') changed.set(href, etag);
    else deleted.push(href);
  }
  const tok = root.children.find((c) => c.local === 'sync-token')?.text.trim() ?? '';
  return { token: tok, changed, deleted };
}

const apply = (state: Map<string, string>, a: SyncAnswer): Map<string, string> => {
  const next = new Map(state);
  for (const [h, e] of a.changed) next.set(h, e);
  for (const h of a.deleted) next.delete(h);
  return next;
};

/** What a client may find at one of its hrefs: the summaries it may have left there (undefined = absent). */
type Possible = (string | undefined)[];

interface ClientResult {
  acked: number;
  uncertainIncrements: number;
  model: Map<string, Possible>;
  token: string;
  replica: Map<string, string>;
  checkpoints: { token: string; state: Map<string, string> }[];
  unexpected: string[];
}

/** Deterministic pseudo-random numbers per client. */
function rng(seed: number): () => number {
  let s = seed * 7919 + 17;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

async function increment(base: string, r: ClientResult): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const g = await call(base, 'GET', COUNTER);
    if (g.status !== 200) continue;
    const n = Number(summaryOf(g.body).replace('count ', ''));
    const p = await put(base, COUNTER, event('counter', `count ${n + 1}`), {
      'If-Match': String(g.headers.etag),
    });
    if (p.status === 204) {
      r.acked++;
      return;
    }
    if (p.status !== 412) r.uncertainIncrements++;
    // A 412 after nginx retried a PUT that the killed instance had committed also leaves one extra.
    if (p.status === 412) r.uncertainIncrements++;
    await sleep(5);
  }
}

async function client(base: string, i: number, ops: number, progress: () => void): Promise<ClientResult> {
  const rand = rng(i + 1);
  const r: ClientResult = {
    acked: 0,
    uncertainIncrements: 0,
    model: new Map(),
    token: '',
    replica: new Map(),
    checkpoints: [],
    unexpected: [],
  };
  const hrefs = [0, 1, 2].map((j) => `${CAL}c${i}-${j}.ics`);
  for (const h of hrefs) r.model.set(h, [undefined]);
  const note = (what: string, reply: HttpReply): void => void r.unexpected.push(`${what}: ${reply.status}`);
  for (let k = 0; k < ops; k++) {
    const x = rand();
    const href = hrefs[Math.floor(rand() * hrefs.length)] ?? '';
    const possible = r.model.get(href) ?? [];
    if (x < 0.35) {
      const summary = `c${i} v${k}`;
      const p = await put(base, href, event(href, summary));
      if (p.status === 201 || p.status === 204) r.model.set(href, [summary]);
      else {
        note(`PUT ${href}`, p);
        r.model.set(href, [...possible, summary]);
      }
    } else if (x < 0.55) {
      const g = await call(base, 'GET', href);
      const seen = g.status === 200 ? summaryOf(g.body) : g.status === 404 ? undefined : null;
      if (seen === null) note(`GET ${href}`, g);
      else if (!possible.includes(seen))
        r.unexpected.push(`GET ${href}: ${String(seen)} not in ${possible.join('|')}`);
      else r.model.set(href, [seen]);
    } else if (x < 0.65) {
      const d = await call(base, 'DELETE', href);
      if (d.status === 200 || (d.status === 404 && possible.includes(undefined)))
        r.model.set(href, [undefined]);
      else {
        note(`DELETE ${href}`, d);
        r.model.set(href, [...possible, undefined]);
      }
    } else if (x < 0.85) {
      const a = await syncFrom(base, r.token);
      if (a === undefined) r.unexpected.push('sync failed');
      else {
        r.replica = apply(r.replica, a);
        r.token = a.token;
        r.checkpoints.push({ token: a.token, state: new Map(r.replica) });
      }
    } else {
      await increment(base, r);
    }
    progress();
  }
  return r;
}

async function runLoad(base: string, onProgress: (done: number) => void): Promise<ClientResult[]> {
  let done = 0;
  const tick = (): void => onProgress(++done);
  return Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(base, i, OPS_PER_CLIENT, tick)));
}

/** The checks that hold with or without a killed instance. */
async function verify(base: string, results: ClientResult[]): Promise<void> {
  const final = await listing(base);
  for (const [i, r] of results.entries()) {
    for (const [href, possible] of r.model) {
      const g = await call(base, 'GET', href);
      const seen = g.status === 200 ? summaryOf(g.body) : undefined;
      assert.ok(g.status === 200 || g.status === 404, `GET ${href}: ${g.status}`);
      assert.ok(
        possible.includes(seen),
        `client ${i}: ${href} is ${String(seen)}, expected one of ${possible.join('|')}`,
      );
    }
    // Every token the client received replays, from the state it had then, to the final listing.
    const last = await syncFrom(base, r.token);
    assert.ok(last);
    assert.deepEqual(apply(r.replica, last), final, `client ${i}: replica after the final sync`);
    for (const cp of r.checkpoints) {
      const a = await syncFrom(base, cp.token);
      assert.ok(a, `client ${i}: token ${cp.token} refused`);
      assert.deepEqual(apply(cp.state, a), final, `client ${i}: replay of ${cp.token}`);
    }
  }
  const counter = await call(base, 'GET', COUNTER);
  const value = Number(summaryOf(counter.body).replace('count ', ''));
  const acked = results.reduce((n, r) => n + r.acked, 0);
  const uncertain = results.reduce((n, r) => n + r.uncertainIncrements, 0);
  assert.ok(value >= acked, `counter ${value} lost acknowledged increments (${acked})`);
  assert.ok(value <= acked + uncertain, `counter ${value} above ${acked} + ${uncertain} unacknowledged`);
}

describe('two Almanac processes on one PostgreSQL behind nginx round-robin', { skip: missing }, () => {
  let dir = '';
  let url = '';
  let a: Instance;
  let b: Instance;
  let nginx: RunningNginx;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'almanac-cluster-'));
    writeFileSync(join(dir, 'users'), 'alice:alicepw\n');
    url = await createTestDatabase();
    a = await startInstance(dir, url, 'a');
    b = await startInstance(dir, url, 'b');
    nginx = await startNginx(nginxDir(), {
      http: `upstream almanac_pool { server 127.0.0.1:${a.port} max_fails=1 fail_timeout=60s; server 127.0.0.1:${b.port} max_fails=1 fail_timeout=60s; }`,
      locations: `location / { proxy_pass http://almanac_pool; proxy_set_header Host $host:$server_port; }`,
    });
    const mk = await call(nginx.url, 'MKCALENDAR', CAL);
    assert.equal(mk.status, 201, mk.body);
  });

  after(async () => {
    await nginx.stop();
    for (const inst of [a, b])
      if (inst.proc.exitCode === null && inst.proc.signalCode === null) inst.proc.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  });

  it('20 clients: no lost update, each client sees its writes, every sync token replays to the final state', async () => {
    assert.equal((await put(nginx.url, COUNTER, event('counter', 'count 0'))).status, 201);
    const results = await runLoad(nginx.url, () => undefined);
    for (const [i, r] of results.entries()) assert.deepEqual(r.unexpected, [], `client ${i}`);
    const acked = results.reduce((n, r) => n + r.acked, 0);
    const tokens = results.reduce((n, r) => n + r.checkpoints.length, 0);
    assert.ok(acked > 0 && tokens > 0, 'the load did increments and syncs');
    await verify(nginx.url, results);
    const counter = await call(nginx.url, 'GET', COUNTER);
    assert.equal(
      summaryOf(counter.body),
      `count ${acked}`,
      'without failures the counter is exactly the acknowledged increments',
    );
    // Both instances answer the same listing.
    assert.deepEqual(
      await listing(`http://127.0.0.1:${a.port}`),
      await listing(`http://127.0.0.1:${b.port}`),
    );
  });

  it('SIGKILL of one instance mid-load loses no acknowledged write; the other keeps serving', async () => {
    const total = CLIENTS * OPS_PER_CLIENT;
    let killed = false;
    const results = await runLoad(nginx.url, (done) => {
      if (!killed && done >= total / 3) {
        killed = true;
        b.proc.kill('SIGKILL');
      }
    });
    assert.ok(killed);
    if (b.proc.exitCode === null && b.proc.signalCode === null)
      await new Promise((r) => b.proc.once('exit', r));
    assert.equal(b.proc.signalCode, 'SIGKILL');
    await verify(nginx.url, results);
    await verify(`http://127.0.0.1:${a.port}`, results);
    // Only requests in flight at the kill may have failed.
    const failures = results.flatMap((r) => r.unexpected.filter((u) => !u.startsWith('GET')));
    assert.ok(failures.length <= CLIENTS, failures.join('\n'));
  });
});
