import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DavError } from '../../src/dav/errors.js';
import { describeCalendarItem, splitCalendar, validateCalendarObject } from '../../src/caldav/item.js';
import { exportCalendar } from '../../src/caldav/export.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/ical/${name}`, import.meta.url), 'utf8');
const utc = (iso: string): number => Date.parse(iso) / 1000;
const C = '{urn:ietf:params:xml:ns:caldav}';
const OPTS = { supportedComponents: ['VEVENT', 'VTODO', 'VJOURNAL'], maxOccurrences: 10_000 };

function cal(...body: string[]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//EN', ...body, 'END:VCALENDAR', ''].join('\r\n');
}

function rejects(text: string, precondition: string, opts = OPTS): DavError {
  let caught: unknown;
  try {
    validateCalendarObject(text, opts);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DavError, `expected a DavError, got ${String(caught)}`);
  assert.equal(caught.status, 403);
  assert.equal(caught.precondition, precondition);
  return caught;
}

describe('validateCalendarObject', () => {
  it('accepts a recurring event with an override and reports its span', () => {
    const info = validateCalendarObject(fixture('berlin-weekly.ics'), OPTS);
    assert.equal(info.uid, 'weekly-standup-3f1c@example.org');
    assert.equal(info.component, 'VEVENT');
    assert.equal(info.start, utc('2024-03-04T09:00:00Z'));
    // Last instance 29 April 10:00-11:00 CEST.
    assert.equal(info.end, utc('2024-04-29T09:00:00Z'));
  });

  it('gives an open end to unbounded recurrences', () => {
    const info = validateCalendarObject(fixture('birthday-date-no-dtend.ics'), OPTS);
    assert.equal(info.start, utc('1990-04-05T00:00:00Z'));
    assert.equal(info.end, Number.MAX_SAFE_INTEGER);
  });

  it('treats all-day and floating times as UTC', () => {
    const allDay = validateCalendarObject(fixture('allday-apple.ics'), OPTS);
    assert.deepEqual([allDay.start, allDay.end], [utc('2024-03-15T00:00:00Z'), utc('2024-03-16T00:00:00Z')]);
    const floating = validateCalendarObject(fixture('floating.ics'), OPTS);
    assert.deepEqual(
      [floating.start, floating.end],
      [utc('2024-03-20T09:00:00Z'), utc('2024-03-20T10:00:00Z')],
    );
  });

  it('resolves a bare IANA TZID without VTIMEZONE across the DST change', () => {
    const info = validateCalendarObject(fixture('new-york-no-vtimezone.ics'), OPTS);
    assert.equal(info.start, utc('2024-03-09T14:00:00Z')); // EST
    assert.equal(info.end, utc('2024-03-11T14:00:00Z')); // 10:00 EDT
  });

  it('repairs Outlook data: control characters, blank lines, TZID with trailing spaces', () => {
    const info = validateCalendarObject(fixture('outlook-tzid-spaces.ics'), OPTS);
    assert.equal(info.uid, '040000008200E00074C5B7101A82E00800000000@outlook');
    assert.equal(info.start, utc('2024-07-02T12:00:00Z')); // 14:00 CEST from the Outlook VTIMEZONE
  });

  it('accepts a todo and a journal when the calendar supports them', () => {
    const todo = cal('BEGIN:VTODO', 'UID:t1', 'DTSTAMP:20240101T000000Z', 'SUMMARY:Buy milk', 'END:VTODO');
    assert.equal(validateCalendarObject(todo, OPTS).component, 'VTODO');
    assert.deepEqual(
      { ...validateCalendarObject(todo, OPTS) },
      { uid: 't1', component: 'VTODO', start: 0, end: 0 }, // no times: always examined
    );
    assert.equal(validateCalendarObject(fixture('journal.ics'), OPTS).component, 'VJOURNAL');
  });

  it('rejects broken text as valid-calendar-data', () => {
    rejects('this is not iCalendar', `${C}valid-calendar-data`);
    rejects('BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n', `${C}valid-calendar-data`);
    rejects('', `${C}valid-calendar-data`);
  });

  it('rejects several objects in one body', () => {
    const one = cal('BEGIN:VEVENT', 'UID:a', 'DTSTART:20240101T100000Z', 'END:VEVENT');
    rejects(one + one, `${C}valid-calendar-data`);
  });

  it('rejects a component without UID', () => {
    rejects(
      cal('BEGIN:VEVENT', 'DTSTART:20240101T100000Z', 'SUMMARY:x', 'END:VEVENT'),
      `${C}valid-calendar-data`,
    );
  });

  it('rejects two UIDs', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:a',
      'DTSTART:20240101T100000Z',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:b',
      'DTSTART:20240102T100000Z',
      'END:VEVENT',
    );
    const err = rejects(text, `${C}valid-calendar-data`);
    assert.match(err.message, /UID/);
  });

  it('rejects mixed component types', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:a',
      'DTSTART:20240101T100000Z',
      'END:VEVENT',
      'BEGIN:VTODO',
      'UID:a',
      'END:VTODO',
    );
    rejects(text, `${C}valid-calendar-object-resource`);
  });

  it('rejects a calendar without components', () => {
    rejects(cal(), `${C}valid-calendar-object-resource`);
  });

  it('rejects components the calendar does not support', () => {
    rejects(fixture('journal.ics'), `${C}supported-calendar-component`, {
      ...OPTS,
      supportedComponents: ['VEVENT'],
    });
  });

  it('rejects an RRULE whose COUNT exceeds the occurrence limit', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:a',
      'DTSTART:20240101T100000Z',
      'RRULE:FREQ=DAILY;COUNT=100000',
      'END:VEVENT',
    );
    const err = rejects(text, `${C}valid-calendar-object-resource`);
    assert.match(err.message, /100000/);
  });

  it('rejects an RRULE whose UNTIL produces too many occurrences, accepts it under the limit', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:a',
      'DTSTART:20240101T100000Z',
      'RRULE:FREQ=HOURLY;UNTIL=20240301T000000Z',
      'END:VEVENT',
    );
    // 1431 hourly occurrences from January 1st, 10:00 to March 1st, 00:00: counted exactly (the
    // walk's bound is a count of steps, so a slow or busy machine gives the same answer).
    rejects(text, `${C}valid-calendar-object-resource`, { ...OPTS, maxOccurrences: 1430 });
    const info = validateCalendarObject(text, { ...OPTS, maxOccurrences: 1431 });
    assert.equal(info.end, utc('2024-03-01T00:00:00Z')); // UNTIL is inclusive
  });
});

