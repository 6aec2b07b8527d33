/**
 * A big whole-calendar upload (split in a worker thread): every event becomes an item, and broken
 * data is still refused with valid-calendar-data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac } from '../helpers/almanac.js';

const AUTH = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;

function bigCalendar(n: number): string {
  const events: string[] = [];
  for (let i = 0; i < n; i++) {
    const day = String((i % 28) + 1).padStart(2, '0');
    events.push(
      `BEGIN:VEVENT\r\nUID:big-${i}@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:202603${day}T090000Z\r\nDTEND:202603${day}T100000Z\r\nSUMMARY:Event number ${i} with a description long enough to make the file big\r\nDESCRIPTION:${'x'.repeat(120)}\r\nEND:VEVENT\r\n`,
    );
  }
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nX-WR-CALNAME:Imported\r\n${events.join('')}END:VCALENDAR\r\n`;
}

describe('a big whole-calendar upload', () => {
  it('splits 2,000 events into items and refuses broken data', async () => {
    const server = await startAlmanac();
    try {
      const body = bigCalendar(2000);
      assert.ok(body.length > 256 * 1024, 'large enough to be split in a worker');
      const res = await fetch(`${server.url}/alice/imported/`, {
        method: 'PUT',
        headers: { Authorization: AUTH, 'Content-Type': 'text/calendar' },
        body,
      });
      assert.equal(res.status, 201);
      const items = await server.store.listItems('alice/imported');
      assert.equal(items.length, 2000);
      assert.ok(items.some((m) => m.href === 'big-1999@test.ics'));
      assert.equal((await server.store.getCollection('alice/imported'))?.props['D:displayname'], 'Imported');

      const broken = body.replace(
        'BEGIN:VEVENT\r\nUID:big-7@test',
        'BEGIN:VEVENT\r\nUID:big-7@test\r\nDTSTART:notadate',
      );
      const bad = await fetch(`${server.url}/alice/broken/`, {
        method: 'PUT',
        headers: { Authorization: AUTH, 'Content-Type': 'text/calendar' },
        body: broken.replace(/END:VCALENDAR\r\n$/, 'BEGIN:VEVENT\r\n'),
      });
      assert.equal(bad.status, 403);
      assert.match(await bad.text(), /valid-calendar-data/);
      assert.equal(await server.store.getCollection('alice/broken'), undefined);
    } finally {
      await server.stop();
    }
  });
});
