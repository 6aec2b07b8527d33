/**
 * Calendar objects Radicale refuses are refused with the reason and the CalDAV precondition; what
 * Radicale and real clients accept stays accepted. Each case was put to Radicale 3.1.8 (400 or 201).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DavError } from '../../src/dav/errors.js';
import { validateCalendarObject, verifyCalendarItem } from '../../src/caldav/item.js';
import { splitUploadNow } from '../../src/caldav/upload.js';

const C = '{urn:ietf:params:xml:ns:caldav}';
const DATA = `${C}valid-calendar-data`;
const OBJECT = `${C}valid-calendar-object-resource`;
const OPTS = { supportedComponents: ['VEVENT', 'VTODO', 'VJOURNAL'], maxOccurrences: 10_000 };

const cal = (...lines: string[]): string =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
const event = (...lines: string[]): string[] => [
  'BEGIN:VEVENT',
  'UID:e1',
  'DTSTAMP:20240101T000000Z',
  ...lines,
  'END:VEVENT',
];
const START = 'DTSTART:20240110T100000Z';

function refusal(text: string): DavError {
  try {
    validateCalendarObject(text, OPTS);
  } catch (e) {
    assert.ok(e instanceof DavError, String(e));
    assert.equal(e.status, 403);
    return e;
  }
  assert.fail('accepted');
}

const refused: [string, string, string, RegExp][] = [
  [
    'BEGIN:VEVENT closed by END:VTODO',
    cal('BEGIN:VEVENT', 'UID:e1', START, 'END:VTODO'),
    DATA,
    /line 7: END:VTODO closes BEGIN:VEVENT of line 4/,
  ],
  [
    'a VALARM closed by END:VEVENT',
    cal(...event(START, 'BEGIN:VALARM', 'TRIGGER:-PT5M', 'END:VEVENT', 'END:VALARM')),
    DATA,
    /END:VEVENT closes BEGIN:VALARM/,
  ],
  [
    'a VEVENT never closed',
    ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:e1', START, 'END:VCALENDAR', ''].join('\r\n'),
    DATA,
    /END:VCALENDAR closes BEGIN:VEVENT/,
  ],
  [
    'a line that is no content line',
    cal(...event(START, 'garbage line')),
    DATA,
    /line 8: cannot read "garbage line": no colon/,
  ],
  ['an empty property name', cal(...event(START, ':value')), DATA, /does not start with a property name/],
  ['a quote inside a parameter value', cal(...event(START, 'SUMMARY;X="a"b:x')), DATA, /cannot read/],
  [
    'text after END:VCALENDAR',
    `${cal(...event(START))}X-AFTER:end\r\n`,
    DATA,
    /line 10: "X-AFTER:end" is outside of any component/,
  ],
  ['a VEVENT without DTSTART', cal(...event('SUMMARY:x')), DATA, /VEVENT without DTSTART/],
  [
    'an overridden instance without DTSTART',
    cal(...event(START, 'RRULE:FREQ=DAILY;COUNT=3'), ...event('RECURRENCE-ID:20240111T100000Z')),
    DATA,
    /VEVENT without DTSTART/,
  ],
  ['two DTSTART', cal(...event(START, 'DTSTART:20240111T100000Z')), DATA, /has more than one DTSTART/],
  ['two SUMMARY', cal(...event(START, 'SUMMARY:a', 'SUMMARY:b')), DATA, /more than one SUMMARY/],
  ['two VERSION', cal('VERSION:2.0', ...event(START)), DATA, /VCALENDAR of line 1 has more than one VERSION/],
  [
    'DTEND and DURATION',
    cal(...event(START, 'DTEND:20240110T110000Z', 'DURATION:PT1H')),
    DATA,
    /both DTEND and DURATION/,
  ],
  [
    'DUE and DURATION',
    cal('BEGIN:VTODO', 'UID:t1', START, 'DUE:20240110T110000Z', 'DURATION:PT1H', 'END:VTODO'),
    DATA,
    /both DUE and DURATION/,
  ],
  [
    'CREATED that is no date',
    cal(...event(START, 'CREATED:notadate')),
    DATA,
    /CREATED value "notadate" is not a DATE-TIME/,
  ],
  ['a month 13', cal(...event('DTSTART:20241301T100000Z')), DATA, /is not a DATE-TIME/],
  [
    'an invalid RECURRENCE-ID',
    cal(...event(START, 'RECURRENCE-ID:garbage')),
    DATA,
    /RECURRENCE-ID value "garbage"/,
  ],
  [
    'an EXDATE date without VALUE=DATE',
    cal(...event(START, 'RRULE:FREQ=DAILY;COUNT=3', 'EXDATE:20240111')),
    DATA,
    /needs VALUE=DATE/,
  ],
  [
    'an RDATE period',
    cal(...event(START, 'RDATE;VALUE=PERIOD:20240115T100000Z/PT1H')),
    DATA,
    /RDATE;VALUE=PERIOD is not supported/,
  ],
  [
    'a TRIGGER that is no duration',
    cal(...event(START, 'BEGIN:VALARM', 'ACTION:DISPLAY', 'TRIGGER:garbage', 'END:VALARM')),
    DATA,
    /TRIGGER value "garbage" is not a DURATION/,
  ],
  ['an empty DURATION', cal(...event(START, 'DURATION:P')), DATA, /not a DURATION/],
  ['an RRULE without FREQ', cal(...event(START, 'RRULE:COUNT=3')), DATA, /is not a recurrence rule/],
  [
    'a VTIMEZONE without STANDARD or DAYLIGHT',
    cal('BEGIN:VTIMEZONE', 'TZID:X', 'END:VTIMEZONE', ...event('DTSTART;TZID=X:20240110T100000')),
    DATA,
    /VTIMEZONE without a STANDARD or DAYLIGHT/,
  ],
  [
    'a STANDARD without DTSTART',
    cal(
      'BEGIN:VTIMEZONE',
      'TZID:X',
      'BEGIN:STANDARD',
      'TZOFFSETFROM:+0100',
      'TZOFFSETTO:+0100',
      'END:STANDARD',
      'END:VTIMEZONE',
      ...event('DTSTART;TZID=X:20240110T100000'),
    ),
    DATA,
    /STANDARD without DTSTART/,
  ],
  ['two main components', cal(...event(START), ...event(START)), OBJECT, /a second main VEVENT/],
  [
    'an override without its main component',
    cal(...event(START, 'RECURRENCE-ID:20240110T100000Z')),
    OBJECT,
    /RECURRENCE-ID but no main component/,
  ],
  [
    'an override with its own EXDATE',
    cal(
      ...event(START, 'RRULE:FREQ=DAILY;COUNT=3'),
      ...event('DTSTART:20240111T120000Z', 'RECURRENCE-ID:20240111T100000Z', 'EXDATE:20240112T100000Z'),
    ),
    OBJECT,
    /cannot have its own EXDATE/,
  ],
  [
    'components nested 17 deep',
    cal(
      ...event(
        START,
        ...Array.from({ length: 15 }, (_, i) => `BEGIN:X-${i}`),
        ...Array.from({ length: 15 }, (_, i) => `END:X-${14 - i}`),
      ),
    ),
    DATA,
    /nested more than 16 deep/,
  ],
];

describe('calendar objects Radicale refuses', () => {
  for (const [what, text, precondition, reason] of refused) {
    it(`refuses ${what}`, () => {
      const e = refusal(text);
      assert.equal(e.precondition, precondition);
      assert.match(e.message, reason);
      assert.throws(() => verifyCalendarItem(text), reason, 'verify finds it too');
    });
  }
});

const accepted: [string, string][] = [
  [
    'a DATE with TZID and no VALUE=DATE (Mozilla clients)',
    cal(...event('DTSTART;TZID=Europe/Paris:20130903', 'DTEND;TZID=Europe/Paris:20130904')),
  ],
  ['a bare 8-digit DTSTART', cal(...event('DTSTART:20240101', 'DTEND:20240102'))],
  ['a parameter without a value', cal(...event(START, 'SUMMARY;FOO:x'))],
  ['METHOD:PUBLISH (Google exports)', cal('METHOD:PUBLISH', ...event(START))],
  ['DTEND with a zero DURATION (Lightning)', cal(...event(START, 'DTEND:20240110T110000Z', 'DURATION:PT0S'))],
  ['a VTODO without DTSTART', cal('BEGIN:VTODO', 'UID:t1', 'SUMMARY:x', 'END:VTODO')],
  ['lower-case names and letters', cal(...event('dtstart:20240110t100000z'))],
  ['an X- property with any value', cal(...event(START, 'X-FOO;VALUE=DATE-TIME:garbage'))],
  [
    'two TRIGGERs in a VALARM',
    cal(...event(START, 'BEGIN:VALARM', 'ACTION:DISPLAY', 'TRIGGER:-PT5M', 'TRIGGER:-PT10M', 'END:VALARM')),
  ],
  ['a leap second', cal(...event('DTSTART:20161231T235960Z'))],
  [
    'an override with its main component',
    cal(
      ...event(START, 'RRULE:FREQ=DAILY;COUNT=3'),
      ...event('DTSTART:20240111T120000Z', 'RECURRENCE-ID:20240111T100000Z'),
    ),
  ],
  ['control characters (removed before reading)', cal(...event(START, 'SUMMARY:a\u0001b'))],
  [
    'EXDATE;VALUE=DATE on a timed event (Evolution)',
    cal(...event(START, 'RRULE:FREQ=DAILY;COUNT=3', 'EXDATE;VALUE=DATE:20240111')),
  ],
];

describe('calendar objects Radicale accepts', () => {
  for (const [what, text] of accepted) {
    it(`accepts ${what}`, () => {
      assert.equal(validateCalendarObject(text, OPTS).uid.length > 0, true);
      verifyCalendarItem(text);
    });
  }

  it('reads a DATE with TZID as an all-day date', () => {
    const info = validateCalendarObject(
      cal(...event('DTSTART;TZID=Europe/Paris:20130903', 'DTEND;TZID=Europe/Paris:20130904')),
      OPTS,
    );
    assert.deepEqual([info.start, info.end], [Date.UTC(2013, 8, 3) / 1000, Date.UTC(2013, 8, 4) / 1000]);
  });
});

describe('whole-calendar uploads', () => {
  it('refuse a broken event with the line of the upload', () => {
    const text = cal(...event(START), 'BEGIN:VEVENT', 'UID:e2', 'DTSTAMP:20240101T000000Z', 'END:VEVENT');
    assert.throws(() => splitUploadNow(text), /line 9: VEVENT without DTSTART/);
    assert.throws(
      () => splitUploadNow(cal('BEGIN:VEVENT', 'UID:e1', START, 'END:VTODO')),
      /END:VTODO closes BEGIN:VEVENT/,
    );
  });

  it('are read a few thousand lines at a time with the lines of the whole upload', () => {
    // 3,000 events of 6 lines: the check reads several pieces. A recurring event at the start and its
    // overridden instance at the end are one recurrence set across pieces.
    const many = (n: number, from = 0): string[] =>
      Array.from({ length: n }, (_, i) => [
        'BEGIN:VEVENT',
        `UID:bulk-${from + i}`,
        'DTSTAMP:20240101T000000Z',
        START,
        'SUMMARY:bulk',
        'END:VEVENT',
      ]).flat();
    const master = [
      'BEGIN:VEVENT',
      'UID:weekly',
      'DTSTAMP:20240101T000000Z',
      START,
      'RRULE:FREQ=WEEKLY',
      'END:VEVENT',
    ];
    const override = (extra: string[] = []): string[] => [
      'BEGIN:VEVENT',
      'UID:weekly',
      'DTSTAMP:20240101T000000Z',
      'RECURRENCE-ID:20240117T100000Z',
      'DTSTART:20240117T120000Z',
      ...extra,
      'END:VEVENT',
    ];
    const { items } = splitUploadNow(cal(...master, ...many(3000), ...override()));
    assert.equal(items.length, 3001);
    // Refusals name the line in the upload, whichever piece it is in.
    const brokenAt = cal(...many(2000), 'BEGIN:VEVENT', 'UID:late', 'DTSTAMP:20240101T000000Z', 'END:VEVENT');
    assert.throws(() => splitUploadNow(brokenAt), /line 12004: VEVENT without DTSTART/);
    assert.throws(
      () => splitUploadNow(cal(...master, ...many(3000), ...master)),
      /line 18010: a second main VEVENT for the UID of line 4/,
    );
    assert.throws(
      () => splitUploadNow(cal(...many(3000), ...override())),
      /line 18004: VEVENT with RECURRENCE-ID but no main component/,
    );
    assert.throws(
      () => splitUploadNow(cal(...master, ...many(3000), ...override(['RRULE:FREQ=DAILY']))),
      /line 18015: an overridden instance \(RECURRENCE-ID\) cannot have its own RRULE/,
    );
  });

  it('do not copy METHOD into the stored objects', () => {
    const { items } = splitUploadNow(cal('METHOD:PUBLISH', ...event(START)));
    assert.equal(items.length, 1);
    assert.doesNotMatch(items[0]?.text ?? '', /METHOD/);
  });
});
