/**
 * MOVE and COPY refuse what the same change by PUT or DELETE would: an item replaced by one with
 * another UID (409 no-uid-conflict, CalDAV's or CardDAV's), a collection taken away or replaced
 * against permit_delete_collection / permit_overwrite_collection. Without an Overwrite header the
 * destination is overwritten (RFC 4918 §10.6; Radicale answers 412, see docs/compatibility.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  CR,
  DavClient,
  mkaddressbook,
  mkcalendar,
  preconditions,
  put,
  vcard,
  vevent,
} from './helpers/dav-client.js';

const transfer = (
  c: DavClient,
  method: 'MOVE' | 'COPY',
  from: string,
  to: string,
  headers: Record<string, string> = {},
  user = 'alice',
): ReturnType<DavClient['request']> =>
  c.request(method, from, { user, headers: { Destination: to, ...headers } });

const text = async (c: DavClient, path: string, user = 'alice'): Promise<string> => {
  const r = await c.request('GET', path, { user });
  return r.status === 200 ? r.text : `${r.status}`;
};

describe('MOVE and COPY of items onto an item with another UID', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac();
    c = new DavClient(server.url);
    for (const cal of ['/alice/cal/', '/alice/other/']) assert.equal((await mkcalendar(c, cal)).status, 201);
    assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
    assert.equal((await put(c, '/alice/cal/a.ics', vevent('uid-a'))).status, 201);
    assert.equal((await put(c, '/alice/other/b.ics', vevent('uid-b'))).status, 201);
    assert.equal((await put(c, '/alice/book/x.vcf', vcard('card-x', 'X'))).status, 201);
    assert.equal((await put(c, '/alice/book/y.vcf', vcard('card-y', 'Y'))).status, 201);
  });
  after(async () => server.stop());

  for (const method of ['MOVE', 'COPY'] as const) {
    it(`${method} with Overwrite: T is 409 C:no-uid-conflict, as the same PUT is; nothing changes`, async () => {
      const before = [await text(c, '/alice/cal/a.ics'), await text(c, '/alice/other/b.ics')];
      const r = await transfer(c, method, '/alice/cal/a.ics', '/alice/other/b.ics', { Overwrite: 'T' });
      assert.equal(r.status, 409);
      assert.deepEqual(preconditions(r.text), [C('no-uid-conflict')]);
      const asPut = await put(c, '/alice/other/b.ics', before[0] ?? '');
      assert.equal(asPut.status, 409, 'the same change by PUT');
      assert.deepEqual([await text(c, '/alice/cal/a.ics'), await text(c, '/alice/other/b.ics')], before);
    });

    it(`${method} of a card onto another card in its address book is 409 CR:no-uid-conflict`, async () => {
      const r = await transfer(c, method, '/alice/book/x.vcf', '/alice/book/y.vcf', { Overwrite: 'T' });
      assert.equal(r.status, 409);
      assert.deepEqual(preconditions(r.text), [CR('no-uid-conflict')]);
      assert.match(await text(c, '/alice/book/y.vcf'), /UID:card-y/);
    });
  }

  it('Overwrite: F onto an existing item stays 412 (checked before the UID)', async () => {
    const r = await transfer(c, 'COPY', '/alice/cal/a.ics', '/alice/other/b.ics', { Overwrite: 'F' });
    assert.equal(r.status, 412);
  });

  it('without an Overwrite header, an item of the same UID is replaced (RFC 4918: as if T)', async () => {
    assert.equal(
      (await put(c, '/alice/other/a-copy.ics', vevent('uid-a', { summary: 'older' }))).status,
      201,
    );
    const r = await transfer(c, 'MOVE', '/alice/cal/a.ics', '/alice/other/a-copy.ics');
    assert.equal(r.status, 204);
    assert.equal(await text(c, '/alice/cal/a.ics'), '404');
    assert.doesNotMatch(await text(c, '/alice/other/a-copy.ics'), /older/);
  });
});

describe('MOVE and COPY of collections under permit_delete_collection / permit_overwrite_collection', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac({
      config: { rights: { permit_delete_collection: 'False', permit_overwrite_collection: 'False' } },
    });
    c = new DavClient(server.url);
    for (const cal of ['cal', 'cal2', 'cal3']) {
      assert.equal((await mkcalendar(c, `/bob/${cal}/`, 'bob')).status, 201);
      assert.equal((await put(c, `/bob/${cal}/e.ics`, vevent(`in-${cal}`), 'bob')).status, 201);
    }
  });
  after(async () => server.stop());

  it('DELETE and a whole-collection PUT are refused (the policy the transfers must follow)', async () => {
    assert.equal((await c.request('DELETE', '/bob/cal/', { user: 'bob' })).status, 403);
    const body = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nEND:VCALENDAR\r\n`;
    const r = await c.request('PUT', '/bob/cal/', {
      user: 'bob',
      body,
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(r.status, 403);
  });

  it('MOVE onto an existing calendar is 403 and destroys nothing', async () => {
    const r = await transfer(c, 'MOVE', '/bob/cal2/', '/bob/cal/', { Overwrite: 'T' }, 'bob');
    assert.equal(r.status, 403);
    assert.match(await text(c, '/bob/cal/e.ics', 'bob'), /UID:in-cal\r/);
    assert.match(await text(c, '/bob/cal2/e.ics', 'bob'), /UID:in-cal2\r/);
  });

  it('COPY onto an existing calendar is 403 and destroys nothing', async () => {
    const r = await transfer(c, 'COPY', '/bob/cal3/', '/bob/cal/', { Overwrite: 'T' }, 'bob');
    assert.equal(r.status, 403);
    assert.match(await text(c, '/bob/cal/e.ics', 'bob'), /UID:in-cal\r/);
  });

  it('MOVE to a new name takes the calendar from its path: 403 when it may not be deleted', async () => {
    const r = await transfer(c, 'MOVE', '/bob/cal2/', '/bob/renamed/', {}, 'bob');
    assert.equal(r.status, 403);
    assert.match(await text(c, '/bob/cal2/e.ics', 'bob'), /UID:in-cal2\r/);
  });

  it('COPY to a new name destroys nothing and is allowed', async () => {
    const r = await transfer(c, 'COPY', '/bob/cal2/', '/bob/copy/', {}, 'bob');
    assert.equal(r.status, 201);
    assert.match(await text(c, '/bob/copy/e.ics', 'bob'), /UID:in-cal2\r/);
  });
});

describe('collection MOVE with only permit_overwrite_collection = False', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac({ config: { rights: { permit_overwrite_collection: 'False' } } });
    c = new DavClient(server.url);
    for (const cal of ['cal', 'cal2']) assert.equal((await mkcalendar(c, `/bob/${cal}/`, 'bob')).status, 201);
  });
  after(async () => server.stop());

  it('renaming a calendar works; moving it over another is 403', async () => {
    assert.equal(
      (await transfer(c, 'MOVE', '/bob/cal2/', '/bob/cal/', { Overwrite: 'T' }, 'bob')).status,
      403,
    );
    assert.equal((await transfer(c, 'MOVE', '/bob/cal2/', '/bob/renamed/', {}, 'bob')).status, 201);
  });
});