describe('describeCalendarItem', () => {
  it('indexes stored items and throws on unparsable ones', () => {
    const d = describeCalendarItem(fixture('google-no-dtend.ics'));
    assert.deepEqual(
      { ...d },
      {
        uid: '0s1d2f3g4h5j6k7l8m9n@google.com',
        component: 'VEVENT',
        start: utc('2024-03-10T12:00:00Z'),
        end: utc('2024-03-10T12:00:00Z'),
      },
    );
    assert.throws(() => describeCalendarItem('garbage'));
  });

  it('gives an open end when a finite recurrence is too long to iterate', () => {
    const text = cal(
      'BEGIN:VEVENT',
      'UID:a',
      'DTSTART:20240101T100000Z',
      'RRULE:FREQ=MINUTELY;COUNT=500000',
      'END:VEVENT',
    );
    const d = describeCalendarItem(text);
    assert.equal(d.start, utc('2024-01-01T10:00:00Z'));
    assert.equal(d.end, Number.MAX_SAFE_INTEGER);
  });

  it('spans todos over DTSTART and DUE', () => {
    const text = cal('BEGIN:VTODO', 'UID:t', 'DTSTART:20240101T100000Z', 'DUE:20240105T100000Z', 'END:VTODO');
    const d = describeCalendarItem(text);
    assert.deepEqual([d.start, d.end], [utc('2024-01-01T10:00:00Z'), utc('2024-01-05T10:00:00Z')]);
  });
});

