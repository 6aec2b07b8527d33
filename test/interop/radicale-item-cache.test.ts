/**
 * Radicale taking the folder back finds a warm item cache: an item Almanac stored as the client sent
 * it (a long unfolded line, which vobject would fold) is served by Debian's Radicale 3.1.8 byte for
 * byte with Almanac's ETag, without a warning; with the entry removed, Radicale re-serializes it and
 * its ETag changes (so the entry is what made the difference).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac } from '../helpers/almanac.js';
import { startRadicale } from '../helpers/radicale.js';

const AUTH = { Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}` };
const LONG = 'A summary long enough that vobject folds it at 75 octets: '.repeat(3).trim();
const EVENT = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//almanac test//EN',
  'BEGIN:VEVENT',
  'UID:warm-cache@example.org',
  'DTSTAMP:20260101T090000Z',
  'DTSTART:20260401T080000Z',
  'DTEND:20260401T090000Z',
  `SUMMARY:${LONG}`,
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

async function radicaleGet(folder: string): Promise<{ body: string; etag: string | null; stderr: string }> {
  const r = await startRadicale(folder);
  let stderr = '';
  r.proc.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  try {
    const res = await fetch(`${r.url}/alice/cal/long.ics`, { headers: AUTH });
    assert.equal(res.status, 200);
    return { body: await res.text(), etag: res.headers.get('etag'), stderr };
  } finally {
    r.stop();
  }
}

void test('Radicale 3.1.8 serves an item Almanac wrote from the cache entry Almanac wrote', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-warm-'));
  try {
    const a = await startAlmanac({ folder });
    let etag: string | null;
    try {
      assert.equal((await fetch(`${a.url}/alice/cal/`, { method: 'MKCALENDAR', headers: AUTH })).status, 201);
      const put = await fetch(`${a.url}/alice/cal/long.ics`, {
        method: 'PUT',
        headers: { ...AUTH, 'Content-Type': 'text/calendar' },
        body: EVENT,
      });
      assert.equal(put.status, 201);
      etag = put.headers.get('etag');
    } finally {
      await a.stop();
    }
    const warm = await radicaleGet(folder);
    assert.equal(warm.body, EVENT);
    assert.equal(warm.etag, etag);
    assert.doesNotMatch(warm.stderr, /WARNING|ERROR/);

    unlinkSync(join(folder, 'collection-root', 'alice', 'cal', '.Radicale.cache', 'item', 'long.ics'));
    const cold = await radicaleGet(folder);
    assert.notEqual(cold.body, EVENT, 'vobject folds the long line when it parses the item itself');
    assert.notEqual(cold.etag, etag);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
