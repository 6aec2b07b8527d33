import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DavError } from '../../src/dav/errors.js';
import { parseXml } from '../../src/dav/xml.js';
import {
  filterComponent,
  filterTimeRange,
  matchCalendarFilter,
  parseCalendarFilter,
  rangeMayOverlap,
  type CalendarFilter,
} from '../../src/caldav/filter.js';
import { describeCalendarItem } from '../../src/caldav/item.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/ical/${name}`, import.meta.url), 'utf8');
const C_NS = 'urn:ietf:params:xml:ns:caldav';
const utc = (iso: string): number => Date.parse(iso) / 1000;

function cal(...body: string[]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//EN', ...body, 'END:VCALENDAR', ''].join('\r\n');
}

function filter(inner: string): CalendarFilter {
  return parseCalendarFilter(parseXml(`<C:filter xmlns:C="${C_NS}">${inner}</C:filter>`));
}

/** `20240311T090000Z` from `2024-03-11T09:00`. */
function z(iso: string): string {
  const compact = iso.replace(/[-:]/g, '');
  return compact + (compact.length === 13 ? '00' : '') + 'Z';
}

function range(start?: string, end?: string): string {
  const s = start ? ` start="${z(start)}"` : '';
  const e = end ? ` end="${z(end)}"` : '';
  return `<C:time-range${s}${e}/>`;
}

/** VCALENDAR > comp with a time range. */
function compRange(comp: string, start?: string, end?: string): CalendarFilter {
  return filter(
    `<C:comp-filter name="VCALENDAR"><C:comp-filter name="${comp}">${range(start, end)}</C:comp-filter></C:comp-filter>`,
  );
}

function inComp(comp: string, inner: string): CalendarFilter {
  return filter(
    `<C:comp-filter name="VCALENDAR"><C:comp-filter name="${comp}">${inner}</C:comp-filter></C:comp-filter>`,
  );
}

function matches(text: string, comp: string, start?: string, end?: string): boolean {
  return matchCalendarFilter(compRange(comp, start, end), text);
}

