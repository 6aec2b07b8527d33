/**
 * A big whole-calendar upload (split in a worker thread): every event becomes an item, and broken
 * data is still refused with valid-calendar-data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac } from '../helpers/almanac.js';
import { whileRunning } from '../helpers/responsiveness.js';

const AUTH = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;
const BOB = `Basic ${Buffer.from('bob:bobpw').toString('base64')}`;

function bigCalendar(n: number, descriptionOf = (_i: number): string => 'x'.repeat(120)): string {
  const events: string[] = [];
  for (let i = 0; i < n; i++) {
    const day = String((i % 28) + 1).padStart(2, '0');
    events.push(
      `BEGIN:VEVENT\r\nUID:big-${i}@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:202603${day}T090000Z\r\nDTEND:202603${day}T100000Z\r\nSUMMARY:Event number ${i} with a description long enough to make the file big\r\nDESCRIPTION:${descriptionOf(i)}\r\nEND:VEVENT\r\n`,
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

  it('an item over max_resource_size late in the upload is 413 and the old calendar stays whole', async () => {
    const server = await startAlmanac({ config: { server: { max_resource_size: '20000' } } });
    try {
      const put = (body: string): Promise<Response> =>
        fetch(`${server.url}/alice/imported/`, {
          method: 'PUT',
          headers: { Authorization: AUTH, 'Content-Type': 'text/calendar' },
          body,
        });
      assert.equal((await put(bigCalendar(3))).status, 201);
      const before = (await server.store.listItems('alice/imported')).map((m) => m.href).sort();
      // The items reach the storage in batches while the worker makes them: this one comes in the third.
      const res = await put(bigCalendar(3000, (i) => 'y'.repeat(i === 2500 ? 30000 : 120)));
      assert.equal(res.status, 413);
      assert.match(await res.text(), /max-resource-size/);
      const after = (await server.store.listItems('alice/imported')).map((m) => m.href).sort();
      assert.deepEqual(after, before);
    } finally {
      await server.stop();
    }
  });

  it('20,000 events are imported while bob is answered within a second', async () => {
    const server = await startAlmanac();
    try {
      const body = bigCalendar(20000);
      const probe = (): Promise<number> =>
        fetch(`${server.url}/bob/`, { method: 'PROPFIND', headers: { Authorization: BOB, Depth: '0' } }).then(
          async (r) => {
            await r.arrayBuffer();
            return r.status;
          },
        );
      const put = await whileRunning(
        fetch(`${server.url}/alice/imported/`, {
          method: 'PUT',
          headers: { Authorization: AUTH, 'Content-Type': 'text/calendar' },
          body,
        }),
        probe,
      );
      assert.equal(put.result.status, 201);
      assert.equal((await server.store.listItems('alice/imported')).length, 20000);
      assert.ok(put.probes > 1, `bob asked ${put.probes} times`);
      assert.ok(put.slowestMs < 1000, `bob waited ${put.slowestMs.toFixed(0)} ms during the import`);
    } finally {
      await server.stop();
    }
  });
});
