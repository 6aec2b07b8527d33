/**
 * Recurrence answers a client sees through calendar-query, calendar-data expand and free-busy-query:
 * DURATION on recurring events, all-day EXDATEs, recurring VTODOs anchored on DUE, the expand
 * limit decided before the answer starts, and which events free-busy counts as busy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { C, DavClient, mkcalendar, parseMultistatus, put, report } from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';

const NSDECL = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"';

let server: RunningAlmanac;
let c: DavClient;

function ics(comp: 'VEVENT' | 'VTODO', uid: string, ...lines: string[]): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    `BEGIN:${comp}`,
    `UID:${uid}`,
    'DTSTAMP:20240101T000000Z',
    ...lines,
    `END:${comp}`,
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** The hrefs a calendar-query over `comp` in [start, end) returns. */
async function queryHrefs(path: string, comp: string, start: string, end: string): Promise<string[]> {
  const r = await report(
    c,
    path,
    `<C:calendar-query ${NSDECL}><D:prop><D:getetag/></D:prop><C:filter>` +
      `<C:comp-filter name="VCALENDAR"><C:comp-filter name="${comp}">` +
      `<C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
  );
  assert.equal(r.status, 207, r.text);
  return [...parseMultistatus(r.text).props.keys()].sort();
}

async function freeBusyLines(path: string, start: string, end: string): Promise<string[]> {
  const r = await report(
    c,
    path,
    `<C:free-busy-query ${NSDECL}><C:time-range start="${start}" end="${end}"/></C:free-busy-query>`,
  );
  assert.equal(r.status, 200, r.text);
  return r.text.split('\r\n').filter((l) => l.startsWith('FREEBUSY'));
}

before(async () => {
  server = await startAlmanac({ config: { reporting: { max_expand_occurrence: '6' } } });
  c = new DavClient(server.url);
});
after(async () => server.stop());

describe('a recurring VEVENT with DURATION', () => {
  const path = '/alice/duration/';
  before(async () => {
    assert.equal((await mkcalendar(c, path)).status, 201);
    const body = ics(
      'VEVENT',
      'dur',
      'DTSTART:20270102T150000Z',
      'DURATION:PT1H',
      'RRULE:FREQ=DAILY;COUNT=5',
    );
    assert.equal((await put(c, `${path}dur.ics`, body)).status, 201);
  });

  it('lasts DURATION from each instance: no match between two instances, a match inside one', async () => {
    assert.deepEqual(await queryHrefs(path, 'VEVENT', '20270103T190000Z', '20270103T200000Z'), []);
    assert.deepEqual(await queryHrefs(path, 'VEVENT', '20270104T153000Z', '20270104T154500Z'), [
      `${path}dur.ics`,
    ]);
    assert.deepEqual(await queryHrefs(path, 'VEVENT', '20270106T160000Z', '20270110T000000Z'), []);
  });

  it('gives five one-hour busy periods in free-busy', async () => {
    assert.deepEqual(await freeBusyLines(path, '20270101T000000Z', '20270110T000000Z'), [
      'FREEBUSY;FBTYPE=BUSY:20270102T150000Z/20270102T160000Z',
      'FREEBUSY;FBTYPE=BUSY:20270103T150000Z/20270103T160000Z',
      'FREEBUSY;FBTYPE=BUSY:20270104T150000Z/20270104T160000Z',
      'FREEBUSY;FBTYPE=BUSY:20270105T150000Z/20270105T160000Z',
      'FREEBUSY;FBTYPE=BUSY:20270106T150000Z/20270106T160000Z',
    ]);
  });
});

describe('an all-day weekly VEVENT with its second instance excluded', () => {
  const path = '/alice/allday/';
  before(async () => {
    assert.equal((await mkcalendar(c, path)).status, 201);
    const body = ics(
      'VEVENT',
      'allday',
      'DTSTART;VALUE=DATE:20240625',
      'DTEND;VALUE=DATE:20240626',
      'RRULE:FREQ=WEEKLY;COUNT=13',
      'EXDATE;VALUE=DATE:20240702',
    );
    assert.equal((await put(c, `${path}allday.ics`, body)).status, 201);
  });

  it('still has its first instance, not the excluded one, and the later ones', async () => {
    const item = [`${path}allday.ics`];
    assert.deepEqual(await queryHrefs(path, 'VEVENT', '20240601T000000Z', '20240701T000000Z'), item);
    assert.deepEqual(await queryHrefs(path, 'VEVENT', '20240625T000000Z', '20240626T000000Z'), item);
    assert.deepEqual(await queryHrefs(path, 'VEVENT', '20240702T000000Z', '20240703T000000Z'), []);
    assert.deepEqual(await queryHrefs(path, 'VEVENT', '20240709T000000Z', '20240710T000000Z'), item);
  });

  it('is expanded with the first instance and without the excluded one', async () => {
    const r = await report(
      c,
      path,
      `<C:calendar-query ${NSDECL}><D:prop><C:calendar-data><C:expand start="20240601T000000Z" end="20240715T000000Z"/></C:calendar-data></D:prop>` +
        `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`,
    );
    assert.equal(r.status, 207, r.text);
    const data = parseMultistatus(r.text).props.get(`${path}allday.ics`)?.get(C('calendar-data'));
    assert.ok(data);
    const starts = textContent(data.element)
      .split(/\r?\n/)
      .filter((l) => l.startsWith('DTSTART'));
    assert.deepEqual(starts, ['DTSTART;VALUE=DATE:20240625', 'DTSTART;VALUE=DATE:20240709']);
  });
});

describe('a recurring VTODO with DUE and no DTSTART', () => {
  const path = '/alice/todos/';
  before(async () => {
    assert.equal((await mkcalendar(c, path)).status, 201);
    const body = ics('VTODO', 'due', 'DUE:20240110T120000Z', 'RRULE:FREQ=WEEKLY;COUNT=4', 'SUMMARY:Report');
    assert.equal((await put(c, `${path}due.ics`, body)).status, 201);
  });

  it('matches at every DUE of its recurrence, and not after the last', async () => {
    const item = [`${path}due.ics`];
    assert.deepEqual(await queryHrefs(path, 'VTODO', '20240109T000000Z', '20240111T000000Z'), item);
    assert.deepEqual(await queryHrefs(path, 'VTODO', '20240124T000000Z', '20240125T000000Z'), item);
    assert.deepEqual(await queryHrefs(path, 'VTODO', '20240131T000000Z', '20240201T000000Z'), item);
    assert.deepEqual(await queryHrefs(path, 'VTODO', '20240112T000000Z', '20240116T000000Z'), []);
    assert.deepEqual(await queryHrefs(path, 'VTODO', '20240201T000000Z', '20240301T000000Z'), []);
  });
});

describe('[reporting] max_expand_occurrence in a REPORT (6 here)', () => {
  const path = '/alice/expand/';
  const expandQuery = (start: string, end: string): string =>
    `<C:calendar-query ${NSDECL}><D:prop><D:getetag/><C:calendar-data><C:expand start="${start}" end="${end}"/></C:calendar-data></D:prop>` +
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">` +
    `<C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
  before(async () => {
    assert.equal((await mkcalendar(c, path)).status, 201);
    for (const [name, start] of [
      ['a', '20250301T090000Z'],
      ['b', '20250301T100000Z'],
    ] as const) {
      const body = ics('VEVENT', name, `DTSTART:${start}`, 'DURATION:PT30M', 'RRULE:FREQ=DAILY;COUNT=10');
      assert.equal((await put(c, `${path}${name}.ics`, body)).status, 201);
    }
  });

  it('answers within the limit with every instance', async () => {
    const r = await report(c, path, expandQuery('20250301T000000Z', '20250304T000000Z'));
    assert.equal(r.status, 207, r.text);
    assert.equal((r.text.match(/BEGIN:VEVENT/g) ?? []).length, 6);
  });

  it('past the limit in one item is a complete 400, not a dropped connection', async () => {
    const r = await report(c, path, expandQuery('20250301T000000Z', '20250309T000000Z'));
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /more than 6/);
  });

  it('counts the instances of all items of the report, in calendar-query and multiget', async () => {
    const r = await report(c, path, expandQuery('20250301T000000Z', '20250305T000000Z'));
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /more than 6/);
    const m = await report(
      c,
      path,
      `<C:calendar-multiget ${NSDECL}><D:prop><C:calendar-data><C:expand start="20250301T000000Z" end="20250305T000000Z"/></C:calendar-data></D:prop>` +
        `<D:href>${path}a.ics</D:href><D:href>${path}b.ics</D:href></C:calendar-multiget>`,
    );
    assert.equal(m.status, 400, m.text);
  });
});

describe('free-busy: what counts as busy', () => {
  const path = '/alice/busy/';
  before(async () => {
    assert.equal((await mkcalendar(c, path)).status, 201);
    const events: [string, string[]][] = [
      ['opaque', ['DTSTART:20260301T090000Z', 'DTEND:20260301T100000Z']],
      ['cancelled', ['DTSTART:20260301T110000Z', 'DTEND:20260301T120000Z', 'STATUS:CANCELLED']],
      ['transparent', ['DTSTART:20260301T130000Z', 'DTEND:20260301T140000Z', 'TRANSP:TRANSPARENT']],
      ['tentative', ['DTSTART:20260301T150000Z', 'DTEND:20260301T160000Z', 'STATUS:TENTATIVE']],
    ];
    for (const [uid, lines] of events) {
      assert.equal((await put(c, `${path}${uid}.ics`, ics('VEVENT', uid, ...lines))).status, 201);
    }
    // A weekly series whose second instance was cancelled and third made transparent by overrides.
    const series = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//almanac tests//EN',
      'BEGIN:VEVENT',
      'UID:series',
      'DTSTAMP:20240101T000000Z',
      'DTSTART:20260302T090000Z',
      'DTEND:20260302T100000Z',
      'RRULE:FREQ=DAILY;COUNT=3',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:series',
      'DTSTAMP:20240101T000000Z',
      'RECURRENCE-ID:20260303T090000Z',
      'DTSTART:20260303T090000Z',
      'DTEND:20260303T100000Z',
      'STATUS:CANCELLED',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:series',
      'DTSTAMP:20240101T000000Z',
      'RECURRENCE-ID:20260304T090000Z',
      'DTSTART:20260304T090000Z',
      'DTEND:20260304T100000Z',
      'TRANSP:TRANSPARENT',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    assert.equal((await put(c, `${path}series.ics`, series)).status, 201);
  });

  it('ignores CANCELLED and TRANSPARENT events and instances, marks TENTATIVE as such', async () => {
    assert.deepEqual(await freeBusyLines(path, '20260301T000000Z', '20260305T000000Z'), [
      'FREEBUSY;FBTYPE=BUSY:20260301T090000Z/20260301T100000Z',
      'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260301T150000Z/20260301T160000Z',
      'FREEBUSY;FBTYPE=BUSY:20260302T090000Z/20260302T100000Z',
    ]);
  });
});