describe('time-range on VEVENT (RFC 4791 §9.9)', () => {
  const weekly = fixture('berlin-weekly.ics');

  it('matches recurrence instances in Europe/Berlin local time', () => {
    assert.equal(matches(weekly, 'VEVENT', '2024-03-11T09:30', '2024-03-11T09:45'), true);
    assert.equal(matches(weekly, 'VEVENT', '2024-03-04T09:00', '2024-03-04T10:00'), true); // DTSTART itself
  });

  it('skips EXDATE instances and the original time of an overridden instance', () => {
    assert.equal(matches(weekly, 'VEVENT', '2024-03-18T09:00', '2024-03-18T10:00'), false);
    assert.equal(matches(weekly, 'VEVENT', '2024-03-25T09:00', '2024-03-25T10:00'), false);
  });

  it('matches the overridden instance at its new time', () => {
    assert.equal(matches(weekly, 'VEVENT', '2024-03-26T13:30', '2024-03-26T13:31'), true);
  });

  it('follows the DST change: 10:00 CEST is 08:00Z after 31 March', () => {
    assert.equal(matches(weekly, 'VEVENT', '2024-04-01T08:00', '2024-04-01T08:30'), true);
    assert.equal(matches(weekly, 'VEVENT', '2024-04-01T09:00', '2024-04-01T10:00'), false);
  });

  it('includes the UNTIL instance and nothing after it', () => {
    assert.equal(matches(weekly, 'VEVENT', '2024-04-29T08:00', '2024-04-29T08:01'), true);
    assert.equal(matches(weekly, 'VEVENT', '2024-05-06T00:00', '2024-12-31T00:00'), false);
  });

  it('treats ranges as half-open: touching ends do not overlap', () => {
    assert.equal(matches(weekly, 'VEVENT', '2024-03-11T08:00', '2024-03-11T09:00'), false);
    assert.equal(matches(weekly, 'VEVENT', '2024-03-11T10:00', '2024-03-11T11:00'), false);
  });

  it('accepts open-ended ranges', () => {
    assert.equal(matches(weekly, 'VEVENT', '2024-04-29T08:30'), true);
    assert.equal(matches(weekly, 'VEVENT', '2024-04-29T09:00'), false);
    assert.equal(matches(weekly, 'VEVENT', undefined, '2024-03-04T09:01'), true);
    assert.equal(matches(weekly, 'VEVENT', undefined, '2024-03-04T09:00'), false);
  });

  it('all-day events cover their dates in UTC', () => {
    const allDay = fixture('allday-apple.ics');
    assert.equal(matches(allDay, 'VEVENT', '2024-03-15T23:00', '2024-03-16T00:00'), true);
    assert.equal(matches(allDay, 'VEVENT', '2024-03-16T00:00', '2024-03-17T00:00'), false);
  });

  it('a date-time DTSTART without DTEND is an instant: start <= DTSTART < end', () => {
    const text = fixture('google-no-dtend.ics');
    assert.equal(matches(text, 'VEVENT', '2024-03-10T12:00', '2024-03-10T12:01'), true);
    assert.equal(matches(text, 'VEVENT', '2024-03-10T11:00', '2024-03-10T12:00'), false);
  });

  it('a DATE DTSTART without DTEND lasts one day, every year for a yearly rule', () => {
    const text = fixture('birthday-date-no-dtend.ics');
    assert.equal(matches(text, 'VEVENT', '2030-04-05T23:59', '2030-04-06T01:00'), true);
    assert.equal(matches(text, 'VEVENT', '2030-04-06T00:00', '2030-04-07T00:00'), false);
  });

  it('floating times are taken as UTC', () => {
    assert.equal(matches(fixture('floating.ics'), 'VEVENT', '2024-03-20T09:30', '2024-03-20T09:31'), true);
    assert.equal(matches(fixture('floating.ics'), 'VEVENT', '2024-03-20T10:00', '2024-03-20T11:00'), false);
  });

  it('resolves America/New_York without a VTIMEZONE across the US DST change', () => {
    const text = fixture('new-york-no-vtimezone.ics');
    assert.equal(matches(text, 'VEVENT', '2024-03-09T14:00', '2024-03-09T14:30'), true); // EST
    assert.equal(matches(text, 'VEVENT', '2024-03-10T13:00', '2024-03-10T13:30'), true); // EDT
    assert.equal(matches(text, 'VEVENT', '2024-03-10T14:00', '2024-03-10T14:30'), false); // 9:00 EST would be 14Z
    assert.equal(matches(text, 'VEVENT', '2024-03-12T13:00', '2024-03-12T14:00'), false); // COUNT=3
  });

  it('DURATION: nominal days keep the wall-clock time across DST; zero duration is an instant', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:d',
      'DTSTART;TZID=Europe/Berlin:20240330T120000',
      'DURATION:P1D',
      'END:VEVENT',
    );
    assert.equal(matches(text, 'VEVENT', '2024-03-31T09:30', '2024-03-31T10:00'), true);
    assert.equal(matches(text, 'VEVENT', '2024-03-31T10:00', '2024-03-31T11:00'), false);
    const zero = cal('BEGIN:VEVENT', 'UID:z', 'DTSTART:20240101T100000Z', 'DURATION:PT0S', 'END:VEVENT');
    assert.equal(matches(zero, 'VEVENT', '2024-01-01T10:00', '2024-01-01T10:01'), true);
    assert.equal(matches(zero, 'VEVENT', '2024-01-01T09:00', '2024-01-01T10:00'), false);
  });

  it('RDATE adds instances, also as periods', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:r',
      'DTSTART:20240101T100000Z',
      'DTEND:20240101T110000Z',
      'RDATE:20240105T100000Z',
      'RDATE;VALUE=PERIOD:20240110T100000Z/PT3H',
      'END:VEVENT',
    );
    assert.equal(matches(text, 'VEVENT', '2024-01-05T10:30', '2024-01-05T10:31'), true);
    assert.equal(matches(text, 'VEVENT', '2024-01-10T12:30', '2024-01-10T12:31'), true);
    assert.equal(matches(text, 'VEVENT', '2024-01-03T00:00', '2024-01-04T00:00'), false);
  });

  it('an unparsable object never matches', () => {
    assert.equal(matches('garbage', 'VEVENT', '2024-01-01T00:00', '2025-01-01T00:00'), false);
  });
});

