/**
 * The change-notification seam (src/notify/changes.ts): every write through the server publishes one
 * Change after it is stored, listeners see them in order, and a listener that throws or never
 * finishes changes nothing for the client. Runs on the backend the suite runs on (filesystem, or
 * PostgreSQL with ALMANAC_TEST_STORAGE=postgresql).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { DavClient, mkcalendar, put, vevent } from './helpers/dav-client.js';
import type { Change } from '../../src/notify/changes.js';

/** Waits (bounded) until `changes` holds at least `n` entries. */
async function atLeast(changes: Change[], n: number): Promise<void> {
  for (let i = 0; i < 500 && changes.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(changes.length >= n, `expected ${n} changes, got ${changes.length}`);
}

describe('change notifications', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  const changes: Change[] = [];
  before(async () => {
    server = await startAlmanac();
    c = new DavClient(server.url);
    server.notifier.subscribe((ch) => void changes.push(ch), { content: true, name: 'test' });
    // Log in once, so that principal creation is behind us.
    assert.equal(
      (await c.request('PROPFIND', '/alice/', { user: 'alice', headers: { Depth: '0' } })).status,
      207,
    );
    await new Promise((r) => setTimeout(r, 50));
    changes.length = 0;
  });
  after(async () => server.stop());

  it('MKCALENDAR, PUT (new, replaced), PROPPATCH, MOVE, COPY and DELETE each publish one change', async () => {
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    assert.equal((await mkcalendar(c, '/alice/cal2/')).status, 201);
    assert.equal((await put(c, '/alice/cal/a.ics', vevent('a', { summary: 'One' }))).status, 201);
    assert.equal((await put(c, '/alice/cal/a.ics', vevent('a', { summary: 'Two' }))).status, 204);
    const body =
      '<?xml version="1.0"?><propertyupdate xmlns="DAV:"><set><prop><displayname>Work</displayname></prop></set></propertyupdate>';
    assert.equal((await c.request('PROPPATCH', '/alice/cal/', { user: 'alice', body })).status, 207);
    const move = await c.request('MOVE', '/alice/cal/a.ics', {
      user: 'alice',
      headers: { Destination: `${server.url}/alice/cal/b.ics` },
    });
    assert.equal(move.status, 201);
    const copy = await c.request('COPY', '/alice/cal/b.ics', {
      user: 'alice',
      headers: { Destination: `${server.url}/alice/cal2/c.ics` },
    });
    assert.equal(copy.status, 201);
    assert.equal((await c.request('DELETE', '/alice/cal/b.ics', { user: 'alice' })).status, 200);
    await atLeast(changes, 8);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      changes.map((ch) => [ch.kind, ch.collection, ch.method, ch.user, ch.items.map((i) => i.href)]),
      [
        ['collection-create', 'alice/cal', 'MKCALENDAR', 'alice', []],
        ['collection-create', 'alice/cal2', 'MKCALENDAR', 'alice', []],
        ['item-put', 'alice/cal', 'PUT', 'alice', ['a.ics']],
        ['item-put', 'alice/cal', 'PUT', 'alice', ['a.ics']],
        ['collection-props', 'alice/cal', 'PROPPATCH', 'alice', []],
        ['item-move', 'alice/cal', 'MOVE', 'alice', ['b.ics']],
        ['item-copy', 'alice/cal2', 'COPY', 'alice', ['c.ics']],
        ['item-delete', 'alice/cal', 'DELETE', 'alice', ['b.ics']],
      ],
    );
    const [, , created, replaced, props, moved, , deleted] = changes;
    assert.equal(created?.created, true);
    assert.match(created?.items[0]?.text ?? '', /SUMMARY:One/);
    assert.equal(created?.items[0]?.previousText, undefined, 'a new item has no previous text');
    assert.equal(created?.items[0]?.uid, 'a');
    assert.equal(created?.items[0]?.component, 'VEVENT');
    assert.equal(replaced?.created, false);
    assert.match(replaced?.items[0]?.text ?? '', /SUMMARY:Two/);
    assert.match(replaced?.items[0]?.previousText ?? '', /SUMMARY:One/);
    assert.equal(props?.requestBody, body);
    assert.deepEqual(moved?.from, { collection: 'alice/cal', href: 'a.ics' });
    assert.equal(moved?.requestPath, '/alice/cal/a.ics');
    assert.equal(deleted?.items[0]?.uid, 'a');
    assert.match(deleted?.items[0]?.previousText ?? '', /SUMMARY:Two/);
    const seqs = changes.map((ch) => ch.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
      'in the order of the writes',
    );
  });

  it('a whole-calendar PUT of 300 events is one change naming every item', async () => {
    changes.length = 0;
    const events = Array.from({ length: 300 }, (_, i) =>
      [
        'BEGIN:VEVENT',
        `UID:ev${i}`,
        'DTSTAMP:20240101T000000Z',
        'DTSTART:20240110T100000Z',
        'END:VEVENT',
      ].join('\r\n'),
    );
    const body = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', ...events, 'END:VCALENDAR', ''].join(
      '\r\n',
    );
    const r = await c.request('PUT', '/alice/import.ics/', {
      user: 'alice',
      body,
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(r.status, 201);
    await atLeast(changes, 1);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(changes.length, 1);
    const ch = changes[0];
    assert.equal(ch?.kind, 'collection-replace');
    assert.equal(ch?.collection, 'alice/import.ics');
    assert.equal(ch?.created, true);
    assert.equal(ch?.items.length, 300);
    const listed = new Set((await server.store.listItems('alice/import.ics')).map((m) => m.href));
    assert.deepEqual(new Set(ch?.items.map((i) => i.href)), listed, 'the hrefs the storage gave them');
    changes.length = 0;
    assert.equal((await c.request('DELETE', '/alice/import.ics/', { user: 'alice' })).status, 200);
    await atLeast(changes, 1);
    assert.equal(changes[0]?.kind, 'collection-delete');
    assert.equal(changes[0]?.items.length, 300, 'the items it held, for a listener that wants content');
  });

  it('a write that fails publishes nothing', async () => {
    changes.length = 0;
    const r = await c.request('PUT', '/alice/cal/never.ics', {
      user: 'alice',
      body: vevent('c2'),
      headers: { 'If-Match': '"no-such-etag"', 'Content-Type': 'text/calendar' },
    });
    assert.equal(r.status, 412);
    await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(changes, []);
  });

  it('a listener that throws or never finishes does not delay or fail writes; others still get every change', async () => {
    const unsubscribeThrowing = server.notifier.subscribe(
      () => {
        throw new Error('listener bug');
      },
      { name: 'throwing' },
    );
    const unsubscribeHanging = server.notifier.subscribe(() => new Promise<void>(() => undefined), {
      name: 'hanging',
    });
    changes.length = 0;
    for (let i = 0; i < 5; i++)
      assert.equal((await put(c, `/alice/cal/h${i}.ics`, vevent(`h${i}`))).status, 201);
    await atLeast(changes, 5);
    assert.deepEqual(
      changes.map((ch) => ch.items[0]?.href),
      ['h0.ics', 'h1.ics', 'h2.ics', 'h3.ics', 'h4.ics'],
    );
    unsubscribeThrowing();
    unsubscribeHanging();
  });
});
