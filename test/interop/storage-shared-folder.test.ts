/**
 * Two servers on one data folder, as the README allows: two Almanac processes, and Almanac beside
 * Debian's Radicale 3.1.8. Each round both servers are sent, at the same moment, a write that only
 * one of them may win: a new item with the same UID under two names (one 201, one 409
 * no-uid-conflict), and a replacement of one item with the same If-Match (one winner, one 412).
 * Whatever the timing, the folder must end with no UID twice and each round with exactly one winner.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serverArgs, startRadicale, type RunningRadicale } from '../helpers/radicale.js';
import { freePort } from '../helpers/net.js';
import { requirePythonModule } from './helpers/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const ROUNDS = 30;
const AUTH = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;

interface Server {
  readonly name: string;
  readonly url: string;
  stop(): Promise<void>;
}

async function startAlmanacProcess(name: string, folder: string, htpasswd: string): Promise<Server> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, ...serverArgs(port, folder, htpasswd), '--logging-level', 'warning'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${log}`);
    try {
      await fetch(`${url}/`, { method: 'OPTIONS' });
      return { name, url, stop: () => stopChild(child) };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not start: ${log}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

function radicaleServer(r: RunningRadicale): Server {
  return { name: 'radicale', url: r.url, stop: () => stopChild(r.proc) };
}

const event = (uid: string, summary: string): string =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//race//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTART:20260401T080000Z',
    'DTEND:20260401T090000Z',
    'DTSTAMP:20260101T090000Z',
    `SUMMARY:${summary}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

async function put(
  server: Server,
  href: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; etag: string | null }> {
  const res = await fetch(`${server.url}/alice/cal/${href}`, {
    method: 'PUT',
    headers: { Authorization: AUTH, 'Content-Type': 'text/calendar; charset=utf-8', ...headers },
    body,
    // Bounded: a server that hangs fails the round instead of the whole run.
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  return { status: res.status, etag: res.headers.get('etag') };
}

/** UID → files holding it, read from the folder itself. */
function uidsOnDisk(folder: string): Map<string, string[]> {
  const dir = join(folder, 'collection-root/alice/cal');
  const out = new Map<string, string[]>();
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const uid = /^UID:(.*)\r$/m.exec(readFileSync(join(dir, name), 'utf8'))?.[1] ?? '';
    out.set(uid, [...(out.get(uid) ?? []), name]);
  }
  return out;
}

interface Outcome {
  uidRaces: string[];
  matchRaces: string[];
}

/** Both kinds of race, `ROUNDS` times each, between servers `a` and `b`. */
async function race(folder: string, a: Server, b: Server): Promise<Outcome> {
  const uidRaces: string[] = [];
  const matchRaces: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // The same UID under two names, one through each server.
    const uid = `same-uid-${round}`;
    const [ra, rb] = await Promise.all([
      put(a, `${uid}-a.ics`, event(uid, 'via a'), { 'If-None-Match': '*' }),
      put(b, `${uid}-b.ics`, event(uid, 'via b'), { 'If-None-Match': '*' }),
    ]);
    uidRaces.push([ra.status, rb.status].sort().join('/'));
    // One item, replaced through both servers with the same If-Match.
    const href = `match-${round}.ics`;
    const first = await put(a, href, event(`match-${round}`, 'first'), { 'If-None-Match': '*' });
    assert.equal(first.status, 201);
    assert.ok(first.etag);
    const [ma, mb] = await Promise.all([
      put(a, href, event(`match-${round}`, 'second via a'), { 'If-Match': first.etag }),
      put(b, href, event(`match-${round}`, 'second via b'), { 'If-Match': first.etag }),
    ]);
    const won = [ma, mb].filter((r) => r.status < 300).length;
    const losers = [ma, mb].filter((r) => r.status >= 300).map((r) => r.status);
    let outcome =
      won === 1 && losers[0] === 412 ? 'one winner' : `${won} won, others ${losers.join('/') || 'none'}`;
    const stored = readFileSync(join(folder, 'collection-root/alice/cal', href), 'utf8');
    const winner = ma.status < 300 ? 'via a' : 'via b';
    if (won === 1 && !stored.includes(`SUMMARY:second ${winner}`))
      outcome = "the winner's text is not stored";
    matchRaces.push(outcome);
  }
  return { uidRaces, matchRaces };
}

function assertOneWinnerEach(folder: string, outcome: Outcome): void {
  const count = (xs: string[]): Record<string, number> =>
    xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});
  // Everything in one assertion, so a failure shows every round's outcome.
  const duplicates = [...uidsOnDisk(folder)].filter(([, files]) => files.length > 1);
  assert.deepEqual(
    {
      uidRaces: count(outcome.uidRaces),
      matchRaces: count(outcome.matchRaces),
      duplicates,
    },
    { uidRaces: { '201/409': ROUNDS }, matchRaces: { 'one winner': ROUNDS }, duplicates: [] },
  );
}

function makeFolder(): { folder: string; htpasswd: string; tmp: string } {
  const tmp = mkdtempSync(join(tmpdir(), 'almanac-shared-'));
  const htpasswd = join(tmp, 'users');
  writeFileSync(htpasswd, 'alice:alicepw\n');
  return { folder: join(tmp, 'collections'), htpasswd, tmp };
}

async function makeCalendar(server: Server): Promise<void> {
  const res = await fetch(`${server.url}/alice/cal/`, {
    method: 'MKCALENDAR',
    headers: { Authorization: AUTH },
  });
  assert.equal(res.status, 201);
}

describe('two servers writing to one folder', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  describe('two Almanac processes', () => {
    let a: Server;
    let b: Server;
    let folder: string;
    before(async () => {
      const made = makeFolder();
      folder = made.folder;
      cleanup.push(() => rmSync(made.tmp, { recursive: true, force: true }));
      [a, b] = await Promise.all([
        startAlmanacProcess('almanac-a', folder, made.htpasswd),
        startAlmanacProcess('almanac-b', folder, made.htpasswd),
      ]);
      cleanup.push(
        () => a.stop(),
        () => b.stop(),
      );
      await makeCalendar(a);
      // Both have listed the calendar (and watch it) before the races start.
      for (const s of [a, b]) await put(s, `warm-${s.name}.ics`, event(`warm-${s.name}`, 'warm'), {});
    });

    it(`${ROUNDS} rounds: no duplicate UID, exactly one If-Match winner`, async () => {
      assertOneWinnerEach(folder, await race(folder, a, b));
    });
  });

  describe('Almanac and Radicale 3.1.8', () => {
    it(`${ROUNDS} rounds: no duplicate UID, exactly one If-Match winner`, async (t: TestContext) => {
      if (!requirePythonModule(t, 'radicale', 'radicale')) return;
      const made = makeFolder();
      cleanup.push(() => rmSync(made.tmp, { recursive: true, force: true }));
      const almanac = await startAlmanacProcess('almanac', made.folder, made.htpasswd);
      cleanup.push(() => almanac.stop());
      await makeCalendar(almanac);
      const radicale = radicaleServer(await startRadicale(made.folder, made.htpasswd));
      cleanup.push(() => radicale.stop());
      await put(almanac, 'warm.ics', event('warm', 'warm'), {});
      assertOneWinnerEach(made.folder, await race(made.folder, almanac, radicale));
    });
  });
});