describe('time-range on VTODO (RFC 4791 §9.9 table)', () => {
  const vtodoText = (...props: string[]): string =>
    cal('BEGIN:VTODO', 'UID:t', 'DTSTAMP:20240101T000000Z', ...props, 'END:VTODO');
  const m = (text: string, s: string, e: string): boolean => matches(text, 'VTODO', s, e);

  it('DTSTART + DURATION: start <= DTSTART+DURATION and (end > DTSTART or end >= DTSTART+DURATION)', () => {
    const t = vtodoText('DTSTART:20240101T100000Z', 'DURATION:PT1H');
    assert.equal(m(t, '2024-01-01T11:00', '2024-01-01T12:00'), true);
    assert.equal(m(t, '2024-01-01T11:01', '2024-01-01T12:00'), false);
    assert.equal(m(t, '2024-01-01T09:00', '2024-01-01T10:00'), false);
    assert.equal(m(t, '2024-01-01T09:00', '2024-01-01T10:01'), true);
  });

  it('DTSTART + DUE: (start < DUE or start <= DTSTART) and (end > DTSTART or end >= DUE)', () => {
    const t = vtodoText('DTSTART:20240101T100000Z', 'DUE:20240101T120000Z');
    assert.equal(m(t, '2024-01-01T11:00', '2024-01-01T11:30'), true);
    assert.equal(m(t, '2024-01-01T12:00', '2024-01-01T13:00'), false);
    assert.equal(m(t, '2024-01-01T09:00', '2024-01-01T10:00'), false);
  });

  it('DTSTART only: start <= DTSTART < end', () => {
    const t = vtodoText('DTSTART:20240101T100000Z');
    assert.equal(m(t, '2024-01-01T10:00', '2024-01-01T10:01'), true);
    assert.equal(m(t, '2024-01-01T09:00', '2024-01-01T10:00'), false);
    assert.equal(m(t, '2024-01-01T10:00:01', '2024-01-01T11:00'), false);
  });

  it('DUE only: start < DUE <= end', () => {
    const t = vtodoText('DUE:20240101T120000Z');
    assert.equal(m(t, '2024-01-01T11:00', '2024-01-01T12:00'), true);
    assert.equal(m(t, '2024-01-01T12:00', '2024-01-01T13:00'), false);
    assert.equal(m(t, '2024-01-01T10:00', '2024-01-01T11:00'), false);
  });

  it('COMPLETED + CREATED', () => {
    const t = vtodoText('CREATED:20240101T080000Z', 'COMPLETED:20240101T090000Z');
    assert.equal(m(t, '2024-01-01T08:30', '2024-01-01T08:45'), true);
    assert.equal(m(t, '2024-01-01T07:00', '2024-01-01T08:00'), true); // end >= CREATED
    assert.equal(m(t, '2024-01-01T09:30', '2024-01-01T10:00'), false);
    assert.equal(m(t, '2024-01-01T06:00', '2024-01-01T07:00'), false);
  });

  it('COMPLETED only: start <= COMPLETED <= end', () => {
    const t = vtodoText('COMPLETED:20240101T090000Z');
    assert.equal(m(t, '2024-01-01T08:00', '2024-01-01T09:00'), true);
    assert.equal(m(t, '2024-01-01T09:00:01', '2024-01-01T10:00'), false);
  });

  it('CREATED only: end > CREATED', () => {
    const t = vtodoText('CREATED:20240101T080000Z');
    assert.equal(m(t, '2024-01-01T07:00', '2024-01-01T08:00'), false);
    assert.equal(m(t, '2024-01-01T07:00', '2024-01-01T08:01'), true);
    assert.equal(m(t, '2030-01-01T00:00', '2030-01-02T00:00'), true);
  });

  it('no dates at all: always matches', () => {
    assert.equal(m(vtodoText('SUMMARY:Someday'), '1990-01-01T00:00', '1990-01-02T00:00'), true);
  });

  it('recurring todos shift DUE with each instance', () => {
    const t = vtodoText('DTSTART:20240101T100000Z', 'DUE:20240101T110000Z', 'RRULE:FREQ=DAILY;COUNT=3');
    assert.equal(m(t, '2024-01-03T10:30', '2024-01-03T10:45'), true);
    assert.equal(m(t, '2024-01-04T10:30', '2024-01-04T10:45'), false);
  });
});

