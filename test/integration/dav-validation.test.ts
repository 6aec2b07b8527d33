/**
 * What PUT accepts and refuses, as a client sees it: the reason in every refusal, Mozilla's DATE with
 * TZID found by a time-range query, control characters removed, and plain collections that take only
 * calendars and address books unless [storage] plain_files is on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  CR,
  DavClient,
  errorMessage,
  mkaddressbook,
  mkcalendar,
  parseMultistatus,
  preconditions,
  put,
  report,
  vevent,
} from './helpers/dav-client.js';

const cal = (...lines: string[]): string =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');

describe('PUT validation', () => {
  let server: RunningAlmanac;
  let c: DavClient;

  before(async () => {
    server = await startAlmanac();
    c = new DavClient(server.url);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
  });
  after(async () => server.stop());

  it('a DATE with TZID and no VALUE=DATE (Mozilla) is stored and found as an all-day event', async () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:moz',
      'DTSTAMP:20130901T000000Z',
      'DTSTART;TZID=Europe/Paris:20130903',
      'DTEND;TZID=Europe/Paris:20130904',
      'SUMMARY:All day',
      'END:VEVENT',
    );
    assert.equal((await put(c, '/alice/cal/moz.ics', text)).status, 201);
    const q = (start: string, end: string): Promise<{ text: string }> =>
      report(
        c,
        '/alice/cal/',
        `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
      );
    assert.ok(
      parseMultistatus((await q('20130903T120000Z', '20130903T130000Z')).text).props.has(
        '/alice/cal/moz.ics',
      ),
    );
    assert.ok(
      !parseMultistatus((await q('20130905T000000Z', '20130906T000000Z')).text).props.has(
        '/alice/cal/moz.ics',
      ),
    );
  });

  it('a broken object is 403 with the precondition and the reason', async () => {
    const r = await put(
      c,
      '/alice/cal/broken.ics',
      cal('BEGIN:VEVENT', 'UID:b', 'DTSTART:20240101T100000Z', 'END:VTODO'),
    );
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('valid-calendar-data')]);
    assert.match(errorMessage(r.text), /line 7: END:VTODO closes BEGIN:VEVENT of line 4/);
    assert.equal((await c.request('GET', '/alice/cal/broken.ics', { user: 'alice' })).status, 404);
  });

  it('every refusal of data says why', async () => {
    const cases: [string, string, string, RegExp][] = [
      [
        '/alice/cal/x1.ics',
        cal('BEGIN:VEVENT', 'UID:x1', 'DTSTAMP:20240101T000000Z', 'END:VEVENT'),
        C('valid-calendar-data'),
        /VEVENT without DTSTART/,
      ],
      [
        '/alice/cal/x2.ics',
        vevent('x2', { extra: 'RECURRENCE-ID:garbage' }),
        C('valid-calendar-data'),
        /RECURRENCE-ID value "garbage"/,
      ],
      [
        '/alice/cal/x3.ics',
        vevent('x3', { extra: 'RRULE:FREQ=DAILY;COUNT=99999' }),
        C('valid-calendar-object-resource'),
        /COUNT=99999 exceeds/,
      ],
      ['/alice/cal/x4.ics', vevent('x4').replace('UID:x4\r\n', ''), C('valid-calendar-data'), /without UID/],
      [
        '/alice/book/x5.vcf',
        'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x5\r\nN:Doe;;;;\r\nEND:VCARD\r\n',
        CR('valid-address-data'),
        /vCard without FN/,
      ],
      [
        '/alice/book/x6.vcf',
        'BEGIN:VCARD\r\nVERSION:5.0\r\nUID:x6\r\nFN:X\r\nEND:VCARD\r\n',
        CR('supported-address-data'),
        /version 5\.0 is not supported/,
      ],
    ];
    for (const [path, body, precondition, reason] of cases) {
      const r = await put(c, path, body, 'alice', {
        'Content-Type': path.endsWith('.vcf') ? 'text/vcard' : 'text/calendar',
      });
      assert.equal(r.status, 403, path);
      assert.deepEqual(preconditions(r.text), [precondition], path);
      assert.match(errorMessage(r.text), reason, path);
    }
  });

  it('control characters are removed from what is stored', async () => {
    const r = await put(c, '/alice/cal/ctl.ics', vevent('ctl', { summary: 'bell\u0007nul\u0000end' }));
    assert.equal(r.status, 201);
    const got = await c.request('GET', '/alice/cal/ctl.ics', { user: 'alice' });
    assert.match(got.text, /SUMMARY:bellnulend\r\n/);
    assert.equal(got.headers.etag, r.headers.etag);
  });

  it('"hello" or an empty body put into a principal is 400 with the reason, and nothing is stored', async () => {
    for (const [body, reason] of [
      ['hello\n', /not iCalendar or vCard data/],
      ['', /the body is empty/],
    ] as const) {
      const r = await put(c, '/alice/note.txt', body, 'alice', { 'Content-Type': 'text/plain' });
      assert.equal(r.status, 400);
      assert.match(r.text, reason);
      assert.match(r.text, /Only a calendar or an address book/);
    }
    assert.equal((await c.request('GET', '/alice/note.txt', { user: 'alice' })).status, 404);
    const listing = parseMultistatus((await c.propfind('/alice/', ['{DAV:}resourcetype'], '1')).text);
    assert.ok(![...listing.props.keys()].some((h) => h.includes('note.txt')));
  });
});

describe('[storage] plain_files = True', () => {
  it('stores plain files in plain collections, as a WebDAV server does', async () => {
    const server = await startAlmanac({ config: { storage: { plain_files: 'True' } } });
    try {
      const c = new DavClient(server.url);
      assert.equal(
        (await put(c, '/alice/note.txt', 'hello\n', 'alice', { 'Content-Type': 'text/plain' })).status,
        201,
      );
      const stored: string[] = [];
      for await (const item of server.store.getItems('alice', ['note.txt'])) stored.push(item.text);
      assert.deepEqual(stored, ['hello\n']);
    } finally {
      await server.stop();
    }
  });
});
