/**
 * Leftovers of interrupted writes (temp files, prepared folders, cache temp files): found wherever
 * they are, removed at start once untouched for an hour (never what a pending swap still needs),
 * listed by verify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLeftovers, removeLeftovers } from '../../src/storage/filesystem/leftovers.js';
import { FilesystemBackend } from '../../src/storage/filesystem/storage.js';
import { type CheckedStorage } from '../../src/storage/checked-storage.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import type { ItemDescription } from '../../src/storage/types.js';

const OLD = [
  'collection-root/alice/cal/.Radicale.tmp-0123456789abcdef',
  'collection-root/alice/.Radicale.tmp-aaaaaaaaaaaaaaaa',
  'collection-root/alice/cal/.Radicale.cache/item/.Radicale.tmp-bbbbbbbbbbbbbbbb',
  '.Almanac.cache/index/0f0f.json.4242.tmp',
];
const FRESH = 'collection-root/alice/cal/.Radicale.tmp-cccccccccccccccc';

/** A storage folder with a calendar, old leftovers (one of them a prepared folder) and a fresh one. */
function folderWithLeftovers(): string {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-leftovers-'));
  const cal = join(folder, 'collection-root/alice/cal');
  mkdirSync(join(cal, '.Radicale.cache/item'), { recursive: true });
  mkdirSync(join(folder, '.Almanac.cache/index'), { recursive: true });
  writeFileSync(join(cal, '.Radicale.props'), '{"tag": "VCALENDAR"}');
  writeFileSync(join(cal, 'kept.ics'), 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n');
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  for (const p of OLD) {
    const path = join(folder, p);
    if (p === OLD[1]) {
      mkdirSync(path);
      writeFileSync(join(path, 'x.ics'), 'x'.repeat(1000));
    } else writeFileSync(path, 'half written');
    utimesSync(path, twoHoursAgo, twoHoursAgo);
  }
  writeFileSync(join(folder, FRESH), 'being written');
  return folder;
}

const describe = (): ItemDescription => ({ uid: '', component: 'VEVENT', start: 0, end: 0 });

function storageOn(folder: string): CheckedStorage<FilesystemBackend> {
  return filesystemStorage({ folder, maxResourceSize: 1e6, maxSyncTokenAge: 1000, describe });
}

void test('leftovers are found in collections, their caches and ours, with size and age', async () => {
  const folder = folderWithLeftovers();
  try {
    const found = await findLeftovers(folder);
    assert.deepEqual(found.map((l) => l.path).sort(), [...OLD, FRESH].sort());
    const prepared = found.find((l) => l.path === OLD[1]);
    assert.equal(prepared?.folder, true);
    assert.equal(prepared?.bytes, 1000);
    assert.ok((prepared?.ageMs ?? 0) > 3600_000);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

void test('removal takes only leftovers an hour old, and never one a pending swap needs', async () => {
  const folder = folderWithLeftovers();
  try {
    const removed = await removeLeftovers(folder, new Set([OLD[1] as string]));
    assert.deepEqual(removed.map((l) => l.path).sort(), OLD.filter((p) => p !== OLD[1]).sort());
    assert.ok(existsSync(join(folder, OLD[1] as string)), 'kept for the swap');
    assert.ok(existsSync(join(folder, FRESH)), 'a fresh one may still be in use');
    assert.ok(existsSync(join(folder, 'collection-root/alice/cal/kept.ics')));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

void test('start-up removes old leftovers; verify lists what remains', async () => {
  const folder = folderWithLeftovers();
  const s = storageOn(folder);
  try {
    await s.open();
    for (let i = 0; i < 100 && OLD.some((p) => existsSync(join(folder, p))); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      OLD.filter((p) => existsSync(join(folder, p))),
      [],
    );
    const problems: string[] = [];
    assert.equal(await s.verify((p) => problems.push(p)), false);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', new RegExp(`^${FRESH}: left by an interrupted write \\(file, 13 bytes`));
    assert.match(problems[0] ?? '', /a running server may still be writing it/);
  } finally {
    await s.close();
    await rm(folder, { recursive: true, force: true });
  }
});

void test('verify (inspect only) lists old leftovers without removing them', async () => {
  const folder = folderWithLeftovers();
  const s = storageOn(folder);
  try {
    await s.open({ inspectOnly: true });
    const problems: string[] = [];
    assert.equal(await s.verify((p) => problems.push(p)), false);
    assert.equal(problems.length, 5);
    assert.ok(
      problems.some((p) => p.startsWith(`${OLD[1]}: left by an interrupted write (folder, 1000 bytes`)),
    );
    assert.ok(problems.some((p) => /the next start removes it/.test(p)));
    assert.ok(OLD.every((p) => existsSync(join(folder, p))));
  } finally {
    await s.close();
    await rm(folder, { recursive: true, force: true });
  }
});
