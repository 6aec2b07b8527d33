/**
 * Items: PUT/GET/HEAD/DELETE/MOVE/COPY with ETags and preconditions, UID rules, sizes, whole-collection
 * upload and export, vCard versions and time zones.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  CR,
  D,
  DavClient,
  mkaddressbook,
  mkcalendar,
  parseMultistatus,
  preconditions,
  put,
  vcard,
  vevent,
  vtodo,
} from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';

let server: RunningAlmanac;
let c: DavClient;

before(async () => {
  server = await startAlmanac({ config: { server: { max_resource_size: '4000' } } });
  c = new DavClient(server.url);
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  assert.equal((await mkcalendar(c, '/alice/other/')).status, 201);
  assert.equal((await mkcalendar(c, '/alice/third/')).status, 201);
  assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
});
after(async () => server.stop());

const get = (
  path: string,
  headers: Record<string, string> = {},
  user = 'alice',
): ReturnType<DavClient['request']> => c.request('GET', path, { user, headers });

/** Item names stored in a collection (the file names on disk for the filesystem backend). */
async function files(path: string): Promise<string[]> {
  return (await server.store.listItems(path.split('/').filter(Boolean).join('/'))).map((m) => m.href).sort();
}

describe('PUT, GET, HEAD', () => {
  let etag = '';

  it('PUT creates an item: 201 with an ETag', async () => {
    const r = await put(c, '/alice/cal/a.ics', vevent('a'));
    assert.equal(r.status, 201);
    etag = String(r.headers.etag);
    assert.match(etag, /^"[0-9a-f]+"$/);
  });

  it('GET returns the stored text byte for byte with the same ETag and a content type', async () => {
    const r = await get('/alice/cal/a.ics');
    assert.equal(r.status, 200);
    assert.equal(r.text, vevent('a'));
    assert.equal(r.headers.etag, etag);
    // Radicale's GET Content-Type, without a component parameter.
    assert.equal(r.headers['content-type'], 'text/calendar; charset=utf-8');
    assert.ok(r.headers['last-modified']);
  });

  it('getcontenttype is written as Radicale writes it, in PROPFIND and in REPORTs', async () => {
    assert.equal((await put(c, '/alice/cal/ct-todo.ics', vtodo('ct-todo'))).status, 201);
    assert.equal((await put(c, '/alice/book/ct.vcf', vcard('ct', 'Con Tent'))).status, 201);
    const expected: [string, string][] = [
      ['/alice/cal/', 'text/calendar'],
      ['/alice/cal/a.ics', 'text/calendar;charset=utf-8;component=VEVENT'],
      ['/alice/cal/ct-todo.ics', 'text/calendar;charset=utf-8;component=VTODO'],
      ['/alice/book/', 'text/vcard'],
      ['/alice/book/ct.vcf', 'text/vcard;charset=utf-8'],
    ];
    for (const depth of ['0', '1']) {
      for (const [href, type] of expected) {
        const path = href.endsWith('/') || depth === '0' ? href : href.slice(0, href.lastIndexOf('/') + 1);
        const r = await c.propfind(path, [D('getcontenttype')], depth);
        const p = parseMultistatus(r.text).props.get(href)?.get(D('getcontenttype'));
        assert.equal(p ? textContent(p.element) : undefined, type, `${href} depth ${depth}`);
      }
    }
    const q = await c.request('REPORT', '/alice/cal/', {
      user: 'alice',
      body: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getcontenttype/><D:getetag/></D:prop><D:href>/alice/cal/ct-todo.ics</D:href></C:calendar-multiget>`,
      headers: { 'Content-Type': 'application/xml', Depth: '1' },
    });
    const p = parseMultistatus(q.text).props.get('/alice/cal/ct-todo.ics')?.get(D('getcontenttype'));
    assert.equal(p ? textContent(p.element) : undefined, 'text/calendar;charset=utf-8;component=VTODO');
    assert.equal((await get('/alice/book/ct.vcf')).headers['content-type'], 'text/vcard; charset=utf-8');
  });

  it('LF line endings are normalised to CRLF with a final line break', async () => {
    const lf = vevent('lf').replace(/\r\n/g, '\n').trimEnd();
    assert.equal((await put(c, '/alice/cal/lf.ics', lf)).status, 201);
    const r = await get('/alice/cal/lf.ics');
    assert.equal(r.text, `${lf.replace(/\n/g, '\r\n')}\r\n`);
  });

  it('a body is decoded in its Content-Type charset and stored as UTF-8', async () => {
    const text = vevent('latin', { summary: 'Événement à Zürich' });
    const r = await c.request('PUT', '/alice/cal/latin.ics', {
      user: 'alice',
      body: Buffer.from(text, 'latin1'),
      headers: { 'Content-Type': 'text/calendar; charset=ISO-8859-1' },
    });
    assert.equal(r.status, 201);
    const g = await get('/alice/cal/latin.ics');
    assert.equal(g.text, text);
    assert.match(g.text, /SUMMARY:Événement à Zürich/);
  });

  it('a charset that cannot be decoded is 415', async () => {
    const r = await c.request('PUT', '/alice/cal/x-charset.ics', {
      user: 'alice',
      body: vevent('xc'),
      headers: { 'Content-Type': 'text/calendar; charset=x-no-such-charset' },
    });
    assert.equal(r.status, 415);
    assert.equal((await get('/alice/cal/x-charset.ics')).status, 404);
  });

  it('HEAD has the headers of GET and no body', async () => {
    const r = await c.request('HEAD', '/alice/cal/a.ics', { user: 'alice' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.etag, etag);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(vevent('a'))));
  });

  it('PUT over an existing item is 204 with a new ETag', async () => {
    const r = await put(c, '/alice/cal/a.ics', vevent('a', { summary: 'Changed' }));
    assert.equal(r.status, 204);
    assert.notEqual(r.headers.etag, etag);
    etag = String(r.headers.etag);
    assert.match((await get('/alice/cal/a.ics')).text, /SUMMARY:Changed/);
  });

  it('GET of a missing item is 404', async () => {
    assert.equal((await get('/alice/cal/none.ics')).status, 404);
  });

  it('GET of a plain collection is 403', async () => {
    assert.equal((await get('/alice/')).status, 403);
  });

  it('conditional GET: If-None-Match with the ETag is 304, with another is 200', async () => {
    const r = await get('/alice/cal/a.ics', { 'If-None-Match': etag });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers.etag, etag);
    assert.equal((await get('/alice/cal/a.ics', { 'If-None-Match': '"other"' })).status, 200);
  });

  it('conditional GET: If-Modified-Since in the future is 304, in the past 200', async () => {
    const future = new Date(Date.now() + 86_400_000).toUTCString();
    assert.equal((await get('/alice/cal/a.ics', { 'If-Modified-Since': future })).status, 304);
    const past = new Date('2000-01-01T00:00:00Z').toUTCString();
    assert.equal((await get('/alice/cal/a.ics', { 'If-Modified-Since': past })).status, 200);
  });
});

describe('preconditions on PUT and DELETE', () => {
  it('If-None-Match: * on an existing item is 412 and nothing changes', async () => {
    const before = (await get('/alice/cal/a.ics')).text;
    const r = await put(c, '/alice/cal/a.ics', vevent('a', { summary: 'X' }), 'alice', {
      'If-None-Match': '*',
    });
    assert.equal(r.status, 412);
    assert.equal((await get('/alice/cal/a.ics')).text, before);
  });

  it('If-None-Match: * on a new item creates it', async () => {
    const r = await put(c, '/alice/cal/new.ics', vevent('new'), 'alice', { 'If-None-Match': '*' });
    assert.equal(r.status, 201);
  });

  it('If-Match with a wrong ETag is 412, with the right one 204', async () => {
    const current = String((await get('/alice/cal/new.ics')).headers.etag);
    const bad = await put(c, '/alice/cal/new.ics', vevent('new', { summary: 'Y' }), 'alice', {
      'If-Match': '"wrong"',
    });
    assert.equal(bad.status, 412);
    const good = await put(c, '/alice/cal/new.ics', vevent('new', { summary: 'Y' }), 'alice', {
      'If-Match': current,
    });
    assert.equal(good.status, 204);
  });

  it('If-Match on a missing item is 412 and creates nothing', async () => {
    const r = await put(c, '/alice/cal/nope.ics', vevent('nope'), 'alice', { 'If-Match': '*' });
    assert.equal(r.status, 412);
    assert.equal((await get('/alice/cal/nope.ics')).status, 404);
  });

  it('DELETE with a wrong If-Match is 412, with the right one deletes', async () => {
    assert.equal((await put(c, '/alice/cal/del.ics', vevent('del'))).status, 201);
    const etag = String((await get('/alice/cal/del.ics')).headers.etag);
    assert.equal(
      (await c.request('DELETE', '/alice/cal/del.ics', { user: 'alice', headers: { 'If-Match': '"x"' } }))
        .status,
      412,
    );
    assert.equal((await get('/alice/cal/del.ics')).status, 200);
    const r = await c.request('DELETE', '/alice/cal/del.ics', {
      user: 'alice',
      headers: { 'If-Match': etag },
    });
    // As Radicale: 200 with a multistatus body that names the deleted item with a 200 status.
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/xml/);
    const ms = parseMultistatus(r.text);
    assert.deepEqual([...ms.statuses], [['/alice/cal/del.ics', 200]]);
    assert.equal((await get('/alice/cal/del.ics')).status, 404);
    assert.equal((await c.request('DELETE', '/alice/cal/del.ics', { user: 'alice' })).status, 404);
  });
});

describe('UID rules', () => {
  it('the same UID under another name is 409 no-uid-conflict naming the existing href', async () => {
    const r = await put(c, '/alice/cal/dup.ics', vevent('a'));
    assert.equal(r.status, 409);
    assert.deepEqual(preconditions(r.text), [C('no-uid-conflict')]);
    assert.match(r.text, /<D:href>\/alice\/cal\/a\.ics<\/D:href>/);
    assert.equal((await get('/alice/cal/dup.ics')).status, 404);
  });

  it('changing the UID of an existing item is 409', async () => {
    const r = await put(c, '/alice/cal/a.ics', vevent('a-renamed'));
    assert.equal(r.status, 409);
    assert.deepEqual(preconditions(r.text), [C('no-uid-conflict')]);
    assert.match((await get('/alice/cal/a.ics')).text, /UID:a\r\n/);
  });

  it('an address book has its own no-uid-conflict', async () => {
    assert.equal((await put(c, '/alice/book/x.vcf', vcard('card-x', 'X Y'))).status, 201);
    const r = await put(c, '/alice/book/y.vcf', vcard('card-x', 'Other'));
    assert.equal(r.status, 409);
    assert.deepEqual(preconditions(r.text), [CR('no-uid-conflict')]);
  });
});

describe('MOVE and COPY of items', () => {
  it('MOVE to another calendar: 201, gone from source, present at target', async () => {
    assert.equal((await put(c, '/alice/cal/m.ics', vevent('m'))).status, 201);
    const r = await c.request('MOVE', '/alice/cal/m.ics', {
      user: 'alice',
      headers: { Destination: `${server.url}/alice/other/m2.ics` },
    });
    assert.equal(r.status, 201);
    assert.equal((await get('/alice/cal/m.ics')).status, 404);
    assert.match((await get('/alice/other/m2.ics')).text, /UID:m\r\n/);
  });

  it('COPY to the source calendar under another name conflicts on the UID', async () => {
    const r = await c.request('COPY', '/alice/other/m2.ics', {
      user: 'alice',
      headers: { Destination: '/alice/other/m3.ics' },
    });
    assert.equal(r.status, 409);
  });

  it('COPY to another calendar keeps the source', async () => {
    const r = await c.request('COPY', '/alice/other/m2.ics', {
      user: 'alice',
      headers: { Destination: '/alice/cal/m.ics' },
    });
    assert.equal(r.status, 201);
    assert.equal((await get('/alice/other/m2.ics')).status, 200);
    assert.equal((await get('/alice/cal/m.ics')).status, 200);
  });

  it('MOVE onto an existing item with Overwrite F is 412', async () => {
    const r = await c.request('MOVE', '/alice/cal/m.ics', {
      user: 'alice',
      headers: { Destination: '/alice/cal/a.ics', Overwrite: 'F' },
    });
    assert.equal(r.status, 412);
    assert.equal((await get('/alice/cal/m.ics')).status, 200);
  });

  it('MOVE into a calendar where the UID is used elsewhere is 409 naming the item', async () => {
    const r = await c.request('MOVE', '/alice/cal/m.ics', {
      user: 'alice',
      headers: { Destination: '/alice/other/zz.ics' },
    });
    assert.equal(r.status, 409);
    assert.deepEqual(preconditions(r.text), [C('no-uid-conflict')]);
    assert.match(r.text, /\/alice\/other\/m2\.ics/);
  });

  it('MOVE with a Destination on another host is 502', async () => {
    const r = await c.request('MOVE', '/alice/cal/m.ics', {
      user: 'alice',
      headers: { Destination: 'http://elsewhere.example:9/alice/other/x.ics' },
    });
    assert.equal(r.status, 502);
    assert.equal((await get('/alice/cal/m.ics')).status, 200);
  });

  it('MOVE with If-Match checks the source ETag', async () => {
    const etag = String((await get('/alice/cal/m.ics')).headers.etag);
    const bad = await c.request('MOVE', '/alice/cal/m.ics', {
      user: 'alice',
      headers: { Destination: '/alice/cal/m-moved.ics', 'If-Match': '"nope"' },
    });
    assert.equal(bad.status, 412);
    assert.equal((await get('/alice/cal/m.ics')).status, 200);
    const good = await c.request('MOVE', '/alice/cal/m.ics', {
      user: 'alice',
      headers: { Destination: '/alice/cal/m-moved.ics', 'If-Match': etag },
    });
    assert.equal(good.status, 201);
    assert.equal((await get('/alice/cal/m-moved.ics')).status, 200);
  });

  it('COPY with If-None-Match matching the source ETag is 412', async () => {
    const etag = String((await get('/alice/cal/m-moved.ics')).headers.etag);
    const r = await c.request('COPY', '/alice/cal/m-moved.ics', {
      user: 'alice',
      headers: { Destination: '/alice/third/m.ics', 'If-None-Match': etag },
    });
    assert.equal(r.status, 412);
    assert.equal((await get('/alice/third/m.ics')).status, 404);
  });

  it('MOVE onto an existing item replaces it (Overwrite defaults to T): 204', async () => {
    // The same event (another UID would be 409 no-uid-conflict, as by PUT).
    assert.equal((await put(c, '/alice/third/o.ics', vevent('m', { summary: 'older' }))).status, 201);
    const r = await c.request('COPY', '/alice/cal/m-moved.ics', {
      user: 'alice',
      headers: { Destination: '/alice/third/o.ics' },
    });
    assert.equal(r.status, 204);
    assert.match((await get('/alice/third/o.ics')).text, /UID:m\r\n/);
    assert.doesNotMatch((await get('/alice/third/o.ics')).text, /older/);
  });

  it('MOVE an event into an address book is 403', async () => {
    const r = await c.request('MOVE', '/alice/cal/m-moved.ics', {
      user: 'alice',
      headers: { Destination: '/alice/book/m.ics' },
    });
    assert.equal(r.status, 403);
  });

  it('MOVE into a missing collection is 409', async () => {
    const r = await c.request('MOVE', '/alice/cal/m-moved.ics', {
      user: 'alice',
      headers: { Destination: '/alice/nope/m.ics' },
    });
    assert.equal(r.status, 409);
  });
});

describe('sizes and strict preconditions', () => {
  it('an item larger than max_resource_size is 413 with C:max-resource-size', async () => {
    const big = vevent('big', { extra: `DESCRIPTION:${'x'.repeat(70)}\n`.repeat(80).trimEnd() });
    const r = await put(c, '/alice/cal/big.ics', big);
    assert.equal(r.status, 413);
    assert.deepEqual(preconditions(r.text), [C('max-resource-size')]);
    assert.equal((await get('/alice/cal/big.ics')).status, 404);
  });

  it('a whole-collection upload with an item over max_resource_size is 413 and creates nothing', async () => {
    const big = vevent('big-up', { extra: `X-FILL:${'x'.repeat(70)}\n`.repeat(80).trimEnd() });
    const r = await put(c, '/alice/bigupload/', big);
    assert.equal(r.status, 413);
    assert.deepEqual(preconditions(r.text), [C('max-resource-size')]);
    assert.equal((await c.propfind('/alice/bigupload/', [D('getetag')], '0')).status, 404);
  });

  it('a vCard or an address book upload over max_resource_size is 413 with CR:max-resource-size (Radicale: 412)', async () => {
    const big = vcard('bigcard', 'Big Card', `NOTE:${'x'.repeat(70)}\n`.repeat(80).trimEnd());
    const r = await put(c, '/alice/book/big.vcf', big);
    assert.equal(r.status, 413);
    assert.deepEqual(preconditions(r.text), [CR('max-resource-size')]);
    assert.equal((await get('/alice/book/big.vcf')).status, 404);
    const up = await put(c, '/alice/bigbook/', vcard('small', 'Small Card') + big);
    assert.equal(up.status, 413);
    assert.deepEqual(preconditions(up.text), [CR('max-resource-size')]);
    assert.equal((await c.propfind('/alice/bigbook/', [D('getetag')], '0')).status, 404);
  });

  it('a stored item over max_resource_size is not there: GET, COPY and MOVE are 404, on every backend', async () => {
    // Stored by a server with a larger limit (here: through the storage), then copied by this one.
    const ctx = { user: 'alice', path: '', request: 'PUT' };
    const bigCard = vcard('bigcopy', 'Big Copy', `NOTE:${'x'.repeat(70)}\n`.repeat(80).trimEnd());
    const bigEvent = vevent('bigcopy', { extra: `DESCRIPTION:${'x'.repeat(70)}\n`.repeat(80).trimEnd() });
    const description = (component: string) => ({ uid: 'bigcopy', component, start: 0, end: 0 });
    const store = (path: string, href: string, text: string, component: string) =>
      server.store.putItem(path, href, { text, description: description(component) }, () => undefined, ctx);
    await store('alice/book', 'bigcopy.vcf', bigCard, 'VCARD');
    await store('alice/cal', 'bigcopy.ics', bigEvent, 'VEVENT');
    assert.equal((await mkaddressbook(c, '/alice/book2/')).status, 201);
    const card = await c.request('COPY', '/alice/book/bigcopy.vcf', {
      user: 'alice',
      headers: { Destination: '/alice/book2/bigcopy.vcf' },
    });
    const event = await c.request('MOVE', '/alice/cal/bigcopy.ics', {
      user: 'alice',
      headers: { Destination: '/alice/other/bigcopy.ics' },
    });
    // Every backend skips an item over max_resource_size, as Radicale skips such a file: there is
    // nothing to copy or move.
    assert.equal(card.status, 404);
    assert.equal(event.status, 404);
    assert.equal((await get('/alice/book/bigcopy.vcf')).status, 404);
    assert.equal((await get('/alice/cal/bigcopy.ics')).status, 404);
    assert.equal((await get('/alice/book2/bigcopy.vcf')).status, 404);
    assert.equal((await get('/alice/other/bigcopy.ics')).status, 404);
  });

  it('max-resource-size is advertised on a calendar and an address book: [server] max_resource_size', async () => {
    for (const [path, name] of [
      ['/alice/cal/', C('max-resource-size')],
      ['/alice/book/', CR('max-resource-size')],
    ] as const) {
      const r = await c.propfind(path, [name], '0');
      const found = parseMultistatus(r.text).props.get(path)?.get(name);
      assert.equal(found?.status, 200, path);
      assert.equal(found ? textContent(found.element) : undefined, '4000', path);
    }
  });

  it('strict_preconditions requires If-Match to replace an item', async () => {
    const s = await startAlmanac({ config: { storage: { strict_preconditions: 'True' } } });
    try {
      const sc = new DavClient(s.url);
      assert.equal((await mkcalendar(sc, '/alice/cal/')).status, 201);
      assert.equal((await put(sc, '/alice/cal/a.ics', vevent('a'))).status, 201);
      assert.equal((await put(sc, '/alice/cal/a.ics', vevent('a', { summary: 'B' }))).status, 412);
      const etag = String((await sc.request('GET', '/alice/cal/a.ics', { user: 'alice' })).headers.etag);
      assert.equal(
        (await put(sc, '/alice/cal/a.ics', vevent('a', { summary: 'B' }), 'alice', { 'If-Match': etag }))
          .status,
        204,
      );
    } finally {
      await s.stop();
    }
  });
});

describe('whole-collection PUT and export', () => {
  const multi = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    'X-WR-CALNAME:Uploaded',
    'BEGIN:VEVENT',
    'UID:one',
    'DTSTAMP:20240101T000000Z',
    'DTSTART:20240201T100000Z',
    'SUMMARY:One',
    'END:VEVENT',
    'BEGIN:VEVENT',
    'UID:two',
    'DTSTAMP:20240101T000000Z',
    'DTSTART:20240202T100000Z',
    'SUMMARY:Two',
    'END:VEVENT',
    'BEGIN:VTODO',
    'UID:three',
    'DTSTAMP:20240101T000000Z',
    'SUMMARY:Three',
    'END:VTODO',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

  it('a VCALENDAR with several components becomes one item per UID named <UID>.ics', async () => {
    const r = await put(c, '/alice/upload/', multi);
    assert.equal(r.status, 201);
    assert.deepEqual(await files('/alice/upload/'), ['one.ics', 'three.ics', 'two.ics']);
    const one = await get('/alice/upload/one.ics');
    assert.match(one.text, /UID:one/);
    assert.doesNotMatch(one.text, /UID:two/);
    const p = await c.propfind('/alice/upload/', [D('displayname')], '0');
    assert.match(p.text, /Uploaded/);
  });

  it('GET of the calendar exports everything with a Content-Disposition', async () => {
    const r = await get('/alice/upload/');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/calendar/);
    assert.match(String(r.headers['content-disposition']), /^attachment; filename\*=utf-8''Uploaded\.ics$/);
    assert.equal(r.text.match(/BEGIN:VCALENDAR/g)?.length, 1);
    for (const uid of ['one', 'two', 'three']) assert.match(r.text, new RegExp(`UID:${uid}\\r\\n`));
  });

  it('an export is named after the displayname, else the path, and never gets its suffix twice', async () => {
    assert.equal((await mkaddressbook(c, '/alice/people.vcf/')).status, 201);
    assert.equal((await put(c, '/alice/people.vcf/p.vcf', vcard('p', 'Pe Ople'))).status, 201);
    const book = await get('/alice/people.vcf/');
    assert.equal(book.headers['content-disposition'], "attachment; filename*=utf-8''people.vcf");
    assert.equal(
      (await mkcalendar(c, '/alice/named/', 'alice', '<D:displayname>Work.ICS</D:displayname>')).status,
      201,
    );
    const cal = await get('/alice/named/');
    assert.equal(cal.headers['content-disposition'], "attachment; filename*=utf-8''Work.ICS");
    assert.equal(cal.headers['content-type'], 'text/calendar; charset=utf-8');
  });

  it('several vCards become an address book', async () => {
    const body = vcard('v1', 'Ann One') + vcard('v2', 'Ben Two');
    const r = await c.request('PUT', '/alice/upbook/', {
      user: 'alice',
      body,
      headers: { 'Content-Type': 'text/vcard' },
    });
    assert.equal(r.status, 201);
    assert.deepEqual(await files('/alice/upbook/'), ['v1.vcf', 'v2.vcf']);
    const g = await get('/alice/upbook/');
    assert.match(String(g.headers['content-type']), /^text\/vcard/);
    assert.match(String(g.headers['content-disposition']), /\.vcf$/);
    assert.equal(g.text.match(/BEGIN:VCARD/g)?.length, 2);
  });

  it('PUT of a whole calendar onto an existing calendar replaces its content', async () => {
    const r = await put(c, '/alice/upload/', vevent('only'));
    assert.equal(r.status, 201);
    assert.deepEqual(await files('/alice/upload/'), ['only.ics']);
  });
});

describe('whole-collection PUT where the rights allow writing everywhere', () => {
  // A rights file many Radicale installations use: every user may write anywhere, the root and the
  // homes included.
  let open: RunningAlmanac;
  let oc: DavClient;
  const dir = mkdtempSync(join(tmpdir(), 'almanac-rights-'));
  before(async () => {
    const file = join(dir, 'rights');
    writeFileSync(file, '[all]\nuser: .+\ncollection: .*\npermissions: RrWw\n');
    open = await startAlmanac({ config: { rights: { type: 'from_file', file } } });
    oc = new DavClient(open.url);
    assert.equal((await mkcalendar(oc, '/alice/cal/')).status, 201);
    assert.equal((await put(oc, '/alice/cal/a.ics', vevent('a'))).status, 201);
    assert.equal((await mkaddressbook(oc, '/alice/book/')).status, 201);
    assert.equal((await put(oc, '/alice/book/v.vcf', vcard('v', 'Val Ue'))).status, 201);
  });
  after(async () => {
    await open.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a calendar PUT to a user's home is 403 and the home keeps every calendar and address book", async () => {
    const r = await put(oc, '/alice/', vevent('replacer'));
    assert.equal(r.status, 403, r.text);
    const names = (await open.store.listCollections('alice')).map((i) => i.path).sort();
    assert.deepEqual(names, ['alice/book', 'alice/cal']);
    assert.deepEqual(
      (await open.store.listItems('alice/cal')).map((m) => m.href),
      ['a.ics'],
    );
    assert.equal((await oc.request('GET', '/alice/book/v.vcf', { user: 'alice' })).status, 200);
    assert.equal((await open.store.getCollection('alice'))?.tag, '');
  });

  it('vCards PUT to the root are 403 too', async () => {
    const r = await put(oc, '/', vcard('r', 'Ro Ot'));
    assert.ok(r.status === 403 || r.status === 405, String(r.status));
    assert.ok(await open.store.getCollection('alice'));
  });

  it('a whole calendar PUT one level below the root creates that calendar, as Radicale does', async () => {
    const body = vevent('top').replace('VERSION:2.0\r\n', 'VERSION:2.0\r\nX-WR-CALNAME:Top\r\n');
    const r = await put(oc, '/topcal/', body);
    assert.equal(r.status, 201, r.text);
    assert.equal((await open.store.getCollection('topcal'))?.tag, 'VCALENDAR');
    assert.deepEqual(
      (await open.store.listItems('topcal')).map((m) => m.href),
      ['top.ics'],
    );
    const g = await oc.request('GET', '/topcal/', { user: 'alice' });
    assert.equal(g.status, 200);
    assert.match(g.text, /UID:top\r\n/);
    const p = await oc.propfind('/topcal/', [D('displayname')], '0');
    assert.match(p.text, />Top</);
  });

  it('an empty plain collection may still become a calendar by a whole-collection PUT', async () => {
    assert.equal((await oc.request('MKCOL', '/alice/plain/', { user: 'alice' })).status, 201);
    assert.equal((await put(oc, '/alice/plain/', vevent('p'))).status, 201);
    assert.equal((await open.store.getCollection('alice/plain'))?.tag, 'VCALENDAR');
  });
});

describe('vCard versions and time zones', () => {
  for (const version of ['3.0', '4.0']) {
    it(`vCard ${version} is stored and served with its version`, async () => {
      const uid = `v${version}`;
      const r = await put(
        c,
        `/alice/book/${uid}.vcf`,
        vcard(uid, 'Some One', 'EMAIL:some@example.org', version),
      );
      assert.equal(r.status, 201);
      const g = await get(`/alice/book/${uid}.vcf`);
      assert.match(String(g.headers['content-type']), /^text\/vcard/);
      assert.match(g.text, new RegExp(`VERSION:${version.replace('.', '\\.')}`));
    });
  }

  it('vCard 2.1 with quoted-printable is accepted', async () => {
    const body = [
      'BEGIN:VCARD',
      'VERSION:2.1',
      'UID:v21',
      'N:Doe;John',
      'FN;ENCODING=QUOTED-PRINTABLE:J=C3=B6hn Doe',
      'END:VCARD',
      '',
    ].join('\r\n');
    const r = await put(c, '/alice/book/v21.vcf', body);
    assert.equal(r.status, 201);
    assert.equal((await get('/alice/book/v21.vcf')).status, 200);
  });

  it('an iCalendar object with a bare IANA TZID and no VTIMEZONE is accepted', async () => {
    const body = vevent('tz', { start: '', end: '' })
      .replace('DTSTART:\r\n', 'DTSTART;TZID=Europe/Berlin:20240301T090000\r\n')
      .replace('DTEND:\r\n', 'DTEND;TZID=Europe/Berlin:20240301T100000\r\n');
    const r = await put(c, '/alice/cal/tz.ics', body);
    assert.equal(r.status, 201, r.text);
    assert.equal((await get('/alice/cal/tz.ics')).text, body);
  });

  it('a VTODO PUT into an address book is refused', async () => {
    const r = await put(c, '/alice/book/ev.ics', vevent('ev-in-book'));
    assert.ok(r.status === 403 || r.status === 415 || r.status === 400, String(r.status));
    assert.equal((await get('/alice/book/ev.ics')).status, 404);
  });
});
