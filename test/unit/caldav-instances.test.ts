/**
 * Recurrence walks: a walk asked for a window only (ExpandOptions.from, where the iterator may start
 * a whole number of periods after DTSTART) finds exactly the instances a walk from DTSTART finds in
 * that window; walks are bounded by their budget; rules that exclude every date are empty; the span
 * cache answers ranges long before the ones it was filled for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ICAL from 'ical.js';
import { ownInstances, recurrenceSets, type Instance } from '../../src/caldav/instances.js';
import { describeCalendarItem } from '../../src/caldav/item.js';
import { parseCalendar } from '../../src/caldav/parse.js';
import { ruleNeverOccurs, WalkBudget, WalkLimitError } from '../../src/caldav/recur-walk.js';
import { eventsOverlap } from '../../src/caldav/span-cache.js';
import { instanceOverlaps } from '../../src/caldav/time-range.js';
import { ZoneResolver } from '../../src/caldav/timezones.js';

const PARIS = [
  'BEGIN:VTIMEZONE',
  'TZID:Europe/Paris',
  'BEGIN:DAYLIGHT',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'DTSTART:19700329T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU',
  'END:DAYLIGHT',
  'BEGIN:STANDARD',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'DTSTART:19701025T030000',
  'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
  'END:STANDARD',
  'END:VTIMEZONE',
];

function event(start: string, end: string, rule: string): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    ...PARIS,
    'BEGIN:VEVENT',
    'UID:x',
    'DTSTAMP:20200101T000000Z',
    start,
    end,
    `RRULE:${rule}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

const utc = (iso: string): number => Date.parse(iso) / 1000;

/** Starts of the instances overlapping [start, end), walked from DTSTART or from the window. */
function window(text: string, start: number, end: number, fromWindow: boolean): number[] {
  const vcal = parseCalendar(text);
  const tz = new ZoneResolver(vcal);
  const comp = vcal.getFirstSubcomponent('vevent') as ICAL.Component;
  const [set] = recurrenceSets([comp], tz);
  const opts = {
    until: end + 1,
    limit: 1_000_000,
    budget: new WalkBudget({ steps: 10_000_000 }),
    ...(fromWindow ? { from: start } : {}),
  };
  const out: number[] = [];
  for (const inst of ownInstances(comp, set, tz, opts) as Iterable<Instance>) {
    if (instanceOverlaps(inst, tz, { start, end })) out.push(inst.times.start ?? NaN);
  }
  return out;
}