describe('time-range on VJOURNAL and VFREEBUSY', () => {
  it('journal with a DATE covers that day; without DTSTART never matches', () => {
    const j = fixture('journal.ics');
    assert.equal(matches(j, 'VJOURNAL', '2024-03-12T23:00', '2024-03-13T00:00'), true);
    assert.equal(matches(j, 'VJOURNAL', '2024-03-13T00:00', '2024-03-14T00:00'), false);
    const noStart = cal('BEGIN:VJOURNAL', 'UID:j', 'SUMMARY:x', 'END:VJOURNAL');
    assert.equal(matches(noStart, 'VJOURNAL', '2000-01-01T00:00', '2099-01-01T00:00'), false);
    assert.equal(matchCalendarFilter(inComp('VJOURNAL', ''), noStart), true);
  });

  it('free-busy components match by their FREEBUSY periods', () => {
    const fb = fixture('freebusy-component.ics');
    assert.equal(matches(fb, 'VFREEBUSY', '2024-03-12T15:00', '2024-03-12T15:30'), true); // 08:00/PT8H
    assert.equal(matches(fb, 'VFREEBUSY', '2024-03-12T16:00', '2024-03-12T17:00'), false);
    assert.equal(matches(fb, 'VFREEBUSY', '2024-03-16T00:00', '2024-03-17T00:00'), false);
  });
});

describe('time-range on VALARM', () => {
  const alarmFilter = (s: string, e: string): CalendarFilter =>
    filter(
      `<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM">${range(s, e)}</C:comp-filter></C:comp-filter></C:comp-filter>`,
    );
  const weekly = fixture('berlin-weekly.ics');

  it('matches trigger times of every instance (15 minutes before, in local time)', () => {
    assert.equal(matchCalendarFilter(alarmFilter('2024-03-11T08:45', '2024-03-11T08:46'), weekly), true);
    assert.equal(matchCalendarFilter(alarmFilter('2024-04-22T07:45', '2024-04-22T07:46'), weekly), true);
    assert.equal(matchCalendarFilter(alarmFilter('2024-03-11T09:00', '2024-03-11T10:00'), weekly), false);
  });

  it('does not fire for excluded instances nor for an override without alarm', () => {
    assert.equal(matchCalendarFilter(alarmFilter('2024-03-18T08:45', '2024-03-18T08:46'), weekly), false);
    assert.equal(matchCalendarFilter(alarmFilter('2024-03-26T12:45', '2024-03-26T12:46'), weekly), false);
  });

  it('supports triggers related to the end, absolute triggers and repetitions', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:a',
      'DTSTART:20240101T100000Z',
      'DTEND:20240101T120000Z',
      'BEGIN:VALARM',
      'ACTION:DISPLAY',
      'TRIGGER;RELATED=END:PT30M',
      'REPEAT:2',
      'DURATION:PT10M',
      'END:VALARM',
      'BEGIN:VALARM',
      'ACTION:AUDIO',
      'TRIGGER;VALUE=DATE-TIME:20231231T200000Z',
      'END:VALARM',
      'END:VEVENT',
    );
    assert.equal(matchCalendarFilter(alarmFilter('2024-01-01T12:30', '2024-01-01T12:31'), text), true);
    assert.equal(matchCalendarFilter(alarmFilter('2024-01-01T12:50', '2024-01-01T12:51'), text), true);
    assert.equal(matchCalendarFilter(alarmFilter('2024-01-01T13:00', '2024-01-01T13:01'), text), false);
    assert.equal(matchCalendarFilter(alarmFilter('2023-12-31T20:00', '2023-12-31T20:01'), text), true);
  });
});

