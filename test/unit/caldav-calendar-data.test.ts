import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DavError } from '../../src/dav/errors.js';
import { parseXml } from '../../src/dav/xml.js';
import {
  parseCalendarDataRequest,
  renderCalendarData,
  type CalendarDataRequest,
} from '../../src/caldav/calendar-data.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/ical/${name}`, import.meta.url), 'utf8');
const C_NS = 'urn:ietf:params:xml:ns:caldav';
const OPTS = { maxExpand: 10_000 };

function request(inner: string): CalendarDataRequest {
  return parseCalendarDataRequest(parseXml(`<C:calendar-data xmlns:C="${C_NS}">${inner}</C:calendar-data>`));
}

/** The property lines of each VEVENT block, unfolded, keyed by RECURRENCE-ID (or 'single'). */
function events(text: string): Map<string, string[]> {
  const unfolded = text.replace(/\r\n[ \t]/g, '');
  const out = new Map<string, string[]>();
  for (const block of unfolded.split('BEGIN:VEVENT\r\n').slice(1)) {
    const lines = block.split('END:VEVENT')[0]?.split('\r\n').filter(Boolean) ?? [];
    const rid = lines.find((l) => l.startsWith('RECURRENCE-ID'))?.split(':')[1] ?? 'single';
    out.set(rid, lines);
  }
  return out;
}

describe('parseCalendarDataRequest', () => {
  it('without an element or selection the stored text comes back unchanged', () => {
    const text = fixture('berlin-weekly.ics');
    assert.equal(renderCalendarData(text, parseCalendarDataRequest(undefined), OPTS), text);
    assert.equal(renderCalendarData(text, request(''), OPTS), text);
  });

  it('parses comp/prop selections, allprop/allcomp and ranges', () => {
    const req = request(
      '<C:comp name="VCALENDAR"><C:allprop/><C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="UID" novalue="no"/><C:allcomp/></C:comp></C:comp>' +
        '<C:expand start="20240301T000000Z" end="20240401T000000Z"/>',
    );
    assert.deepEqual(req.select, {
      name: 'VCALENDAR',
      props: undefined,
      comps: [
        {
          name: 'VEVENT',
          props: [
            { name: 'SUMMARY', novalue: false },
            { name: 'UID', novalue: false },
          ],
          comps: undefined,
        },
      ],
    });
    assert.deepEqual(req.expand, { start: Date.UTC(2024, 2, 1) / 1000, end: Date.UTC(2024, 3, 1) / 1000 });
  });

  it('rejects expand without a valid start and end with 400', () => {
    assert.throws(
      () => request('<C:expand start="20240301T000000Z"/>'),
      (e) => e instanceof DavError && e.status === 400,
    );
    assert.throws(
      () => request('<C:limit-recurrence-set start="2024" end="20240401T000000Z"/>'),
      (e) => e instanceof DavError && e.status === 400,
    );
  });
});

describe('expand (RFC 4791 §9.6.5)', () => {
  const expandMarch = request('<C:expand start="20240301T000000Z" end="20240410T000000Z"/>');

  it('returns each instance in UTC with RECURRENCE-ID, overrides honoured, EXDATE removed', () => {
    const out = renderCalendarData(fixture('berlin-weekly.ics'), expandMarch, OPTS);
    assert.doesNotMatch(out, /VTIMEZONE|RRULE|EXDATE|TZID/);
    const evs = events(out);
    assert.deepEqual([...evs.keys()].sort(), [
      '20240304T090000Z',
      '20240311T090000Z',
      '20240325T090000Z',
      '20240401T080000Z',
      '20240408T080000Z',
    ]);
    const expectTimes: [string, string, string, string][] = [
      ['20240304T090000Z', '20240304T090000Z', '20240304T100000Z', 'Weekly standup'],
      ['20240311T090000Z', '20240311T090000Z', '20240311T100000Z', 'Weekly standup'],
      ['20240325T090000Z', '20240326T130000Z', '20240326T140000Z', 'Weekly standup (moved)'],
      ['20240401T080000Z', '20240401T080000Z', '20240401T090000Z', 'Weekly standup'],
      ['20240408T080000Z', '20240408T080000Z', '20240408T090000Z', 'Weekly standup'],
    ];
    for (const [rid, start, end, summary] of expectTimes) {
      const lines = evs.get(rid) ?? [];
      assert.ok(lines.includes(`DTSTART:${start}`), `${rid}: ${lines.join('|')}`);
      assert.ok(lines.includes(`DTEND:${end}`), rid);
      assert.ok(lines.includes(`SUMMARY:${summary}`), rid);
      assert.ok(lines.includes('UID:weekly-standup-3f1c@example.org'), rid);
    }
    // The alarm of the master is kept on its instances.
    assert.ok(evs.get('20240304T090000Z')?.includes('BEGIN:VALARM'));
    assert.ok(out.endsWith('END:VCALENDAR\r\n'));
  });

  it('returns only instances overlapping the range', () => {
    const out = renderCalendarData(
      fixture('berlin-weekly.ics'),
      request('<C:expand start="20240326T000000Z" end="20240402T000000Z"/>'),
      OPTS,
    );
    assert.deepEqual([...events(out).keys()].sort(), ['20240325T090000Z', '20240401T080000Z']);
  });

  it('keeps all-day instances as dates', () => {
    const out = renderCalendarData(
      fixture('birthday-date-no-dtend.ics'),
      request('<C:expand start="20300101T000000Z" end="20310101T000000Z"/>'),
      OPTS,
    );
    const evs = events(out);
    assert.deepEqual([...evs.keys()], ['20300405']);
    assert.ok(evs.get('20300405')?.includes('DTSTART;VALUE=DATE:20300405'));
  });

  it('converts a bare IANA TZID and non-recurring events to UTC without adding RECURRENCE-ID', () => {
    const ny = events(
      renderCalendarData(
        fixture('new-york-no-vtimezone.ics'),
        request('<C:expand start="20240310T000000Z" end="20240311T000000Z"/>'),
        OPTS,
      ),
    );
    assert.deepEqual(
      ny.get('20240310T130000Z')?.filter((l) => /^DT(START|END)/.test(l)),
      ['DTSTART:20240310T130000Z', 'DTEND:20240310T140000Z'],
    );
    const single = events(
      renderCalendarData(
        fixture('outlook-tzid-spaces.ics'),
        request('<C:expand start="20240701T000000Z" end="20240801T000000Z"/>'),
        OPTS,
      ),
    );
    assert.ok(single.get('single')?.includes('DTSTART:20240702T120000Z'));
  });

  it('refuses to expand more instances than allowed', () => {
    const daily = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//T//EN',
      'BEGIN:VEVENT',
      'UID:d',
      'DTSTART:20240101T100000Z',
      'RRULE:FREQ=DAILY',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    const year = request('<C:expand start="20240101T000000Z" end="20250101T000000Z"/>');
    assert.throws(
      () => renderCalendarData(daily, year, { maxExpand: 100 }),
      (e) => e instanceof DavError && e.status === 400 && /100/.test(e.message),
    );
    assert.equal(events(renderCalendarData(daily, year, { maxExpand: 400 })).size, 366);
  });
});

