/**
 * What checkedStorage (src/storage/checked-storage.ts) does around any backend besides the rules the
 * storage contract covers: the storage hook, once per change and one at a time. On the in-memory
 * backend, so that nothing here is a backend's own doing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkedStorage } from '../../src/storage/checked-storage.js';
import type { ChangeContext, NewItem, WriteCheck } from '../../src/storage/types.js';
import { contractDescribe } from '../contract/storage-contract.js';
import { MemoryBackend } from '../helpers/memory-storage.js';

const ok: WriteCheck = () => undefined;
const refuse: WriteCheck = () => {
  throw new Error('precondition failed');
};
const item = (uid: string): Omit<NewItem, 'href'> => {
  const text = `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
  return { text, description: contractDescribe(text) };
};
const as = (request: string, path: string, extra: Partial<ChangeContext> = {}): ChangeContext => ({
  user: 'alice',
  path,
  request,
  ...extra,
});

/** A folder for the hook to run in, and its `log` file's lines. */
async function inFolder(fn: (log: () => string[], dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'almanac-checked-'));
  try {
    await fn(() => readFileSync(join(dir, 'log'), 'utf8').trim().split('\n'), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void test('the hook runs once per change: not for a refused write, a deferred one, or props that stay', async () => {
  await inFolder(async (log, dir) => {
    const s = checkedStorage(
      new MemoryBackend({
        describe: contractDescribe,
        maxResourceSize: 10_000,
        hook: 'echo %(request)s %(path)s >> log',
        hookCwd: dir,
      }),
    );
    await s.open();
    await s.createCollection('alice', {}, as('MKCOL', '/alice/'));
    await s.createCollection('alice/cal', { tag: 'VCALENDAR' }, as('MKCOL', '/alice/cal/'));
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, as('PUT', '/alice/cal/a.ics'));
    await assert.rejects(s.putItem('alice/cal', 'b.ics', item('B'), refuse, as('PUT', '/alice/cal/b.ics')));
    // Refused by the wrapper's own rules: nothing reaches the backend, no hook.
    await assert.rejects(s.moveCollection('alice', 'alice/cal/x', false, as('MOVE', '/alice/')), {
      code: 'conflict',
    });
    await s.putItem('alice/cal', 'c.ics', item('C'), ok, as('PUT', '/alice/cal/c.ics', { deferHook: true }));
    await s.runHook(as('POST', '/alice/cal/'));
    await s.setProps('alice/cal', () => undefined, as('PROPPATCH', '/alice/cal/'));
    await s.setProps('alice/cal', (p) => ({ ...p, 'D:displayname': 'Cal' }), as('PROPPATCH', '/alice/cal/'));
    await s.moveItem(
      { path: 'alice/cal', href: 'a.ics' },
      { path: 'alice/cal', href: 'd.ics' },
      ok,
      as('MOVE', '/alice/cal/a.ics'),
    );
    await s.deleteCollection('alice/cal', as('DELETE', '/alice/cal/'));
    await s.close();
    assert.deepEqual(log(), [
      'MKCOL /alice/',
      'MKCOL /alice/cal/',
      'PUT /alice/cal/a.ics',
      'POST /alice/cal/',
      'PROPPATCH /alice/cal/',
      'MOVE /alice/cal/a.ics',
      'DELETE /alice/cal/',
    ]);
  });
});

void test('hooks run one at a time, in the order of their changes, and close waits for them', async () => {
  await inFolder(async (log, dir) => {
    const s = checkedStorage(
      new MemoryBackend({
        describe: contractDescribe,
        maxResourceSize: 10_000,
        hook: 'echo start %(path)s >> log; sleep 0.1; echo end %(path)s >> log',
        hookCwd: dir,
      }),
    );
    await s.open();
    const writes = [
      s.createCollection('a', {}, as('MKCOL', '/a/')),
      s.createCollection('b', {}, as('MKCOL', '/b/')),
      s.createCollection('c', {}, as('MKCOL', '/c/')),
    ];
    await Promise.all(writes.slice(0, 2));
    // The third change's hook is still queued or running: close waits for it.
    await s.close();
    assert.deepEqual(log(), ['start /a/', 'end /a/', 'start /b/', 'end /b/', 'start /c/', 'end /c/']);
    await writes[2];
  });
});