describe('prop-filter, param-filter, text-match, is-not-defined', () => {
  const weekly = fixture('berlin-weekly.ics');
  const text = (name: string, value: string, attrs = ''): CalendarFilter =>
    inComp(
      'VEVENT',
      `<C:prop-filter name="${name}"><C:text-match${attrs}>${value}</C:text-match></C:prop-filter>`,
    );

  it('text-match is a substring match, case-insensitive by default (i;ascii-casemap)', () => {
    assert.equal(matchCalendarFilter(text('SUMMARY', 'STANDUP'), weekly), true);
    assert.equal(matchCalendarFilter(text('SUMMARY', 'retro'), weekly), false);
    assert.equal(matchCalendarFilter(text('CATEGORIES', 'meetings'), weekly), true);
  });

  it('i;octet is case-sensitive', () => {
    assert.equal(matchCalendarFilter(text('SUMMARY', 'STANDUP', ' collation="i;octet"'), weekly), false);
    assert.equal(matchCalendarFilter(text('SUMMARY', 'standup', ' collation="i;octet"'), weekly), true);
  });

  it('i;unicode-casemap folds non-ASCII letters, i;ascii-casemap does not', () => {
    const cn = (coll: string): CalendarFilter =>
      inComp(
        'VEVENT',
        `<C:prop-filter name="ORGANIZER"><C:param-filter name="CN"><C:text-match collation="${coll}">MÜLLER</C:text-match></C:param-filter></C:prop-filter>`,
      );
    assert.equal(matchCalendarFilter(cn('i;unicode-casemap'), weekly), true);
    assert.equal(matchCalendarFilter(cn('i;ascii-casemap'), weekly), false);
  });

  it('i;unicode-casemap gives one key to a letter, its decomposition and every case of it', () => {
    const event = cal(
      'BEGIN:VEVENT',
      'UID:u',
      'DTSTAMP:20240101T000000Z',
      'DTSTART:20240101T120000Z',
      'SUMMARY:STRA\u1e9eE \u1d2clice \u03f2',
      'END:VEVENT',
    );
    const unicode = (needle: string): CalendarFilter =>
      text('SUMMARY', needle, ' collation="i;unicode-casemap"');
    // U+1E9E (ẞ) lower-cases to ß, which is ss as its upper case SS is.
    assert.equal(matchCalendarFilter(unicode('strasse'), event), true);
    assert.equal(matchCalendarFilter(unicode('straße'), event), true);
    assert.equal(matchCalendarFilter(unicode('alice'), event), true);
    assert.equal(matchCalendarFilter(unicode('\u03c3'), event), true);
  });

  it('negate-condition inverts the match', () => {
    assert.equal(matchCalendarFilter(text('LOCATION', 'Room', ' negate-condition="yes"'), weekly), false);
    // The override is in Room 2, so "not Room 1" matches through it.
    assert.equal(matchCalendarFilter(text('LOCATION', 'Room 1', ' negate-condition="yes"'), weekly), true);
  });

  it('param-filter with text-match and is-not-defined', () => {
    const pf = (inner: string): CalendarFilter =>
      inComp(
        'VEVENT',
        `<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT">${inner}</C:param-filter></C:prop-filter>`,
      );
    assert.equal(matchCalendarFilter(pf('<C:text-match>accepted</C:text-match>'), weekly), true);
    assert.equal(matchCalendarFilter(pf('<C:text-match>DECLINED</C:text-match>'), weekly), false);
    assert.equal(matchCalendarFilter(pf('<C:is-not-defined/>'), weekly), false);
    const rsvp = inComp(
      'VEVENT',
      '<C:prop-filter name="ATTENDEE"><C:param-filter name="RSVP"><C:is-not-defined/></C:param-filter></C:prop-filter>',
    );
    assert.equal(matchCalendarFilter(rsvp, weekly), true);
  });

  it('prop-filter is-not-defined and plain existence', () => {
    const allDay = fixture('allday-apple.ics');
    assert.equal(
      matchCalendarFilter(
        inComp('VEVENT', '<C:prop-filter name="LOCATION"><C:is-not-defined/></C:prop-filter>'),
        allDay,
      ),
      true,
    );
    assert.equal(
      matchCalendarFilter(
        inComp('VEVENT', '<C:prop-filter name="SUMMARY"><C:is-not-defined/></C:prop-filter>'),
        allDay,
      ),
      false,
    );
    assert.equal(matchCalendarFilter(inComp('VEVENT', '<C:prop-filter name="TRANSP"/>'), allDay), true);
    assert.equal(matchCalendarFilter(inComp('VEVENT', '<C:prop-filter name="STATUS"/>'), allDay), false);
  });

  it('comp-filter is-not-defined and component type selection', () => {
    const allDay = fixture('allday-apple.ics');
    assert.equal(matchCalendarFilter(inComp('VTODO', '<C:is-not-defined/>'), allDay), true);
    assert.equal(matchCalendarFilter(inComp('VEVENT', '<C:is-not-defined/>'), allDay), false);
    assert.equal(matchCalendarFilter(inComp('VTODO', ''), allDay), false);
    assert.equal(matchCalendarFilter(filter('<C:comp-filter name="VCALENDAR"/>'), allDay), true);
  });

  it('conditions inside one comp-filter must hold for the same component', () => {
    // Only the override is in Room 2, and it is on 26 March.
    const f = inComp(
      'VEVENT',
      `${range('2024-03-11T00:00', '2024-03-12T00:00')}<C:prop-filter name="LOCATION"><C:text-match>Room 2</C:text-match></C:prop-filter>`,
    );
    assert.equal(matchCalendarFilter(f, weekly), false);
  });

  it('time-range in a prop-filter tests the property value', () => {
    const lm = (s: string, e: string): CalendarFilter =>
      inComp('VEVENT', `<C:prop-filter name="LAST-MODIFIED">${range(s, e)}</C:prop-filter>`);
    assert.equal(matchCalendarFilter(lm('2024-03-02T00:00', '2024-03-03T00:00'), weekly), true);
    assert.equal(matchCalendarFilter(lm('2024-03-05T00:00', '2024-03-06T00:00'), weekly), false);
  });
});

