/**
 * The free-busy-query REPORT (RFC 4791 §7.10): busy time of a set of calendar objects within a
 * range, as one VFREEBUSY with coalesced periods per busy type.
 */
import ICAL from 'ical.js';
import { DavError } from '../dav/errors.js';
import { ownInstances, recurrenceSets } from './instances.js';
import { ExpansionLimitError, WalkBudget, WalkLimitError, outputWalkLimits } from './recur-walk.js';
import { PRODID } from './item.js';
import { objectComponents, parseCalendar } from './parse.js';
import { freeBusyPeriods } from './time-range.js';
import { ZoneResolver } from './timezones.js';
import { formatUtcDateTime } from './utc.js';

type BusyType = 'BUSY' | 'BUSY-TENTATIVE' | 'BUSY-UNAVAILABLE';
const BUSY_TYPES: readonly BusyType[] = ['BUSY', 'BUSY-UNAVAILABLE', 'BUSY-TENTATIVE'];

interface Period {
  start: number;
  end: number;
}

/** The busy type of an event, or undefined when it does not block time. */
function eventBusyType(comp: ICAL.Component): BusyType | undefined {
  const transp = String(comp.getFirstPropertyValue('transp') ?? 'OPAQUE').toUpperCase();
  if (transp === 'TRANSPARENT') return undefined;
  const status = String(comp.getFirstPropertyValue('status') ?? '').toUpperCase();
  if (status === 'CANCELLED') return undefined;
  // Outlook/Exchange mark out-of-office time this way.
  const ms = String(comp.getFirstPropertyValue('x-microsoft-cdo-busystatus') ?? '').toUpperCase();
  if (ms === 'FREE') return undefined;
  if (ms === 'OOF') return 'BUSY-UNAVAILABLE';
  if (status === 'TENTATIVE' || ms === 'TENTATIVE') return 'BUSY-TENTATIVE';
  return 'BUSY';
}

function fbType(prop: ICAL.Property): BusyType | undefined {
  const t = String(prop.getParameter('fbtype') ?? 'BUSY').toUpperCase();
  return (BUSY_TYPES as readonly string[]).includes(t) ? (t as BusyType) : t === 'FREE' ? undefined : 'BUSY';
}

/** Sorted, merged periods: overlapping or touching periods become one. */
export function coalesce(periods: Period[]): Period[] {
  const sorted = [...periods].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Period[] = [];
  for (const period of sorted) {
    const last = out[out.length - 1];
    if (last && period.start <= last.end) last.end = Math.max(last.end, period.end);
    else out.push({ ...period });
  }
  return out;
}

/** Busy time of calendar objects within a range, gathered one object at a time. */
export class FreeBusyCollector {
  private readonly range: Period;
  private readonly busy = new Map<BusyType, Period[]>(BUSY_TYPES.map((t) => [t, []]));
  private count = 0;

  constructor(
    start: Date,
    end: Date,
    private readonly opts: { maxOccurrences: number },
  ) {
    this.range = { start: Math.floor(start.getTime() / 1000), end: Math.floor(end.getTime() / 1000) };
  }

  /** Adds the busy time of one stored object (unreadable objects add none). */
  add(text: string): void {
    collectBusy(text, this.range, this.opts.maxOccurrences, (type, s, e) => {
      const clipped = { start: Math.max(s, this.range.start), end: Math.min(e, this.range.end) };
      if (clipped.end <= clipped.start) return;
      if (++this.count > this.opts.maxOccurrences) {
        throw new DavError(
          400,
          `free-busy query would need more than ${this.opts.maxOccurrences} occurrences`,
        );
      }
      this.busy.get(type)?.push(clipped);
    });
  }

  /**
   * The VCALENDAR with one VFREEBUSY. `reply`: an iTIP answer (RFC 6638 §6.1.4), with METHOD and the
   * VFREEBUSY's own content lines (ORGANIZER, ATTENDEE, UID), already written as content lines.
   */
  render(reply?: { method: string; lines: readonly string[] }): string {
    return render(this.range, this.busy, reply);
  }
}

export function freeBusyReport(
  items: string[],
  start: Date,
  end: Date,
  opts: { maxOccurrences: number },
): string {
  const collector = new FreeBusyCollector(start, end, opts);
  for (const text of items) collector.add(text);
  return collector.render();
}

function collectBusy(
  text: string,
  range: Period,
  max: number,
  add: (t: BusyType, s: number, e: number) => void,
): void {
  let vcal: ICAL.Component;
  try {
    vcal = parseCalendar(text);
  } catch {
    return;
  }
  const tz = new ZoneResolver(vcal);
  const budget = new WalkBudget(outputWalkLimits(max));
  const comps = objectComponents(vcal);
  for (const fb of comps.filter((c) => c.name === 'vfreebusy')) {
    for (const period of freeBusyPeriods(fb, tz)) {
      const type = fbType(period.prop);
      if (type) add(type, period.start, period.end);
    }
  }
  for (const set of recurrenceSets(
    comps.filter((c) => c.name === 'vevent'),
    tz,
  )) {
    const members = [...(set.master ? [set.master] : []), ...set.overrides.values()];
    for (const comp of members) {
      try {
        for (const inst of ownInstances(comp, set, tz, {
          from: range.start,
          until: range.end,
          limit: Math.max(100_000, max * 10),
          budget,
        })) {
          const type = eventBusyType(inst.comp);
          const { start, end } = inst.times;
          if (type && start !== undefined && end !== undefined) add(type, start, end);
        }
      } catch (e) {
        if (e instanceof DavError) throw e;
        if (e instanceof WalkLimitError) {
          const uid = String(comp.getFirstPropertyValue('uid') ?? '');
          throw new DavError(
            400,
            `free-busy query: the recurrence of ${uid} cannot be walked to the range's end`,
          );
        }
        if (e instanceof ExpansionLimitError)
          throw new DavError(400, 'free-busy query: recurrence set too large');
        // A broken recurrence in one item must not fail the whole report.
      }
    }
  }
}

function render(
  range: Period,
  busy: Map<BusyType, Period[]>,
  reply?: { method: string; lines: readonly string[] },
): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    `PRODID:${PRODID}`,
    ...(reply ? [`METHOD:${reply.method}`] : []),
    'BEGIN:VFREEBUSY',
    ...(reply?.lines ?? []),
    `DTSTAMP:${formatUtcDateTime(Math.floor(Date.now() / 1000))}`,
    `DTSTART:${formatUtcDateTime(range.start)}`,
    `DTEND:${formatUtcDateTime(range.end)}`,
  ];
  const all: { type: BusyType; period: Period }[] = [];
  for (const [type, periods] of busy) for (const period of coalesce(periods)) all.push({ type, period });
  all.sort(
    (a, b) => a.period.start - b.period.start || BUSY_TYPES.indexOf(a.type) - BUSY_TYPES.indexOf(b.type),
  );
  for (const { type, period } of all) {
    lines.push(`FREEBUSY;FBTYPE=${type}:${formatUtcDateTime(period.start)}/${formatUtcDateTime(period.end)}`);
  }
  lines.push('END:VFREEBUSY', 'END:VCALENDAR');
  return lines.join('\r\n') + '\r\n';
}