describe('limit-recurrence-set and limit-freebusy-set', () => {
  it('keeps the master and only the overrides that overlap the range', () => {
    const april = renderCalendarData(
      fixture('berlin-weekly.ics'),
      request('<C:limit-recurrence-set start="20240401T000000Z" end="20240501T000000Z"/>'),
      OPTS,
    );
    assert.equal(april.match(/BEGIN:VEVENT/g)?.length, 1);
    assert.match(april, /RRULE:FREQ=WEEKLY/);
    assert.match(april, /BEGIN:VTIMEZONE/);
    const march = renderCalendarData(
      fixture('berlin-weekly.ics'),
      request('<C:limit-recurrence-set start="20240326T000000Z" end="20240327T000000Z"/>'),
      OPTS,
    );
    assert.equal(march.match(/BEGIN:VEVENT/g)?.length, 2);
  });

  it('keeps only FREEBUSY periods overlapping the range', () => {
    const out = renderCalendarData(
      fixture('freebusy-component.ics'),
      request('<C:limit-freebusy-set start="20240313T000000Z" end="20240314T000000Z"/>'),
      OPTS,
    );
    assert.deepEqual(out.match(/^FREEBUSY.*$/gm), ['FREEBUSY:20240313T150000Z/20240313T160000Z']);
  });
});

describe('partial retrieval (C:comp / C:prop)', () => {
  it('returns only the selected components and properties', () => {
    const req = request(
      '<C:comp name="VCALENDAR"><C:prop name="VERSION"/><C:comp name="VEVENT"><C:prop name="UID"/><C:prop name="SUMMARY"/><C:prop name="DTSTART"/></C:comp></C:comp>',
    );
    const out = renderCalendarData(fixture('berlin-weekly.ics'), req, OPTS);
    assert.doesNotMatch(out, /VTIMEZONE|VALARM|PRODID|LOCATION|RRULE|DTEND/);
    assert.match(out, /^BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n/);
    const evs = events(out);
    assert.equal(evs.size, 1); // the override lost its RECURRENCE-ID too, both blocks have no id
    assert.equal(out.match(/BEGIN:VEVENT/g)?.length, 2);
    assert.equal(out.match(/^SUMMARY:/gm)?.length, 2);
  });

  it('allprop and allcomp keep everything below', () => {
    const req = request(
      '<C:comp name="VCALENDAR"><C:allprop/><C:comp name="VEVENT"><C:allprop/><C:allcomp/></C:comp></C:comp>',
    );
    const out = renderCalendarData(fixture('berlin-weekly.ics'), req, OPTS);
    assert.doesNotMatch(out, /VTIMEZONE/);
    assert.match(out, /BEGIN:VALARM/);
    assert.match(out, /RRULE:FREQ=WEEKLY/);
    assert.match(out, /PRODID:/);
  });

  it('combines with expand', () => {
    const req = request(
      '<C:comp name="VCALENDAR"><C:comp name="VEVENT"><C:prop name="DTSTART"/><C:prop name="RECURRENCE-ID"/></C:comp></C:comp>' +
        '<C:expand start="20240304T000000Z" end="20240305T000000Z"/>',
    );
    const out = renderCalendarData(fixture('berlin-weekly.ics'), req, OPTS);
    assert.equal(
      out,
      'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20240304T090000Z\r\nRECURRENCE-ID:20240304T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
    );
  });
});