describe('parseCalendarFilter errors', () => {
  const code = (fn: () => unknown): [number, string | undefined] => {
    try {
      fn();
    } catch (e) {
      if (e instanceof DavError) return [e.status, e.precondition];
      throw e;
    }
    return [0, undefined];
  };
  const VALID = `{${C_NS}}valid-filter`;

  it('rejects unsupported collations with supported-collation', () => {
    assert.deepEqual(
      code(() =>
        filter(
          '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>',
        ),
      ),
      [403, `{${C_NS}}supported-collation`],
    );
  });

  it('rejects bad time ranges and malformed filters with valid-filter', () => {
    assert.deepEqual(
      code(() =>
        filter(
          '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="2024-01-01"/></C:comp-filter></C:comp-filter>',
        ),
      ),
      [403, VALID],
    );
    assert.deepEqual(
      code(() =>
        filter(
          '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range/></C:comp-filter></C:comp-filter>',
        ),
      ),
      [403, VALID],
    );
    assert.deepEqual(
      code(() => compRange('VEVENT', '2024-01-02T00:00', '2024-01-01T00:00')),
      [403, VALID],
    );
    assert.deepEqual(
      code(() => filter('')),
      [403, VALID],
    );
    assert.deepEqual(
      code(() => filter('<C:comp-filter name="VEVENT"/>')),
      [403, VALID],
    );
    assert.deepEqual(
      code(() => filter('<C:comp-filter/>')),
      [403, VALID],
    );
  });
});