describe('splitCalendar / exportCalendar', () => {
  const upload = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Test//EN',
    'X-WR-CALNAME:Team',
    'X-WR-CALDESC:Team calendar',
    'X-APPLE-CALENDAR-COLOR:#FF0000',
    ...fixture('berlin-weekly.ics').split(/\r?\n/).slice(3, -2),
    'BEGIN:VTODO',
    'SUMMARY:No uid todo',
    'END:VTODO',
    'BEGIN:VEVENT',
    'UID:plain@example.org',
    'DTSTART:20240101T100000Z',
    'SUMMARY:Plain',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

  it('splits one item per UID with the time zones it uses', () => {
    const split = splitCalendar(upload);
    assert.equal(split.name, 'Team');
    assert.equal(split.description, 'Team calendar');
    assert.equal(split.color, '#FF0000');
    assert.equal(split.items.length, 3);
    const [weekly, todo, plain] = split.items;
    assert.equal(weekly?.uid, 'weekly-standup-3f1c@example.org');
    assert.equal(weekly?.text.match(/BEGIN:VEVENT/g)?.length, 2);
    assert.match(weekly?.text ?? '', /BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin/);
    assert.match(todo?.uid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(todo?.text ?? '', new RegExp(`UID:${todo?.uid ?? 'x'}\r\n`));
    assert.equal(plain?.uid, 'plain@example.org');
    assert.doesNotMatch(plain?.text ?? '', /VTIMEZONE/);
    for (const item of split.items) {
      assert.equal(validateCalendarObject(item.text, OPTS).uid, item.uid);
      assert.ok(item.text.endsWith('END:VCALENDAR\r\n'));
    }
  });

  it('exports one VCALENDAR with de-duplicated time zones and the collection names', () => {
    const items = [
      fixture('berlin-weekly.ics'),
      fixture('berlin-weekly.ics').replace(/weekly-standup-3f1c/g, 'other'),
      fixture('journal.ics'),
      'broken',
    ];
    const out = exportCalendar(items, { displayname: 'Team', description: 'Shared' });
    assert.match(
      out,
      /^BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:[^\r\n]+\r\nX-WR-CALNAME:Team\r\nX-WR-CALDESC:Shared\r\n/,
    );
    assert.equal(out.match(/BEGIN:VTIMEZONE/g)?.length, 1);
    assert.equal(out.match(/BEGIN:VEVENT/g)?.length, 4);
    assert.equal(out.match(/BEGIN:VJOURNAL/g)?.length, 1);
    assert.ok(out.indexOf('BEGIN:VTIMEZONE') < out.indexOf('BEGIN:VEVENT'));
  });

  it('exports a stored item the same whatever its line breaks (CRLF, LF), folded and parameterized TZIDs too', () => {
    const tz = (line: string): string =>
      [
        'BEGIN:VTIMEZONE',
        line,
        'BEGIN:STANDARD',
        'DTSTART:19701025T030000',
        'TZOFFSETFROM:+0200',
        'TZOFFSETTO:+0100',
        'END:STANDARD',
        'END:VTIMEZONE',
      ].join('\n');
    const item = (uid: string, tzLines: string[]): string =>
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//test//EN',
        ...tzLines,
        'begin:VEVENT',
        `UID:${uid}`,
        'DTSTART;TZID=Europe/Berlin:20260301T090000',
        'DESCRIPTION:a long line that is folded here and goes on for a good while',
        '  and continues',
        'EXDATE;TZID=Europe/Berlin:20260308T090000',
        'END:VEVENT ',
        'END:VCALENDAR',
      ].join('\n');
    const zones = [
      tz('TZID:Europe/Berlin'),
      tz('TZID:Europe/Ber\n lin'),
      tz('TZID;X-A=1:America/New_York'),
      tz('tzid:Europe/Berlin'),
    ];
    const lf = [item('a', zones.slice(0, 2)), item('b', zones.slice(1, 4)), item('c', zones)];
    const crlf = lf.map((t) => `${t.replace(/\n/g, '\r\n')}\r\n`);
    const out = exportCalendar(crlf, { displayname: 'Zones' });
    assert.equal(out, exportCalendar(lf, { displayname: 'Zones' }));
    // Each TZID once: Europe/Berlin (also folded, also in lower case), America/New_York (with a parameter).
    assert.equal(out.match(/BEGIN:VTIMEZONE/g)?.length, 2);
    assert.equal(out.match(/BEGIN:VEVENT/gi)?.length, 3);
    assert.ok(out.includes('\r\n  and continues\r\n'));
    assert.ok(out.endsWith('END:VEVENT \r\nEND:VCALENDAR\r\n'));
  });

  it('round-trips: export then split gives the same items', () => {
    const original = splitCalendar(upload);
    const again = splitCalendar(
      exportCalendar(
        original.items.map((i) => i.text),
        { displayname: 'Team' },
      ),
    );
    assert.equal(again.name, 'Team');
    assert.deepEqual(
      again.items.map((i) => i.uid),
      original.items.map((i) => i.uid),
    );
    assert.deepEqual(
      again.items.map((i) => describeCalendarItem(i.text)),
      original.items.map((i) => describeCalendarItem(i.text)),
    );
  });
});