describe('a walk over a window only', () => {
  const timed = ['DTSTART;TZID=Europe/Paris:20100104T093000', 'DTEND;TZID=Europe/Paris:20100104T103000'];
  const long = ['DTSTART;TZID=Europe/Paris:20100104T220000', 'DTEND;TZID=Europe/Paris:20100107T010000'];
  const allDay = ['DTSTART;VALUE=DATE:20100104', 'DTEND;VALUE=DATE:20100106'];
  // Sub-daily rules from 2024 (walking them from 2010 to compare would take seconds).
  const hours = ['DTSTART;TZID=Europe/Paris:20240101T093000', 'DTEND;TZID=Europe/Paris:20240101T094500'];
  const cases: [string[], string][] = [
    [timed, 'FREQ=DAILY'],
    [timed, 'FREQ=DAILY;INTERVAL=3'],
    [timed, 'FREQ=DAILY;BYDAY=MO,WE,FR'],
    [timed, 'FREQ=DAILY;BYMONTH=2,11;INTERVAL=2'],
    [timed, 'FREQ=DAILY;BYMONTHDAY=1,15,-1'],
    [timed, 'FREQ=WEEKLY'],
    [timed, 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH'],
    [timed, 'FREQ=WEEKLY;INTERVAL=3;BYDAY=SU;WKST=SU'],
    [timed, 'FREQ=WEEKLY;BYMONTH=3,10;BYDAY=SU'],
    [hours, 'FREQ=HOURLY;INTERVAL=7'],
    [hours, 'FREQ=HOURLY;BYHOUR=2,3,14;BYDAY=SU'],
    [hours, 'FREQ=MINUTELY;INTERVAL=97'],
    [timed, 'FREQ=DAILY;UNTIL=20251116T000000Z'],
    [long, 'FREQ=WEEKLY;BYDAY=MO,TH'],
    [long, 'FREQ=DAILY;INTERVAL=4'],
    [allDay, 'FREQ=WEEKLY;INTERVAL=2'],
    [allDay, 'FREQ=DAILY;BYMONTH=11;BYDAY=SA,SU'],
  ];
  // Around the change to winter time in 2025, and three weeks around the change to summer time in 2031.
  const windows: [number, number][] = [
    [utc('2025-10-20T00:00:00Z'), utc('2025-11-20T00:00:00Z')],
    [utc('2031-03-17T00:00:00Z'), utc('2031-04-08T00:00:00Z')],
  ];
  const check = (times: string[], rule: string, spans: [number, number][]): void => {
    const text = event(times[0] as string, times[1] as string, rule);
    let found = 0;
    for (const [start, end] of spans) {
      const full = window(text, start, end, false);
      assert.deepEqual(window(text, start, end, true), full);
      found += full.length;
    }
    assert.ok(found > 0, `${rule}: some instance in the windows`);
  };
  for (const [times, rule] of cases) it(`${rule} (${times[0]})`, () => check(times, rule, windows));
  // ical.js's own reading of BY parts below the frequency: the same from the window as from DTSTART.
  const recent = ['DTSTART;TZID=Europe/Paris:20251001T100000', 'DTEND;TZID=Europe/Paris:20251001T100500'];
  for (const rule of [
    'FREQ=SECONDLY;INTERVAL=2;BYSECOND=1',
    'FREQ=MINUTELY;INTERVAL=2;BYMINUTE=1',
    'FREQ=HOURLY;INTERVAL=2;BYHOUR=3',
  ]) {
    it(`${rule} (${recent[0]})`, () => check(recent, rule, [windows[0] as [number, number]]));
  }
});

describe('walk bounds', () => {
  it('stops a walk that uses up its steps with WalkLimitError', () => {
    const text = event(
      'DTSTART:20240101T100000Z',
      'DTEND:20240101T110000Z',
      'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29',
    );
    const vcal = parseCalendar(text);
    const tz = new ZoneResolver(vcal);
    const comp = vcal.getFirstSubcomponent('vevent') as ICAL.Component;
    const budget = new WalkBudget({ steps: 10_000 });
    // Every second of February 29th: 5 million seconds away from DTSTART.
    const walk = (): Instance[] => [...ownInstances(comp, undefined, tz, { limit: 10, budget })];
    assert.throws(walk, WalkLimitError);
  });

  it('knows rules whose parts exclude every date or time', () => {
    const never = (rule: string): boolean => ruleNeverOccurs(ICAL.Recur.fromString(rule));
    assert.equal(never('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30'), true);
    assert.equal(never('FREQ=YEARLY;BYMONTH=4,6,9,11;BYMONTHDAY=31'), true);
    assert.equal(never('FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=-30'), true);
    assert.equal(never('FREQ=SECONDLY;BYSECOND=60'), true);
    assert.equal(never('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29'), false);
    assert.equal(never('FREQ=MONTHLY;BYMONTHDAY=31'), false);
    assert.equal(never('FREQ=SECONDLY;BYSECOND=59,60'), false);
  });
});

describe('the span cache (the simple VEVENT time-range query)', () => {
  const daily = event('DTSTART:20000103T090000Z', 'DTEND:20000103T100000Z', 'FREQ=DAILY;BYDAY=MO');
  const at = (start: string, end: string): boolean | undefined =>
    eventsOverlap(daily, { start: utc(start), end: utc(end) });

  it('answers ranges near now, then ranges long before, as the filter does', () => {
    // Near now the cache answers itself. A range long before widens its window back to that range
    // (here 26 years of Mondays, more than one walk's bound): it then leaves the answer to the full
    // filter (undefined), the same on every machine since the bound is a count of steps.
    const expect = (start: string, end: string, match: boolean): void => {
      const got = at(start, end);
      const near = start.startsWith('2025');
      if (near) assert.equal(got, match, `${start}..${end}`);
      else assert.ok(got === undefined || got === match, `${start}..${end}: ${String(got)}`);
    };
    expect('2025-11-03T09:30:00Z', '2025-11-03T09:45:00Z', true);
    expect('2025-11-04T09:30:00Z', '2025-11-04T09:45:00Z', false);
    expect('2001-01-01T09:30:00Z', '2001-01-01T09:45:00Z', true);
    expect('2001-01-02T09:30:00Z', '2001-01-02T09:45:00Z', false);
    expect('1999-01-01T00:00:00Z', '2000-01-03T09:00:00Z', false);
  });
});

describe('the indexed span of an item whose walk is stopped', () => {
  it('still starts at DTSTART (for this rule ical.js searches 18,000 years for a first day)', () => {
    const text = event(
      'DTSTART:20240101T100000Z',
      'DTEND:20240101T110000Z',
      'FREQ=YEARLY;BYYEARDAY=366;BYDAY=1MO',
    );
    const d = describeCalendarItem(text);
    assert.equal(d.start, utc('2024-01-01T10:00:00Z'));
    assert.equal(d.end, Number.MAX_SAFE_INTEGER);
  });
});