describe('filterTimeRange and the storage pre-filter', () => {
  it('returns the range of a top-level component filter only', () => {
    assert.deepEqual(filterTimeRange(compRange('VEVENT', '2024-01-01T00:00', '2024-02-01T00:00')), {
      start: utc('2024-01-01T00:00:00Z'),
      end: utc('2024-02-01T00:00:00Z'),
    });
    assert.equal(filterComponent(compRange('VTODO', '2024-01-01T00:00')), 'VTODO');
    const alarmOnly = filter(
      `<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM">${range('2024-01-01T00:00', '2024-01-02T00:00')}</C:comp-filter></C:comp-filter></C:comp-filter>`,
    );
    assert.equal(filterTimeRange(alarmOnly), undefined);
  });

  it('never excludes an item that matches (indexed span is conservative)', () => {
    const items = [
      ['berlin-weekly.ics', 'VEVENT'],
      ['allday-apple.ics', 'VEVENT'],
      ['google-no-dtend.ics', 'VEVENT'],
      ['birthday-date-no-dtend.ics', 'VEVENT'],
      ['floating.ics', 'VEVENT'],
      ['new-york-no-vtimezone.ics', 'VEVENT'],
      ['journal.ics', 'VJOURNAL'],
    ] as const;
    const ranges: [string, string][] = [
      ['2024-03-04T09:00', '2024-03-04T09:01'],
      ['2024-03-10T12:00', '2024-03-10T12:01'],
      ['2024-03-12T00:00', '2024-03-13T00:00'],
      ['2024-03-15T00:00', '2024-03-16T00:00'],
      ['2024-04-29T08:59', '2024-04-29T09:00'],
      ['2030-04-05T00:00', '2030-04-06T00:00'],
    ];
    let matched = 0;
    for (const [name, comp] of items) {
      const text = fixture(name);
      const span = describeCalendarItem(text);
      for (const [s, e] of ranges) {
        const f = compRange(comp, s, e);
        if (matchCalendarFilter(f, text)) {
          matched++;
          assert.ok(rangeMayOverlap(span, filterTimeRange(f) ?? { start: 0, end: 0 }), `${name} ${s}`);
        }
      }
    }
    assert.ok(matched >= 6);
  });
});

describe('attachments and filters', () => {
  const withAttach = cal(
    'BEGIN:VEVENT',
    'UID:att',
    'DTSTAMP:20240101T000000Z',
    'DTSTART:20240110T100000Z',
    'SUMMARY:Slides',
    'ATTACH;ENCODING=BASE64;VALUE=BINARY;FMTTYPE=application/pdf:JVBERi0xLjQK',
    'END:VEVENT',
  );

  it('a filter that names ATTACH still sees it (it is only left out when not looked at)', () => {
    const defined = inComp('VEVENT', '<C:prop-filter name="ATTACH"/>');
    const undefinedAttach = inComp(
      'VEVENT',
      '<C:prop-filter name="ATTACH"><C:is-not-defined/></C:prop-filter>',
    );
    assert.equal(matchCalendarFilter(defined, withAttach), true);
    assert.equal(matchCalendarFilter(undefinedAttach, withAttach), false);
    assert.equal(
      matchCalendarFilter(
        inComp('VEVENT', '<C:prop-filter name="SUMMARY"><C:text-match>slides</C:text-match></C:prop-filter>'),
        withAttach,
      ),
      true,
    );
  });
});
