/**
 * `.Radicale.lock` is a real flock(2) (through koffi), the lock Radicale takes: another process sees
 * it held and is held off by it; where it cannot be taken, start-up says so with the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { GlobalLock } from '../../src/storage/filesystem/lock.js';
import { loadLibc } from '../../src/storage/filesystem/libc.js';
import { FilesystemBackend } from '../../src/storage/filesystem/storage.js';
import { type CheckedStorage } from '../../src/storage/checked-storage.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import type { ItemDescription, WriteCheck } from '../../src/storage/types.js';

const silent = pino({ level: 'silent' });

/** Whether another process (util-linux flock) could take the lock now, without waiting. */
function othersCanTake(path: string, mode: '-s' | '-x'): boolean {
  return spawnSync('flock', ['-n', mode, path, 'true']).status === 0;
}

async function withFolder(fn: (folder: string) => Promise<void>): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-flock-'));
  try {
    await fn(folder);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

void test('.Radicale.lock is a flock another process sees: exclusive for writes, shared for reads', async () => {
  await withFolder(async (folder) => {
    const path = join(folder, '.Radicale.lock');
    const lock = new GlobalLock(path, true, silent);
    await lock.open(await loadLibc());
    assert.equal(lock.crossProcessLocked, true);
    const release = await lock.exclusive();
    assert.equal(othersCanTake(path, '-s'), false, 'held exclusively');
    release();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(othersCanTake(path, '-x'), true, 'released');
    const shared = await lock.shared();
    assert.equal(othersCanTake(path, '-s'), true, 'a reader beside ours');
    assert.equal(othersCanTake(path, '-x'), false, 'no writer beside our reader');
    shared();
    await lock.close();
  });
});

void test('a write waits while another process holds .Radicale.lock, then goes through', async () => {
  await withFolder(async (folder) => {
    const describe = (text: string): ItemDescription => ({
      uid: /^UID:(.*)$/m.exec(text)?.[1]?.trim() ?? '',
      component: 'VEVENT',
      start: 0,
      end: 0,
    });
    const s = filesystemStorage({
      folder,
      maxResourceSize: 1e6,
      maxSyncTokenAge: 1000,
      describe,
      log: silent,
    });
    const ctx = { user: 'a', path: '/a/cal/', request: 'PUT' };
    await s.open();
    try {
      await s.createCollection('a', {}, ctx);
      await s.createCollection('a/cal', { tag: 'VCALENDAR' }, ctx);
      // Radicale (or an admin script) holds the lock until we close its stdin.
      const holder = spawn('flock', ['-x', join(folder, '.Radicale.lock'), 'sh', '-c', 'echo held; read x'], {
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      await new Promise<void>((r) => holder.stdout.once('data', () => r()));
      const text = 'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
      let done = false;
      const write = s
        .putItem('a/cal', 'x.ics', { text, description: describe(text) }, () => undefined, ctx)
        .then((r) => {
          done = true;
          return r;
        });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(done, false, 'the write waits for the lock');
      holder.stdin.end();
      const { created } = await write;
      assert.equal(created, true);
    } finally {
      await s.close();
    }
  });
});

/** A storage on `folder` with calendar a/cal, and a holder of `.Radicale.lock` (another process). */
async function withStorageAndHolder(
  fn: (s: CheckedStorage<FilesystemBackend>, folder: string, release: () => void) => Promise<void>,
): Promise<void> {
  await withFolder(async (folder) => {
    const s = filesystemStorage({
      folder,
      maxResourceSize: 1e6,
      maxSyncTokenAge: 1000,
      describe,
      log: silent,
    });
    await s.open();
    await s.createCollection('a', {}, ctx);
    await s.createCollection('a/cal', { tag: 'VCALENDAR' }, ctx);
    await s.listItems('a/cal');
    const holder = spawn('flock', ['-x', join(folder, '.Radicale.lock'), 'sh', '-c', 'echo held; read x'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    try {
      await new Promise<void>((r) => holder.stdout.once('data', () => r()));
      await fn(s, folder, () => holder.stdin.end());
    } finally {
      holder.kill();
      await s.close();
    }
  });
}

const describe = (text: string): ItemDescription => ({
  uid: /^UID:(.*)$/m.exec(text)?.[1]?.trim() ?? '',
  component: 'VEVENT',
  start: 0,
  end: 0,
});
const ctx = { user: 'a', path: '/a/cal/', request: 'PUT' };
const ev = (uid: string): string =>
  `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;

/** Waits until a temp entry shows in `dir`: the write is prepared and waits for `.Radicale.lock`. */
async function waitingForLock(dir: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (readdirSync(dir).some((n) => n.startsWith('.Radicale.tmp-'))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the write never got to the lock');
}

void test('what another process wrote while a write waited for the lock decides that write', async () => {
  await withStorageAndHolder(async (s, folder, release) => {
    const cal = join(folder, 'collection-root/a/cal');
    const mustBeNew: WriteCheck = (existing, _c, sameUid) => {
      if (existing) throw new Error(`refused: ${existing.href} exists`);
      if (sameUid) throw new Error(`refused: UID held by ${sameUid.href}`);
    };
    const a = s.putItem('a/cal', 'x.ics', { text: ev('x'), description: describe(ev('x')) }, mustBeNew, ctx);
    const b = s.putItem('a/cal', 'y.ics', { text: ev('y'), description: describe(ev('y')) }, mustBeNew, ctx);
    const outcomes = Promise.allSettled([a, b]);
    await waitingForLock(cal);
    // Radicale, holding the lock, writes x.ics and another item with y's UID.
    writeFileSync(join(cal, 'x.ics'), ev('other'));
    writeFileSync(join(cal, 'z.ics'), ev('y'));
    release();
    const [ra, rb] = await outcomes;
    assert.equal(ra.status === 'rejected' && String(ra.reason), 'Error: refused: x.ics exists');
    assert.equal(rb.status === 'rejected' && String(rb.reason), 'Error: refused: UID held by z.ics');
    assert.equal(readFileSync(join(cal, 'x.ics'), 'utf8'), ev('other'), "the other process's item stays");
    assert.deepEqual(
      readdirSync(cal).filter((n) => n.startsWith('.Radicale.tmp-')),
      [],
      'temp files removed',
    );
  });
});

void test('a collection another process made while a MKCOL or MOVE waited for the lock is not replaced', async () => {
  await withStorageAndHolder(async (s, folder, release) => {
    const home = join(folder, 'collection-root/a');
    const made = s.createCollection('a/new', {}, ctx);
    const moved = s.moveCollection('a/cal', 'a/taken', false, ctx);
    const outcomes = Promise.allSettled([made, moved]);
    await waitingForLock(home);
    mkdirSync(join(home, 'new'));
    mkdirSync(join(home, 'taken'));
    writeFileSync(join(home, 'taken', 'keep.ics'), ev('keep'));
    release();
    const [rm, rv] = await outcomes;
    assert.equal(rm.status === 'rejected' && (rm.reason as { code?: string }).code, 'exists');
    assert.equal(rv.status === 'rejected' && (rv.reason as { code?: string }).code, 'exists');
    assert.equal(readFileSync(join(home, 'taken', 'keep.ics'), 'utf8'), ev('keep'));
    assert.ok(readdirSync(join(home, 'cal')).includes('.Radicale.props'), 'the calendar stays where it was');
  });
});

void test('where flock cannot be used, start-up says so, with the fix', async () => {
  await withFolder(async (folder) => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb): void {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const lock = new GlobalLock(join(folder, '.Radicale.lock'), true, pino({ level: 'warn' }, sink));
    await lock.open({ problem: 'the koffi module cannot be loaded (test)' });
    assert.equal(lock.crossProcessLocked, false);
    const said = lines.join('');
    assert.match(said, /cannot take .*\.Radicale\.lock \(the koffi module cannot be loaded \(test\)\)/);
    assert.match(said, /could lose updates/);
    assert.match(said, /npm ci/);
    assert.match(said, /multifilesystem_nolock/);
    // The in-process lock still orders this process's writers.
    const release = await lock.exclusive();
    release();
  });
});

void test('syncfs(2) is called through the C library (whole-collection uploads use it)', async () => {
  const libc = await loadLibc();
  if (!('flock' in libc)) return assert.fail(libc.problem);
  const dir = mkdtempSync(join(tmpdir(), 'almanac-syncfs-'));
  try {
    const fh = await open(dir, 'r');
    try {
      assert.equal(await libc.syncfs(fh.fd), process.platform === 'linux');
    } finally {
      await fh.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
