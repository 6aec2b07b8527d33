import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DavError } from '../../src/dav/errors.js';
import { coalesce, freeBusyReport } from '../../src/caldav/freebusy.js';
import { validateCalendarObject } from '../../src/caldav/item.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/ical/${name}`, import.meta.url), 'utf8');
const OPTS = { maxOccurrences: 10_000 };

function event(uid: string, start: string, end: string, ...extra: string[]): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//T//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20240101T000000Z',
    `DTSTART:${start}`,
    `DTEND:${end}`,
    ...extra,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

function freebusyLines(out: string): string[] {
  return out.split('\r\n').filter((l) => l.startsWith('FREEBUSY'));
}

describe('freeBusyReport (RFC 4791 §7.10)', () => {
  const start = new Date('2024-03-11T00:00:00Z');
  const end = new Date('2024-03-18T00:00:00Z');

  it('returns one VFREEBUSY with the range and DTSTAMP', () => {
    const out = freeBusyReport([], start, end, OPTS);
    assert.match(
      out,
      /^BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:.+\r\nBEGIN:VFREEBUSY\r\nDTSTAMP:\d{8}T\d{6}Z\r\n/,
    );
    assert.match(out, /\r\nDTSTART:20240311T000000Z\r\nDTEND:20240318T000000Z\r\n/);
    assert.ok(out.endsWith('END:VFREEBUSY\r\nEND:VCALENDAR\r\n'));
    assert.deepEqual(freebusyLines(out), []);
    assert.equal(
      validateCalendarObject(out.replace('BEGIN:VFREEBUSY\r\n', 'BEGIN:VFREEBUSY\r\nUID:x\r\n'), {
        supportedComponents: ['VFREEBUSY'],
        maxOccurrences: 10,
      }).component,
      'VFREEBUSY',
    );
  });

  it('merges overlapping and touching busy periods and clips them to the range', () => {
    const out = freeBusyReport(
      [
        event('a', '20240312T090000Z', '20240312T100000Z'),
        event('b', '20240312T093000Z', '20240312T110000Z'),
        event('c', '20240312T110000Z', '20240312T113000Z'),
        event('d', '20240312T140000Z', '20240312T150000Z'),
        event('e', '20240310T220000Z', '20240311T010000Z'),
        event('f', '20240320T090000Z', '20240320T100000Z'),
      ],
      start,
      end,
      OPTS,
    );
    assert.deepEqual(freebusyLines(out), [
      'FREEBUSY;FBTYPE=BUSY:20240311T000000Z/20240311T010000Z',
      'FREEBUSY;FBTYPE=BUSY:20240312T090000Z/20240312T113000Z',
      'FREEBUSY;FBTYPE=BUSY:20240312T140000Z/20240312T150000Z',
    ]);
  });

  it('types periods by STATUS and skips transparent and cancelled events', () => {
    const out = freeBusyReport(
      [
        event('t', '20240313T090000Z', '20240313T100000Z', 'STATUS:TENTATIVE'),
        event('x', '20240313T110000Z', '20240313T120000Z', 'STATUS:CANCELLED'),
        event('tr', '20240313T130000Z', '20240313T140000Z', 'TRANSP:TRANSPARENT'),
        event('c', '20240313T093000Z', '20240313T103000Z', 'STATUS:CONFIRMED'),
        fixture('allday-apple.ics'), // transparent all-day event
      ],
      start,
      end,
      OPTS,
    );
    assert.deepEqual(freebusyLines(out), [
      'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240313T090000Z/20240313T100000Z',
      'FREEBUSY;FBTYPE=BUSY:20240313T093000Z/20240313T103000Z',
    ]);
  });

  it('expands recurrences with EXDATE and overrides, and resolves time zones', () => {
    const out = freeBusyReport(
      [fixture('berlin-weekly.ics'), fixture('new-york-no-vtimezone.ics')],
      new Date('2024-03-09T00:00:00Z'),
      new Date('2024-03-27T00:00:00Z'),
      OPTS,
    );
    assert.deepEqual(freebusyLines(out), [
      'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240309T140000Z/20240309T150000Z',
      'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240310T130000Z/20240310T140000Z',
      'FREEBUSY;FBTYPE=BUSY:20240311T090000Z/20240311T100000Z',
      'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240311T130000Z/20240311T140000Z',
      'FREEBUSY;FBTYPE=BUSY:20240326T130000Z/20240326T140000Z',
    ]);
  });

  it('includes VFREEBUSY components and Outlook out-of-office as BUSY-UNAVAILABLE', () => {
    const out = freeBusyReport(
      [fixture('freebusy-component.ics'), fixture('outlook-tzid-spaces.ics')],
      new Date('2024-03-01T00:00:00Z'),
      new Date('2024-08-01T00:00:00Z'),
      OPTS,
    );
    assert.deepEqual(freebusyLines(out), [
      'FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20240312T080000Z/20240312T160000Z',
      'FREEBUSY;FBTYPE=BUSY:20240313T150000Z/20240313T160000Z',
      'FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20240702T120000Z/20240702T130000Z',
    ]);
  });

  it('ignores unreadable items and refuses too many occurrences', () => {
    assert.deepEqual(freebusyLines(freeBusyReport(['garbage'], start, end, OPTS)), []);
    const hourly = event('h', '20240311T000000Z', '20240311T003000Z', 'RRULE:FREQ=HOURLY');
    assert.throws(
      () => freeBusyReport([hourly], start, end, { maxOccurrences: 50 }),
      (e) => e instanceof DavError && e.status === 400,
    );
    assert.equal(freebusyLines(freeBusyReport([hourly], start, end, { maxOccurrences: 1000 })).length, 168);
  });
});

describe('coalesce', () => {
  it('sorts and merges periods', () => {
    assert.deepEqual(
      coalesce([
        { start: 50, end: 60 },
        { start: 0, end: 10 },
        { start: 5, end: 20 },
        { start: 20, end: 30 },
      ]),
      [
        { start: 0, end: 30 },
        { start: 50, end: 60 },
      ],
    );
  });
});
