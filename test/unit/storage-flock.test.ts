/**
 * `.Radicale.lock` is a real flock(2) (through koffi), the lock Radicale takes: another process sees
 * it held and is held off by it; where it cannot be taken, start-up says so with the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { GlobalLock } from '../../src/storage/filesystem/lock.js';
import { loadLibc } from '../../src/storage/filesystem/libc.js';
import { FilesystemStorage } from '../../src/storage/filesystem/storage.js';
import type { ItemDescription } from '../../src/storage/types.js';

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
    const s = new FilesystemStorage({
      folder,
      crossProcessLock: true,
      fsync: false,
      umask: undefined,
      maxResourceSize: 1e6,
      maxSyncTokenAge: 1000,
      skipBrokenItem: true,
      hook: '',
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
