/**
 * RFC 4791 §9.9: when does a component instance overlap a time range. Ranges are half-open
 * [start, end) in POSIX seconds; a missing start is -infinity, a missing end +infinity.
 */
import ICAL from 'ical.js';
import { propSeconds, type Instance, type InstanceTimes } from './instances.js';
import type { ZoneResolver } from './timezones.js';

export interface TimeRange {
  start: number;
  end: number;
}

/** VEVENT and VJOURNAL: the interval [DTSTART, effective end), or the instant DTSTART. */
function intervalOverlaps(s: number | undefined, e: number | undefined, r: TimeRange): boolean {
  if (s === undefined) return false;
  if (e !== undefined && e > s) return r.start < e && r.end > s;
  return r.start <= s && r.end > s;
}

/** The VTODO table of RFC 4791 §9.9. */
function todoOverlaps(t: InstanceTimes, comp: ICAL.Component, tz: ZoneResolver, r: TimeRange): boolean {
  const { start: s, due } = t;
  if (s !== undefined) {
    if (t.end !== undefined) return r.start <= t.end && (r.end > s || r.end >= t.end);
    if (due !== undefined) return (r.start < due || r.start <= s) && (r.end > s || r.end >= due);
    return r.start <= s && r.end > s;
  }
  if (due !== undefined) return r.start < due && r.end >= due;
  const completed = propSeconds(comp, 'completed', tz);
  const created = propSeconds(comp, 'created', tz);
  if (completed !== undefined && created !== undefined) {
    return (r.start <= created || r.start <= completed) && (r.end >= created || r.end >= completed);
  }
  if (completed !== undefined) return r.start <= completed && r.end >= completed;
  if (created !== undefined) return r.end > created;
  return true;
}

/** FREEBUSY periods as [start, end) pairs in POSIX seconds. */
export function freeBusyPeriods(
  comp: ICAL.Component,
  tz: ZoneResolver,
): { start: number; end: number; prop: ICAL.Property }[] {
  const out: { start: number; end: number; prop: ICAL.Property }[] = [];
  for (const prop of comp.getAllProperties('freebusy')) {
    for (const v of prop.getValues()) {
      if (!(v instanceof ICAL.Period)) continue;
      const start = tz.toUtc(v.start, undefined);
      const end = v.end ? tz.toUtc(v.end, undefined) : v.duration ? start + v.duration.toSeconds() : start;
      out.push({ start, end, prop });
    }
  }
  return out;
}

function freeBusyOverlaps(comp: ICAL.Component, tz: ZoneResolver, r: TimeRange): boolean {
  const periods = freeBusyPeriods(comp, tz);
  if (periods.length > 0) return periods.some((p) => r.start < p.end && r.end > p.start);
  const s = propSeconds(comp, 'dtstart', tz);
  const e = propSeconds(comp, 'dtend', tz);
  if (s === undefined || e === undefined) return false;
  return r.start <= e && r.end > s;
}

/** Whether an instance of a VEVENT, VTODO, VJOURNAL or VFREEBUSY overlaps the range. */
export function instanceOverlaps(inst: Instance, tz: ZoneResolver, r: TimeRange): boolean {
  switch (inst.comp.name) {
    case 'vevent':
    case 'vjournal':
      return intervalOverlaps(inst.times.start, inst.times.end, r);
    case 'vtodo':
      return todoOverlaps(inst.times, inst.comp, tz, r);
    case 'vfreebusy':
      return freeBusyOverlaps(inst.comp, tz, r);
    default:
      return false;
  }
}

/** Where an instance may match some range at all (inclusive bounds), for the storage pre-filter. */
export function instanceSpan(inst: Instance, tz: ZoneResolver): TimeRange {
  const t = inst.times;
  if (inst.comp.name === 'vtodo') {
    const points = [t.start, t.end, t.due].filter((x): x is number => x !== undefined);
    if (points.length > 0) return { start: Math.min(...points), end: Math.max(...points) };
    const completed = propSeconds(inst.comp, 'completed', tz);
    const created = propSeconds(inst.comp, 'created', tz);
    if (completed !== undefined) {
      return {
        start: Math.min(completed, created ?? completed),
        end: Math.max(completed, created ?? completed),
      };
    }
    return { start: created ?? -Infinity, end: Infinity };
  }
  if (inst.comp.name === 'vfreebusy') {
    const periods = freeBusyPeriods(inst.comp, tz);
    const s = [propSeconds(inst.comp, 'dtstart', tz), ...periods.map((p) => p.start)].filter(
      (x) => x !== undefined,
    );
    const e = [propSeconds(inst.comp, 'dtend', tz), ...periods.map((p) => p.end)].filter(
      (x) => x !== undefined,
    );
    return s.length && e.length
      ? { start: Math.min(...s), end: Math.max(...e) }
      : { start: Infinity, end: -Infinity };
  }
  if (t.start === undefined) return { start: Infinity, end: -Infinity };
  return { start: t.start, end: Math.max(t.end ?? t.start, t.start) };
}

/** Trigger times (POSIX seconds) of a VALARM for one instance of its parent, repetitions included. */
export function alarmTriggers(alarm: ICAL.Component, parent: Instance, tz: ZoneResolver): number[] {
  const prop = alarm.getFirstProperty('trigger');
  const v = prop?.getFirstValue();
  if (!prop || !v) return [];
  let first: number | undefined;
  if (v instanceof ICAL.Time) first = tz.toUtc(v, undefined);
  else if (v instanceof ICAL.Duration) {
    const related = String(prop.getParameter('related') ?? 'START').toUpperCase();
    const t = parent.times;
    const base = related === 'END' ? (t.end ?? t.due ?? t.start) : (t.start ?? t.due);
    if (base !== undefined) first = base + v.toSeconds();
  }
  if (first === undefined) return [];
  const out = [first];
  const repeat = Number(alarm.getFirstPropertyValue('repeat') ?? 0);
  const step = alarm.getFirstPropertyValue('duration');
  if (step instanceof ICAL.Duration && Number.isFinite(repeat)) {
    // Alarms repeat a handful of times; the cap keeps a hostile REPEAT from costing work.
    for (let i = 1; i <= Math.min(repeat, 1000); i++) out.push(first + i * step.toSeconds());
  }
  return out;
}

/** Largest amount (seconds) by which a relative trigger precedes the start of its parent instance. */
export function alarmLead(alarm: ICAL.Component): number {
  const v = alarm.getFirstPropertyValue('trigger');
  return v instanceof ICAL.Duration ? Math.max(0, -v.toSeconds()) : 0;
}
