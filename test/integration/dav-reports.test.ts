/**
 * REPORTs: calendar/addressbook multiget and query, calendar-data/address-data selection, free-busy,
 * sync-collection, expand-property, principal search.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  CR,
  D,
  DavClient,
  malformedResponses,
  mkaddressbook,
  mkcalendar,
  parseMultistatus,
  preconditions,
  put,
  report,
  vcard,
  vevent,
  vtodo,
} from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';

let server: RunningAlmanac;
let c: DavClient;

const NSDECL =
  'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav"';

const weekly = vevent('weekly', {
  start: '20240101T090000Z',
  end: '20240101T100000Z',
  summary: 'Standup',
  extra: 'RRULE:FREQ=WEEKLY;COUNT=10\nEXDATE:20240115T090000Z',
});
const override = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//t//EN',
  'BEGIN:VEVENT',
  'UID:daily',
  'DTSTAMP:20240101T000000Z',
  'DTSTART:20240301T120000Z',
  'DTEND:20240301T130000Z',
  'RRULE:FREQ=DAILY;COUNT=5',
  'SUMMARY:Lunch',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:daily',
  'DTSTAMP:20240101T000000Z',
  'RECURRENCE-ID:20240303T120000Z',
  'DTSTART:20240303T150000Z',
  'DTEND:20240303T160000Z',
  'SUMMARY:Late lunch',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

before(async () => {
  server = await startAlmanac();
  c = new DavClient(server.url);
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
  const items: [string, string][] = [
    [
      '/alice/cal/meeting.ics',
      vevent('meeting', {
        summary: 'Project Meeting',
        extra: 'LOCATION:Room 1\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org\nCATEGORIES:WORK',
      }),
    ],
    [
      '/alice/cal/party.ics',
      vevent('party', { start: '20240615T180000Z', end: '20240615T230000Z', summary: 'Garden Party' }),
    ],
    ['/alice/cal/weekly.ics', weekly],
    ['/alice/cal/daily.ics', override],
    ['/alice/cal/todo.ics', vtodo('todo', 'Buy milk')],
    [
      '/alice/book/ann.vcf',
      vcard('ann', 'Ann Smith', 'EMAIL;TYPE=WORK:ann@example.org\nTEL:+1 555 0100\nNICKNAME:annie'),
    ],
    ['/alice/book/bob.vcf', vcard('bob', 'Bob Jones', 'EMAIL;TYPE=HOME:bob@example.com')],
    ['/alice/book/cid.vcf', vcard('cid', 'Cid Smithers', 'ORG:ACME')],
  ];
  for (const [path, body] of items) assert.equal((await put(c, path, body)).status, 201, path);
});
after(async () => server.stop());

function hrefs(text: string): string[] {
  const ms = parseMultistatus(text);
  return [...ms.props.keys()].filter((h) => (ms.statuses.get(h) ?? 200) === 200).sort();
}

function calendarData(text: string, href: string): string {
  const p = parseMultistatus(text).props.get(href)?.get(C('calendar-data'));
  assert.ok(p, `no calendar-data for ${href}`);
  return textContent(p.element);
}

const query = (filter: string, props = '<D:getetag/>'): string =>
  `<C:calendar-query ${NSDECL}><D:prop>${props}</D:prop><C:filter>${filter}</C:filter></C:calendar-query>`;
const eventFilter = (inner: string): string =>
  `<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">${inner}</C:comp-filter></C:comp-filter>`;

describe('calendar-multiget', () => {
  it('returns the requested items with data, and 404 for a missing href', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-multiget ${NSDECL}><D:prop><D:getetag/><C:calendar-data/></D:prop>
        <D:href>/alice/cal/meeting.ics</D:href><D:href>/alice/cal/nothing.ics</D:href></C:calendar-multiget>`,
    );
    assert.equal(r.status, 207);
    const ms = parseMultistatus(r.text);
    assert.match(calendarData(r.text, '/alice/cal/meeting.ics'), /UID:meeting/);
    assert.equal(ms.statuses.get('/alice/cal/nothing.ics'), 404);
    assert.ok(!ms.props.has('/alice/cal/party.ics'));
  });

  it('calendar-data without a selection is the stored object byte for byte, with the ETag GET gives', async () => {
    const get = await c.request('GET', '/alice/cal/daily.ics', { user: 'alice' });
    assert.equal(get.status, 200);
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-multiget ${NSDECL}><D:prop><C:calendar-data/><D:getetag/></D:prop><D:href>/alice/cal/daily.ics</D:href><D:href>/alice/cal/weekly.ics</D:href></C:calendar-multiget>`,
    );
    assert.equal(calendarData(r.text, '/alice/cal/daily.ics'), get.text);
    assert.equal(calendarData(r.text, '/alice/cal/daily.ics'), override);
    const etag = parseMultistatus(r.text).props.get('/alice/cal/daily.ics')?.get(D('getetag'))?.element;
    assert.ok(etag);
    assert.equal(textContent(etag), get.headers.etag);
    assert.match(calendarData(r.text, '/alice/cal/weekly.ics'), /EXDATE:20240115T090000Z/);
  });

  it('an unknown property is 404 next to the found ones', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-multiget ${NSDECL}><D:prop><D:getetag/><D:nope/></D:prop><D:href>/alice/cal/party.ics</D:href></C:calendar-multiget>`,
    );
    const p = parseMultistatus(r.text).props.get('/alice/cal/party.ics');
    assert.equal(p?.get(D('getetag'))?.status, 200);
    assert.equal(p?.get(D('nope'))?.status, 404);
  });
});

describe('calendar-query', () => {
  it('comp-filter VEVENT finds events only', async () => {
    const r = await report(c, '/alice/cal/', query(eventFilter('')));
    assert.equal(r.status, 207);
    assert.deepEqual(hrefs(r.text), [
      '/alice/cal/daily.ics',
      '/alice/cal/meeting.ics',
      '/alice/cal/party.ics',
      '/alice/cal/weekly.ics',
    ]);
  });

  it('comp-filter VTODO finds the todo', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query('<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>'),
    );
    assert.deepEqual(hrefs(r.text), ['/alice/cal/todo.ics']);
  });

  it('prop-filter with text-match (default i;ascii-casemap, substring)', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(eventFilter('<C:prop-filter name="SUMMARY"><C:text-match>PARTY</C:text-match></C:prop-filter>')),
    );
    assert.deepEqual(hrefs(r.text), ['/alice/cal/party.ics']);
  });

  it('text-match with i;octet is case-sensitive', async () => {
    const f = (t: string): string =>
      query(
        eventFilter(
          `<C:prop-filter name="SUMMARY"><C:text-match collation="i;octet">${t}</C:text-match></C:prop-filter>`,
        ),
      );
    assert.deepEqual(hrefs((await report(c, '/alice/cal/', f('party'))).text), []);
    assert.deepEqual(hrefs((await report(c, '/alice/cal/', f('Party'))).text), ['/alice/cal/party.ics']);
  });

  it('negate-condition inverts a text-match', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(
        eventFilter(
          '<C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">e</C:text-match></C:prop-filter>',
        ),
      ),
    );
    // Neither "Standup" nor "Lunch"/"Late lunch" contains an "e".
    assert.deepEqual(hrefs(r.text), ['/alice/cal/daily.ics', '/alice/cal/weekly.ics']);
  });

  it('an unknown collation is 403 supported-collation', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(
        eventFilter(
          '<C:prop-filter name="SUMMARY"><C:text-match collation="x;nope">a</C:text-match></C:prop-filter>',
        ),
      ),
    );
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('supported-collation')]);
  });

  it('is-not-defined matches events without the property', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(eventFilter('<C:prop-filter name="LOCATION"><C:is-not-defined/></C:prop-filter>')),
    );
    assert.deepEqual(hrefs(r.text), [
      '/alice/cal/daily.ics',
      '/alice/cal/party.ics',
      '/alice/cal/weekly.ics',
    ]);
  });

  it('param-filter matches a parameter value', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(
        eventFilter(
          '<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>accepted</C:text-match></C:param-filter></C:prop-filter>',
        ),
      ),
    );
    assert.deepEqual(hrefs(r.text), ['/alice/cal/meeting.ics']);
  });

  it('time-range finds a plain event in range and not out of range', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(eventFilter('<C:time-range start="20240615T000000Z" end="20240616T000000Z"/>')),
    );
    assert.deepEqual(hrefs(r.text), ['/alice/cal/party.ics']);
  });

  it('time-range matches a later occurrence of a recurring event', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(eventFilter('<C:time-range start="20240205T000000Z" end="20240206T000000Z"/>')),
    );
    assert.deepEqual(hrefs(r.text), ['/alice/cal/weekly.ics']);
  });

  it('time-range does not match an EXDATE-excluded occurrence', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(eventFilter('<C:time-range start="20240115T000000Z" end="20240116T000000Z"/>')),
    );
    assert.deepEqual(hrefs(r.text), []);
  });

  it('time-range after the last occurrence finds nothing', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(eventFilter('<C:time-range start="20250101T000000Z" end="20250201T000000Z"/>')),
    );
    assert.deepEqual(hrefs(r.text), []);
  });

  it('time-range honours a moved overridden instance', async () => {
    const at = (s: string, e: string): string =>
      query(eventFilter(`<C:time-range start="${s}" end="${e}"/>`));
    assert.deepEqual(
      hrefs((await report(c, '/alice/cal/', at('20240303T150000Z', '20240303T160000Z'))).text),
      ['/alice/cal/daily.ics'],
    );
    assert.deepEqual(
      hrefs((await report(c, '/alice/cal/', at('20240303T120000Z', '20240303T130000Z'))).text),
      [],
    );
  });

  it('calendar-data with expand returns UTC instances with RECURRENCE-ID', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(
        eventFilter('<C:time-range start="20240101T000000Z" end="20240109T000000Z"/>'),
        '<C:calendar-data><C:expand start="20240101T000000Z" end="20240109T000000Z"/></C:calendar-data>',
      ),
    );
    assert.deepEqual(hrefs(r.text), ['/alice/cal/weekly.ics']);
    const data = calendarData(r.text, '/alice/cal/weekly.ics');
    assert.equal(data.match(/BEGIN:VEVENT/g)?.length, 2, data);
    assert.match(data, /RECURRENCE-ID:20240101T090000Z/);
    assert.match(data, /RECURRENCE-ID:20240108T090000Z/);
    assert.doesNotMatch(data, /RRULE/);
    assert.doesNotMatch(data, /20240115T090000Z/);
    assert.doesNotMatch(data, /20240122T090000Z/);
  });

  it('a query whose filter has no time range answers expand only with objects that have an instance in it', async () => {
    // Without the time-range filter every event matches; party (June) and meeting (January 10th) have
    // nothing between January 1st and 9th: a VCALENDAR without a component would be invalid iCalendar.
    const r = await report(
      c,
      '/alice/cal/',
      query(
        eventFilter(''),
        '<D:getetag/><C:calendar-data><C:expand start="20240101T000000Z" end="20240109T000000Z"/></C:calendar-data>',
      ),
    );
    assert.equal(r.status, 207, r.text);
    assert.deepEqual(hrefs(r.text), ['/alice/cal/weekly.ics']);
    assert.equal(calendarData(r.text, '/alice/cal/weekly.ics').match(/BEGIN:VEVENT/g)?.length, 2);
    // The same query without expand lists every event.
    const all = await report(c, '/alice/cal/', query(eventFilter('')));
    assert.deepEqual(hrefs(all.text), [
      '/alice/cal/daily.ics',
      '/alice/cal/meeting.ics',
      '/alice/cal/party.ics',
      '/alice/cal/weekly.ics',
    ]);
  });

  it('calendar-data with limit-recurrence-set keeps the master and overrides in range', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-multiget ${NSDECL}><D:prop><C:calendar-data><C:limit-recurrence-set start="20240310T000000Z" end="20240320T000000Z"/></C:calendar-data></D:prop><D:href>/alice/cal/daily.ics</D:href></C:calendar-multiget>`,
    );
    const data = calendarData(r.text, '/alice/cal/daily.ics');
    assert.match(data, /RRULE/);
    assert.doesNotMatch(data, /Late lunch/);
  });

  it('calendar-data with partial comp/prop returns only the selected properties', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-multiget ${NSDECL}><D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:allprop/><C:comp name="VEVENT"><C:prop name="UID"/><C:prop name="SUMMARY"/></C:comp></C:comp></C:calendar-data></D:prop><D:href>/alice/cal/meeting.ics</D:href></C:calendar-multiget>`,
    );
    const data = calendarData(r.text, '/alice/cal/meeting.ics');
    assert.match(data, /SUMMARY:Project Meeting/);
    assert.match(data, /UID:meeting/);
    assert.doesNotMatch(data, /LOCATION/);
    assert.doesNotMatch(data, /DTSTART/);
  });

  const allObjects = [
    '/alice/cal/daily.ics',
    '/alice/cal/meeting.ics',
    '/alice/cal/party.ics',
    '/alice/cal/todo.ics',
    '/alice/cal/weekly.ics',
  ];
  const bare = (filter: string): string =>
    `<C:calendar-query ${NSDECL}><D:prop><D:getetag/></D:prop>${filter}</C:calendar-query>`;

  it('without a filter, or with an empty one, every object matches, as Radicale answers', async () => {
    for (const filter of ['', '<C:filter/>', '<C:filter> </C:filter>']) {
      const r = await report(c, '/alice/cal/', bare(filter));
      assert.equal(r.status, 207, `${filter}: ${r.text}`);
      assert.deepEqual(hrefs(r.text), allObjects, filter);
    }
  });

  it('a time-range whose end is not after its start matches nothing (207, no member), as Radicale', async () => {
    for (const [start, end] of [
      ['20240701T000000Z', '20240101T000000Z'],
      ['20240615T200000Z', '20240615T200000Z'],
    ]) {
      const r = await report(
        c,
        '/alice/cal/',
        query(eventFilter(`<C:time-range start="${start}" end="${end}"/>`)),
      );
      assert.equal(r.status, 207, r.text);
      assert.deepEqual(hrefs(r.text), []);
    }
    // Deeper in the filter too: an alarm in an empty range.
    const alarm = query(
      eventFilter(
        '<C:comp-filter name="VALARM"><C:time-range start="20240301T000000Z" end="20240201T000000Z"/></C:comp-filter>',
      ),
    );
    const r = await report(c, '/alice/cal/', alarm);
    assert.equal(r.status, 207, r.text);
    assert.deepEqual(hrefs(r.text), []);
  });

  it('nonsense in a filter with an empty time-range is still 403 valid-filter', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      query(
        '<C:comp-filter name="VCALENDAR"><C:comp-filter><C:time-range start="20240701T000000Z" end="20240101T000000Z"/></C:comp-filter></C:comp-filter>',
      ),
    );
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('valid-filter')]);
  });

  it('a query on an item answers only that item', async () => {
    const r = await report(c, '/alice/cal/party.ics', query(eventFilter('')), '0');
    assert.equal(r.status, 207);
    assert.deepEqual(hrefs(r.text), ['/alice/cal/party.ics']);
  });
});

describe('free-busy-query', () => {
  it('returns a VFREEBUSY with the busy periods in range', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:free-busy-query ${NSDECL}><C:time-range start="20240101T000000Z" end="20240110T000000Z"/></C:free-busy-query>`,
    );
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/calendar/);
    assert.match(r.text, /BEGIN:VFREEBUSY/);
    assert.match(r.text, /FREEBUSY[^:]*:20240101T090000Z\/(20240101T100000Z|PT1H)/);
    assert.match(r.text, /20240108T090000Z/);
    assert.doesNotMatch(r.text, /20240615T/);
  });

  it('without a time-range is 400', async () => {
    const r = await report(c, '/alice/cal/', `<C:free-busy-query ${NSDECL}/>`);
    assert.equal(r.status, 400);
  });
});

describe('addressbook reports', () => {
  const aquery = (filter: string, extra = '', props = '<D:getetag/>'): string =>
    `<CR:addressbook-query ${NSDECL}><D:prop>${props}</D:prop><CR:filter ${extra}>${filter}</CR:filter></CR:addressbook-query>`;

  it('addressbook-multiget returns cards and 404 for a missing href', async () => {
    const r = await report(
      c,
      '/alice/book/',
      `<CR:addressbook-multiget ${NSDECL}><D:prop><CR:address-data/></D:prop><D:href>/alice/book/ann.vcf</D:href><D:href>/alice/book/zed.vcf</D:href></CR:addressbook-multiget>`,
    );
    assert.equal(r.status, 207);
    const ms = parseMultistatus(r.text);
    assert.match(
      textContent(ms.props.get('/alice/book/ann.vcf')?.get(CR('address-data'))?.element ?? ms.root),
      /FN:Ann Smith/,
    );
    assert.equal(ms.statuses.get('/alice/book/zed.vcf'), 404);
  });

  const cases: [string, string, string[]][] = [
    ['contains', 'smith', ['/alice/book/ann.vcf', '/alice/book/cid.vcf']],
    ['equals', 'ann smith', ['/alice/book/ann.vcf']],
    ['starts-with', 'bob', ['/alice/book/bob.vcf']],
    ['ends-with', 'smithers', ['/alice/book/cid.vcf']],
  ];
  for (const [type, text, expected] of cases) {
    it(`text-match match-type=${type}`, async () => {
      const r = await report(
        c,
        '/alice/book/',
        aquery(
          `<CR:prop-filter name="FN"><CR:text-match match-type="${type}">${text}</CR:text-match></CR:prop-filter>`,
        ),
      );
      assert.equal(r.status, 207);
      assert.deepEqual(hrefs(r.text), expected);
    });
  }

  it('test="allof" needs every prop-filter, anyof (default) any', async () => {
    const filters =
      '<CR:prop-filter name="FN"><CR:text-match>smith</CR:text-match></CR:prop-filter>' +
      '<CR:prop-filter name="EMAIL"><CR:is-not-defined/></CR:prop-filter>';
    assert.deepEqual(hrefs((await report(c, '/alice/book/', aquery(filters, 'test="allof"'))).text), [
      '/alice/book/cid.vcf',
    ]);
    assert.deepEqual(hrefs((await report(c, '/alice/book/', aquery(filters))).text), [
      '/alice/book/ann.vcf',
      '/alice/book/cid.vcf',
    ]);
  });

  it('param-filter on TYPE', async () => {
    const r = await report(
      c,
      '/alice/book/',
      aquery(
        '<CR:prop-filter name="EMAIL"><CR:param-filter name="TYPE"><CR:text-match match-type="equals">home</CR:text-match></CR:param-filter></CR:prop-filter>',
      ),
    );
    assert.deepEqual(hrefs(r.text), ['/alice/book/bob.vcf']);
  });

  it('limit truncates with a 507 response for the collection', async () => {
    const body = `<CR:addressbook-query ${NSDECL}><D:prop><D:getetag/></D:prop><CR:filter/><CR:limit><CR:nresults>2</CR:nresults></CR:limit></CR:addressbook-query>`;
    const r = await report(c, '/alice/book/', body);
    assert.equal(r.status, 207);
    const ms = parseMultistatus(r.text);
    assert.equal(hrefs(r.text).filter((h) => h.endsWith('.vcf')).length, 2);
    assert.equal(ms.statuses.get('/alice/book/'), 507);
    // RFC 6352 §8.6.1: the truncated result says why (RFC 5323's DAV:number-of-matches-within-limits).
    assert.match(
      r.text,
      /<D:status>HTTP\/1\.1 507 [^<]*<\/D:status><D:error><D:number-of-matches-within-limits\/><\/D:error>/,
    );
  });

  it('address-data with prop selection returns only those properties', async () => {
    const r = await report(
      c,
      '/alice/book/',
      `<CR:addressbook-multiget ${NSDECL}><D:prop><CR:address-data><CR:prop name="FN"/><CR:prop name="EMAIL"/></CR:address-data></D:prop><D:href>/alice/book/ann.vcf</D:href></CR:addressbook-multiget>`,
    );
    const ms = parseMultistatus(r.text);
    const data = textContent(
      ms.props.get('/alice/book/ann.vcf')?.get(CR('address-data'))?.element ?? ms.root,
    );
    assert.match(data, /FN:Ann Smith/);
    assert.match(data, /EMAIL/);
    assert.doesNotMatch(data, /TEL/);
    assert.doesNotMatch(data, /NICKNAME/);
    assert.match(data, /BEGIN:VCARD[\s\S]*END:VCARD/);
  });

  it('address-data asking for a type that is not offered is 415, with or without other properties', async () => {
    for (const props of ['', '<D:getetag/>']) {
      const r = await report(
        c,
        '/alice/book/',
        `<CR:addressbook-multiget ${NSDECL}><D:prop>${props}<CR:address-data content-type="application/vcard+json"/></D:prop><D:href>/alice/book/ann.vcf</D:href></CR:addressbook-multiget>`,
      );
      assert.equal(r.status, 415, props);
      assert.deepEqual(preconditions(r.text), [CR('supported-address-data-conversion')]);
    }
  });

  it('address-data without a selection is the stored card as it is', async () => {
    const get = await c.request('GET', '/alice/book/bob.vcf', { user: 'alice' });
    const r = await report(
      c,
      '/alice/book/',
      `<CR:addressbook-multiget ${NSDECL}><D:prop><D:getetag/><CR:address-data/></D:prop><D:href>/alice/book/bob.vcf</D:href></CR:addressbook-multiget>`,
    );
    const data = parseMultistatus(r.text).props.get('/alice/book/bob.vcf')?.get(CR('address-data'));
    assert.ok(data);
    assert.equal(textContent(data.element), get.text);
  });

  it('calendar-query on an address book is 403 supported-report', async () => {
    const r = await report(c, '/alice/book/', query(eventFilter('')));
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [D('supported-report')]);
  });
});

describe('addressbook-query over many cards', () => {
  // More than two batches of 256 texts, so that matches and the limit fall in later batches.
  const CARDS = 700;
  const group = (i: number): string => `group-${i % 3}`;
  const inGroupCount = (g: string): number =>
    Array.from({ length: CARDS }, (_, i) => group(i)).filter((x) => x === g).length;
  const query = (filter: string, limit = '', props = '<D:getetag/>'): string =>
    `<CR:addressbook-query ${NSDECL}><D:prop>${props}</D:prop><CR:filter>${filter}</CR:filter>${limit}</CR:addressbook-query>`;
  const inGroup = (g: string): string =>
    `<CR:prop-filter name="NOTE"><CR:text-match match-type="equals">${g}</CR:text-match></CR:prop-filter>`;
  const cards = (text: string): string[] => hrefs(text).filter((h) => h !== '/alice/many/');

  before(async () => {
    let body = '';
    for (let i = 0; i < CARDS; i++) {
      body += vcard(`many-${i}`, `Person ${i}`, `NOTE:${group(i)}`);
    }
    assert.equal((await put(c, '/alice/many/', body)).status, 201);
  });

  it('answers every matching card, streamed', async () => {
    const r = await report(c, '/alice/many/', query(inGroup('group-0')));
    assert.equal(r.status, 207);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['content-length'], undefined);
    assert.deepEqual(malformedResponses(r.text), []);
    assert.equal(cards(r.text).length, inGroupCount('group-0'));
    // Each answer is the card it names.
    const data = await report(
      c,
      '/alice/many/',
      query(inGroup('group-2'), '', '<CR:address-data><CR:prop name="NOTE"/></CR:address-data>'),
    );
    const ms = parseMultistatus(data.text);
    assert.equal(cards(data.text).length, inGroupCount('group-2'));
    for (const href of cards(data.text)) {
      assert.match(
        textContent(ms.props.get(href)?.get(CR('address-data'))?.element ?? ms.root),
        /NOTE:group-2/,
      );
    }
  });

  it('a limit reached in a later batch gives exactly that many cards, then the 507 response', async () => {
    const r = await report(
      c,
      '/alice/many/',
      query('', '<CR:limit><CR:nresults>300</CR:nresults></CR:limit>'),
    );
    assert.equal(r.status, 207);
    assert.deepEqual(malformedResponses(r.text), []);
    assert.equal(cards(r.text).length, 300);
    assert.equal(parseMultistatus(r.text).statuses.get('/alice/many/'), 507);
    const all = await report(
      c,
      '/alice/many/',
      query('', '<CR:limit><CR:nresults>700</CR:nresults></CR:limit>'),
    );
    assert.equal(cards(all.text).length, CARDS);
    assert.equal(parseMultistatus(all.text).statuses.get('/alice/many/'), undefined);
  });

  it('an address-data type that is not offered is still a complete 415', async () => {
    const r = await report(
      c,
      '/alice/many/',
      query(inGroup('group-1'), '', '<CR:address-data content-type="application/vcard+json"/>'),
    );
    assert.equal(r.status, 415);
    assert.deepEqual(preconditions(r.text), [CR('supported-address-data-conversion')]);
  });
});

describe('sync-collection', () => {
  const sync = (token: string, limit = ''): string =>
    `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level>${limit}<D:prop><D:getetag/></D:prop></D:sync-collection>`;

  it('initial, incremental with changes and deletions', async () => {
    assert.equal((await mkcalendar(c, '/alice/sync/')).status, 201);
    for (const n of ['s1', 's2', 's3'])
      assert.equal((await put(c, `/alice/sync/${n}.ics`, vevent(n))).status, 201);
    const first = await report(c, '/alice/sync/', sync(''));
    assert.equal(first.status, 207);
    const ms1 = parseMultistatus(first.text);
    assert.deepEqual(hrefs(first.text), ['/alice/sync/s1.ics', '/alice/sync/s2.ics', '/alice/sync/s3.ics']);
    assert.ok(ms1.syncToken);

    const none = await report(c, '/alice/sync/', sync(ms1.syncToken));
    assert.deepEqual(hrefs(none.text), []);

    assert.equal((await put(c, '/alice/sync/s2.ics', vevent('s2', { summary: 'changed' }))).status, 204);
    assert.equal((await c.request('DELETE', '/alice/sync/s3.ics', { user: 'alice' })).status, 200);
    assert.equal((await put(c, '/alice/sync/s4.ics', vevent('s4'))).status, 201);
    const second = await report(c, '/alice/sync/', sync(ms1.syncToken));
    const ms2 = parseMultistatus(second.text);
    assert.deepEqual(hrefs(second.text), ['/alice/sync/s2.ics', '/alice/sync/s4.ics']);
    assert.equal(ms2.statuses.get('/alice/sync/s3.ics'), 404);
    assert.notEqual(ms2.syncToken, ms1.syncToken);
  });

  it('an invalid token is 403 valid-sync-token', async () => {
    const r = await report(c, '/alice/sync/', sync('http://radicale.org/ns/sync/0000'));
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [D('valid-sync-token')]);
    const r2 = await report(c, '/alice/sync/', sync('garbage'));
    assert.equal(r2.status, 403);
  });

  it('limit pages through the changes with 507 until done', async () => {
    assert.equal((await mkcalendar(c, '/alice/paged/')).status, 201);
    for (let i = 0; i < 5; i++)
      assert.equal((await put(c, `/alice/paged/p${i}.ics`, vevent(`p${i}`))).status, 201);
    const seen = new Set<string>();
    let token = '';
    for (let round = 0; round < 10; round++) {
      const r = await report(
        c,
        '/alice/paged/',
        sync(token, '<D:limit><D:nresults>2</D:nresults></D:limit>'),
      );
      assert.equal(r.status, 207);
      const ms = parseMultistatus(r.text);
      const got = hrefs(r.text).filter((h) => h.endsWith('.ics'));
      assert.ok(got.length <= 2);
      for (const h of got) seen.add(h);
      assert.ok(ms.syncToken);
      token = ms.syncToken;
      if (ms.statuses.get('/alice/paged/') !== 507) break;
    }
    assert.equal(seen.size, 5);
  });

  it('on a plain collection is refused', async () => {
    const r = await report(c, '/alice/', sync(''), '0');
    assert.equal(r.status, 403);
  });
});

describe('REPORTs asking for allprop, propname, no property or an empty prop', () => {
  const selections: [string, string][] = [
    ['allprop', '<D:allprop/>'],
    ['propname', '<D:propname/>'],
    ['no prop element', ''],
    ['an empty prop', '<D:prop/>'],
  ];
  const reports: [string, string, (sel: string) => string, string[]][] = [
    [
      'calendar-query',
      '/alice/cal/',
      (sel) =>
        `<C:calendar-query ${NSDECL}>${sel}<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter></C:filter></C:calendar-query>`,
      ['/alice/cal/todo.ics'],
    ],
    [
      'calendar-multiget',
      '/alice/cal/',
      (sel) =>
        `<C:calendar-multiget ${NSDECL}>${sel}<D:href>/alice/cal/party.ics</D:href><D:href>/alice/cal/none.ics</D:href></C:calendar-multiget>`,
      ['/alice/cal/party.ics'],
    ],
    [
      'addressbook-multiget',
      '/alice/book/',
      (sel) =>
        `<CR:addressbook-multiget ${NSDECL}>${sel}<D:href>/alice/book/bob.vcf</D:href></CR:addressbook-multiget>`,
      ['/alice/book/bob.vcf'],
    ],
    [
      'addressbook-query',
      '/alice/book/',
      (sel) =>
        `<CR:addressbook-query ${NSDECL}>${sel}<CR:filter><CR:prop-filter name="ORG"/></CR:filter></CR:addressbook-query>`,
      ['/alice/book/cid.vcf'],
    ],
    [
      'sync-collection',
      '/alice/book/',
      (sel) =>
        `<D:sync-collection ${NSDECL}><D:sync-token/><D:sync-level>1</D:sync-level>${sel}</D:sync-collection>`,
      ['/alice/book/ann.vcf', '/alice/book/bob.vcf', '/alice/book/cid.vcf'],
    ],
  ];
  for (const [name, path, body, expected] of reports) {
    for (const [what, sel] of selections) {
      it(`${name} with ${what} answers the same members with well-formed responses`, async () => {
        const r = await report(c, path, body(sel));
        assert.equal(r.status, 207, r.text);
        assert.deepEqual(malformedResponses(r.text), []);
        const ms = parseMultistatus(r.text);
        assert.deepEqual(hrefs(r.text), expected);
        for (const href of expected) {
          const props = ms.props.get(href);
          if (what === 'allprop') {
            assert.equal(props?.get(D('getetag'))?.status, 200, r.text);
            assert.match(textContent(props?.get(D('getetag'))?.element ?? ms.root), /^"[0-9a-f]+"$/);
          } else if (what === 'propname') {
            assert.equal(props?.get(D('getetag'))?.status, 200, r.text);
            assert.equal(textContent(props?.get(D('getetag'))?.element ?? ms.root), '');
          } else {
            assert.equal(ms.statuses.get(href), 200, r.text);
          }
        }
      });
    }
  }
});

describe('principal reports', () => {
  it('expand-property expands current-user-principal into its displayname', async () => {
    const r = await report(
      c,
      '/alice/',
      `<D:expand-property xmlns:D="DAV:"><D:property name="current-user-principal"><D:property name="displayname"/></D:property></D:expand-property>`,
      '0',
    );
    assert.equal(r.status, 207);
    assert.match(r.text, /current-user-principal/);
    assert.match(r.text, /<D:href>\/alice\/<\/D:href>/);
    assert.match(r.text, /displayname/);
  });

  it('principal-property-search finds a readable principal by displayname', async () => {
    const patch = `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Alice Liddell</D:displayname></D:prop></D:set></D:propertyupdate>`;
    const p = await c.request('PROPPATCH', '/alice/', { user: 'alice', body: patch });
    assert.equal(p.status, 207);
    const search = `<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop><D:match>liddell</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>`;
    const r = await report(c, '/', search, '0');
    assert.equal(r.status, 207);
    const ms = parseMultistatus(r.text);
    assert.deepEqual([...ms.props.keys()], ['/alice/']);
    assert.equal(
      textContent(ms.props.get('/alice/')?.get(D('displayname'))?.element ?? ms.root),
      'Alice Liddell',
    );
    // bob cannot read alice's principal under owner_only, so the search shows him nothing.
    await c.propfind('/', [D('current-user-principal')], '0', 'bob');
    const asBob = await report(c, '/', search, '0', 'bob');
    assert.equal(asBob.status, 207);
    assert.deepEqual([...parseMultistatus(asBob.text).props.keys()], []);
  });

  it("principal-match DAV:self answers the current user's principal (RFC 3744 §9.3)", async () => {
    const body = `<D:principal-match xmlns:D="DAV:"><D:self/><D:prop><D:displayname/></D:prop></D:principal-match>`;
    const r = await report(c, '/', body, '0');
    assert.equal(r.status, 207);
    assert.deepEqual([...parseMultistatus(r.text).props.keys()], ['/alice/']);
    const asBob = await report(c, '/', body, '0', 'bob');
    assert.deepEqual([...parseMultistatus(asBob.text).props.keys()], ['/bob/']);
    // Below another user's principal there is no principal of alice's.
    const elsewhere = await report(c, '/bob/', body, '0', 'bob');
    assert.deepEqual([...parseMultistatus(elsewhere.text).props.keys()], ['/bob/']);
    assert.equal((await report(c, '/', body, '1')).status, 400, 'Depth must be 0');
  });

  it("principal-match DAV:principal-property DAV:owner finds the user's own collections", async () => {
    const body = `<D:principal-match xmlns:D="DAV:"><D:principal-property><D:owner/></D:principal-property><D:prop><D:displayname/></D:prop></D:principal-match>`;
    const r = await report(c, '/alice/', body, '0');
    assert.equal(r.status, 207);
    const found = [...parseMultistatus(r.text).props.keys()];
    assert.ok(found.includes('/alice/cal/'), found.join(' '));
    assert.ok(
      found.every((h) => h.startsWith('/alice/')),
      found.join(' '),
    );
    const bad = await report(c, '/alice/', '<D:principal-match xmlns:D="DAV:"/>', '0');
    assert.equal(bad.status, 400);
  });

  it('principal-search-property-set lists searchable properties', async () => {
    const r = await report(c, '/', '<D:principal-search-property-set xmlns:D="DAV:"/>', '0');
    assert.equal(r.status, 200);
    assert.match(r.text, /<D:principal-search-property-set/);
    assert.match(r.text, /<D:principal-search-property><D:prop><D:displayname\/>/);
  });

  it('an unknown report is 403 supported-report', async () => {
    const r = await report(c, '/alice/cal/', '<X:frobnicate xmlns:X="urn:x"/>');
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [D('supported-report')]);
  });
});
