/**
 * kill -9 in the middle of a whole-collection swap, injected with strace at the rename system calls
 * themselves (no test hook in the server): the collection must never stay missing, `--verify-storage`
 * must report what the crash left, and the next start must put it right. Then the leftovers of
 * crashes: removed at start once an hour old, reported by `--verify-storage` meanwhile.
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../helpers/net.js';
import { serverArgs } from '../helpers/radicale.js';
import { requireTool } from '../interop/helpers/tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const AUTH = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;
const RENAMES = 'rename,renameat,renameat2';

const made: string[] = [];
/** Servers (and strace) started here: none outlives the tests, whatever failed. */
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    // Under strace, the server is strace's child.
    const kids = readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim().split(' ');
    c.kill('SIGKILL');
    for (const k of kids.filter(Boolean)) {
      try {
        process.kill(Number(k), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  made.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const vevent = (uid: string): string =>
  `BEGIN:VEVENT\r\nUID:${uid}\r\nDTSTART:20260401T080000Z\r\nDTEND:20260401T090000Z\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:${uid}\r\nEND:VEVENT\r\n`;
/** A VCALENDAR with one VEVENT per UID. */
const calendar = (...uids: string[]): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n${uids.map(vevent).join('')}END:VCALENDAR\r\n`;

/** A data folder written as Radicale writes one: alice's calendars, each with its items. */
function folderWith(calendars: Record<string, string[]>): { folder: string; users: string; tmp: string } {
  const tmp = mkdtempSync(join(tmpdir(), 'almanac-crash-'));
  made.push(tmp);
  const users = join(tmp, 'users');
  writeFileSync(users, 'alice:alicepw\n');
  const folder = join(tmp, 'collections');
  for (const [name, uids] of Object.entries(calendars)) {
    const dir = join(folder, 'collection-root/alice', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.Radicale.props'), '{"tag": "VCALENDAR"}');
    for (const uid of uids) writeFileSync(join(dir, `${uid}.ics`), calendar(uid));
  }
  return { folder, users, tmp };
}

interface Running {
  readonly url: string;
  /** The server's own process (under strace: strace's child). */
  serverPid(): number;
  readonly exited: Promise<void>;
  /** kill -9 of the server; resolves once it is dead (strace, held in a delay, is killed too). */
  crash(): Promise<void>;
}

/**
 * Starts Almanac, optionally under `strace` with the given arguments; resolves once it answers.
 * (Not --seccomp-bpf: with it strace 6.1 now and then skips an injection in a thread-pool thread.)
 */
async function serve(folder: string, users: string, strace?: string[]): Promise<Running> {
  const port = await freePort();
  const node = [process.execPath, '--import', 'tsx', MAIN, ...serverArgs(port, folder, users)];
  const [cmd, ...args] = strace ? ['strace', '-f', '-qq', '-o', '/dev/null', ...strace, ...node] : node;
  const child: ChildProcess = spawn(cmd as string, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited: ${log}`);
    if (
      await fetch(`${url}/`, { method: 'OPTIONS' }).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      const serverPid = (): number => {
        if (!strace) return child.pid as number;
        const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
        return Number(kids.split(' ')[0]);
      };
      const crash = async (): Promise<void> => {
        const pid = serverPid();
        // strace first: a tracee it holds in a delay dies only once strace lets go of it.
        child.kill('SIGKILL');
        if (pid !== child.pid) process.kill(pid, 'SIGKILL');
        const dead = (): boolean => {
          try {
            return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
          } catch {
            return true;
          }
        };
        await until(dead, 'the server to die');
        await exited;
      };
      return { url, serverPid, exited, crash };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start: ${log}`);
}

async function stop(r: Running): Promise<void> {
  process.kill(r.serverPid(), 'SIGTERM');
  await r.exited;
}

function verify(folder: string): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', MAIN, '--config', '', '--storage-filesystem-folder', folder, '--verify-storage'],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  return { status: r.status, out: r.stdout + r.stderr };
}

async function get(url: string): Promise<number> {
  const res = await fetch(url, { headers: { Authorization: AUTH } });
  await res.arrayBuffer();
  return res.status;
}

/** Waits (at most 30 s) until `ready()`; the crash tests kill the server at that moment. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const hidden = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.Radicale.tmp-'));

describe('a crash in the middle of a whole-collection swap', () => {
  it('PUT of a whole calendar, killed right after its rename: the calendar is never missing', async (t: TestContext) => {
    if (!requireTool(t, 'strace', 'strace')) return;
    const { folder, users } = folderWith({ cal: ['old-1', 'old-2'] });
    const alice = join(folder, 'collection-root/alice');
    const cal = join(alice, 'cal');
    // The first rename touching the calendar's folder is held for 20 s after it ran; the server is
    // killed then (a crash at the worst moment: with two renames, the calendar is aside).
    const run = await serve(folder, users, [
      '-P',
      cal,
      '-e',
      `trace=${RENAMES}`,
      '-e',
      `inject=${RENAMES}:delay_exit=20s`,
    ]);
    const upload = fetch(`${run.url}/alice/cal/`, {
      method: 'PUT',
      headers: { Authorization: AUTH, 'Content-Type': 'text/calendar' },
      body: calendar('new-1', 'new-2'),
    }).catch(() => undefined);
    await until(() => !existsSync(cal) || existsSync(join(cal, 'new-1.ics')), 'the swap');
    await run.crash();
    await upload;
    const v = verify(folder);
    assert.equal(v.status, 1, v.out);
    assert.match(
      v.out,
      /collection-root\/alice\/\.Radicale\.tmp-[0-9a-f]+: left by an interrupted write \(folder/,
    );
    const again = await serve(folder, users);
    try {
      assert.equal(await get(`${again.url}/alice/cal/new-1.ics`), 200, 'the new calendar is in place');
      assert.equal(await get(`${again.url}/alice/cal/old-1.ics`), 404);
    } finally {
      await stop(again);
    }
    // What the crash left is removed by a start once it is an hour old.
    const [left] = hidden(alice);
    assert.ok(left, 'the replaced calendar is still aside');
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(alice, left), hourAgo, hourAgo);
    const third = await serve(folder, users);
    try {
      await until(() => hidden(alice).length === 0, 'the leftover to go');
    } finally {
      await stop(third);
    }
    const clean = verify(folder);
    assert.equal(clean.status, 0, clean.out);
  });

  it('MOVE of a calendar over another, killed between the two renames: the next start puts it back', async (t: TestContext) => {
    if (!requireTool(t, 'strace', 'strace')) return;
    const { folder, users } = folderWith({ a: ['a-1'], b: ['b-1'] });
    const alice = join(folder, 'collection-root/alice');
    // Killed as it is about to rename b (the second rename: a is already aside).
    const run = await serve(folder, users, [
      '-P',
      join(alice, 'b'),
      '-e',
      `trace=${RENAMES}`,
      '-e',
      `inject=${RENAMES}:signal=KILL`,
    ]);
    const moved = await fetch(`${run.url}/alice/b/`, {
      method: 'MOVE',
      headers: { Authorization: AUTH, Destination: `${run.url}/alice/a/`, Overwrite: 'T' },
    }).then(
      (r) => r.status,
      () => 'connection lost',
    );
    assert.equal(moved, 'connection lost');
    await run.exited;
    assert.equal(existsSync(join(alice, 'a')), false, 'the crash came between the two renames');
    const v = verify(folder);
    assert.equal(v.status, 1, v.out);
    assert.match(
      v.out,
      /\/alice\/a\/: the collection is missing, moved aside by a replacement a crash interrupted; the next start puts it back/,
    );
    assert.equal(existsSync(join(alice, 'a')), false, '--verify-storage changed nothing');
    const again = await serve(folder, users);
    try {
      assert.equal(await get(`${again.url}/alice/a/a-1.ics`), 200, 'a is back as it was');
      assert.equal(await get(`${again.url}/alice/b/b-1.ics`), 200, 'b was not moved');
    } finally {
      await stop(again);
    }
    assert.deepEqual(hidden(alice), []);
    const clean = verify(folder);
    assert.equal(clean.status, 0, clean.out);
  });
});
