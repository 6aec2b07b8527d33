/**
 * Times of calendar components and the expansion of recurrence sets (RRULE, RDATE, EXDATE,
 * RECURRENCE-ID overrides) into instances with POSIX-second times.
 *
 * Recurrence rules are iterated on wall-clock time (as RFC 5545 defines them) with ical.js's
 * RecurIterator, and each occurrence is then converted to UTC with the object's own zones.
 *
 * Every walk is bounded by the WalkBudget its caller passes (recur-walk.ts): a rule that never
 * matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) would otherwise keep the event loop for ever.
 */
import ICAL from 'ical.js';
import { ExpansionLimitError, walkRule, type WalkBudget } from './recur-walk.js';
import { floatingFromWall, tzidOf, wallSeconds, type ZoneResolver } from './timezones.js';

/** Seconds in a day: a DATE DTSTART without end lasts one day. */
export const DAY = 86_400;
export const FOREVER = Number.MAX_SAFE_INTEGER;

/** Times of one instance in POSIX seconds, as far as the component defines them. */
export interface InstanceTimes {
  /** DTSTART. */
  start?: number;
  /**
   * VEVENT/VJOURNAL/VFREEBUSY: effective end (DTEND, DTSTART+DURATION, +1 day for dates, else = start).
   * VTODO: DTSTART+DURATION only.
   */
  end?: number;
  /** VTODO DUE. */
  due?: number;
  isDate: boolean;
}

export interface Instance {
  /** The component that describes this instance (the master or an override). */
  comp: ICAL.Component;
  times: InstanceTimes;
  /** UTC seconds of the original start, for instances of a recurrence set. */
  recurrenceId?: number;
}

interface DateProp {
  time: ICAL.Time;
  tzid: string | undefined;
}

function dateProp(comp: ICAL.Component, name: string): DateProp | undefined {
  const prop = comp.getFirstProperty(name);
  const v = prop?.getFirstValue();
  if (!prop || !(v instanceof ICAL.Time)) return undefined;
  return { time: v, tzid: tzidOf(prop) };
}

function durationProp(comp: ICAL.Component): ICAL.Duration | undefined {
  const v = comp.getFirstPropertyValue('duration');
  return v instanceof ICAL.Duration ? v : undefined;
}

/** UTC seconds of a wall time plus a nominal duration (P1D keeps the wall-clock hour across DST). */
function addNominal(t: ICAL.Time, dur: ICAL.Duration, tzid: string | undefined, tz: ZoneResolver): number {
  const end = t.clone();
  end.addDuration(dur);
  return tz.toUtc(end, tzid);
}

/** UTC seconds of a date-time property, if present. */
export function propSeconds(comp: ICAL.Component, name: string, tz: ZoneResolver): number | undefined {
  const prop = dateProp(comp, name);
  return prop ? tz.toUtc(prop.time, prop.tzid) : undefined;
}

/** The times a component defines for itself (its first instance for a master). */
export function componentTimes(comp: ICAL.Component, tz: ZoneResolver): InstanceTimes {
  const dtstart = dateProp(comp, 'dtstart');
  if (!dtstart) {
    const due = comp.name === 'vtodo' ? dateProp(comp, 'due') : undefined;
    return { isDate: due?.time.isDate ?? false, due: due ? tz.toUtc(due.time, due.tzid) : undefined };
  }
  const isDate = dtstart.time.isDate;
  const start = tz.toUtc(dtstart.time, dtstart.tzid);
  const dur = durationProp(comp);
  const withDuration = dur ? addNominal(dtstart.time, dur, dtstart.tzid, tz) : undefined;
  if (comp.name === 'vtodo') return { start, end: withDuration, due: propSeconds(comp, 'due', tz), isDate };
  const end = propSeconds(comp, 'dtend', tz) ?? withDuration ?? (isDate ? start + DAY : start);
  return { start, end: Math.max(end, start), isDate };
}

/** Whether the component holds a recurrence rule or recurrence dates. */
export function isRecurring(comp: ICAL.Component): boolean {
  return comp.hasProperty('rrule') || comp.hasProperty('rdate');
}

/** A source of occurrence starts in increasing order. */
interface StartSource {
  peek(): Occurrence | undefined;
  advance(): void;
}

interface Occurrence {
  utc: number;
  /** The wall-clock start, as seconds read as UTC (no Time object per occurrence: they are costly). */
  wall: number;
  isDate: boolean;
  tzid: string | undefined;
  /** For RDATE periods: the period's own end. */
  periodEnd?: number;
}

function occurrence(t: ICAL.Time, tz: ZoneResolver, tzid: string | undefined): Occurrence {
  return { utc: tz.toUtc(t, tzid), wall: wallSeconds(t), isDate: t.isDate, tzid };
}

/** Wall-clock seconds of one period of the frequencies whose walks may start late (see rebase). */
const FIXED_PERIOD: Readonly<Record<string, number>> = {
  SECONDLY: 1,
  MINUTELY: 60,
  HOURLY: 3600,
  DAILY: DAY,
  WEEKLY: 7 * DAY,
};

/**
 * Where a walk that only needs occurrences from the wall-clock second `from` on may start instead
 * of DTSTART: a whole number of periods later, so that the rule yields the same occurrences from
 * there (COUNT rules must be counted from the start; months and years have no fixed length). The
 * iterator's first answer is its start moved by BY parts (BYMONTH can move it most of a year), not
 * necessarily an occurrence: the margin keeps it, and anything it skipped, before `from`.
 */
function rebase(rule: ICAL.Recur, startWall: number, from: number | undefined): number {
  const unit = FIXED_PERIOD[rule.freq];
  if (from === undefined || !Number.isFinite(from) || unit === undefined || rule.count) return startWall;
  const parts = rule.parts;
  let margin = 2 * DAY;
  if (parts.BYDAY?.length) margin += 8 * DAY;
  if (parts.BYMONTHDAY?.length || parts.BYYEARDAY?.length || parts.BYWEEKNO?.length) margin += 32 * DAY;
  if (parts.BYMONTH?.length) margin += 400 * DAY;
  const period = unit * Math.max(1, rule.interval);
  const k = Math.floor((from - margin - startWall) / period) - 1;
  return k > 0 ? startWall + k * period : startWall;
}

/**
 * Starts (lazily: one ahead only when asked) of one RRULE, within the walk's bounds. `from` is the
 * wall-clock second before which no start is needed.
 */
function rruleSource(
  recur: ICAL.Recur,
  start: DateProp,
  tz: ZoneResolver,
  opts: ExpandOptions,
  from: number | undefined,
): StartSource {
  const rule = recur.clone(); // the iterator must not change the property's value
  const until = rule.until;
  if (until && until.zone?.tzid === 'UTC' && !start.time.isDate) {
    // ical.js compares UNTIL with the floating wall-clock occurrences: move UNTIL to the same clock.
    rule.until = floatingFromWall(tz.toWall(wallSeconds(until), start.tzid));
  } else if (until) {
    rule.until = floatingFromWall(wallSeconds(until), until.isDate && start.time.isDate);
  }
  // The wall-clock end of what the caller needs (two days of slack cover any zone offset).
  const horizon =
    opts.until !== undefined && Number.isFinite(opts.until)
      ? tz.toWall(opts.until, start.tzid) + 2 * DAY
      : Infinity;
  const stopAfter = Math.min(horizon, rule.until ? wallSeconds(rule.until) : Infinity);
  const startWall = rebase(rule, wallSeconds(start.time), from);
  const walk = walkRule(rule, floatingFromWall(startWall, start.time.isDate), opts.budget, stopAfter);
  let current: Occurrence | undefined;
  let pulled = false;
  return {
    peek: () => {
      if (!pulled) {
        pulled = true;
        const t = walk.next();
        current = t ? occurrence(t, tz, start.tzid) : undefined;
      }
      return current;
    },
    advance: () => void (pulled = false),
  };
}

function rdateSource(comp: ICAL.Component, tz: ZoneResolver): StartSource {
  const list: Occurrence[] = [];
  for (const prop of comp.getAllProperties('rdate')) {
    const tzid = tzidOf(prop);
    for (const v of prop.getValues()) {
      if (v instanceof ICAL.Time) list.push(occurrence(v, tz, tzid));
      else if (v instanceof ICAL.Period) {
        const s = v.start;
        const periodEnd = v.end
          ? tz.toUtc(v.end, tzid)
          : v.duration
            ? addNominal(s, v.duration, tzid, tz)
            : undefined;
        list.push({ ...occurrence(s, tz, tzid), periodEnd });
      }
    }
  }
  list.sort((a, b) => a.utc - b.utc);
  let i = 0;
  return {
    peek: () => list[i],
    advance: () => {
      i++;
    },
  };
}

function exdateSets(comp: ICAL.Component, tz: ZoneResolver): { instants: Set<number>; days: Set<number> } {
  const instants = new Set<number>();
  const days = new Set<number>();
  for (const prop of comp.getAllProperties('exdate')) {
    const tzid = tzidOf(prop);
    for (const v of prop.getValues()) {
      if (!(v instanceof ICAL.Time)) continue;
      if (v.isDate) days.add(wallSeconds(v));
      else instants.add(tz.toUtc(v, tzid));
    }
  }
  return { instants, days };
}

export interface ExpandOptions {
  /** Stop before the first occurrence starting at or after this UTC second. */
  until?: number;
  /**
   * Instances that end before this UTC second are not needed: a walk may start near it instead of
   * at DTSTART (and may then yield fewer of them).
   */
  from?: number;
  /** Throw ExpansionLimitError when more occurrences than this would be produced. */
  limit: number;
  /** The walk's budget (throws WalkLimitError when used up); one per item and request. */
  budget: WalkBudget;
  /** Recurrence ids (UTC seconds) replaced by overrides: skipped here. */
  skip?: ReadonlySet<number>;
}

/**
 * The occurrences of a master component in increasing start order (DTSTART first, then RRULE and
 * RDATE occurrences minus EXDATEs), without the instances given in `skip`. A VTODO without DTSTART
 * recurs from its DUE (as Radicale's vobject does).
 */
export function* masterInstances(
  master: ICAL.Component,
  tz: ZoneResolver,
  opts: ExpandOptions,
): Generator<Instance> {
  const first = componentTimes(master, tz);
  const onDue = first.start === undefined && master.name === 'vtodo';
  const anchor = dateProp(master, onDue ? 'due' : 'dtstart');
  const anchorUtc = onDue ? first.due : first.start;
  if (!anchor || anchorUtc === undefined) {
    yield { comp: master, times: first };
    return;
  }
  // An instance lasts at most this long after its start (DTEND, DURATION, DUE).
  const extent = Math.max(0, (first.end ?? anchorUtc) - anchorUtc, (first.due ?? anchorUtc) - anchorUtc);
  const from =
    opts.from !== undefined && Number.isFinite(opts.from)
      ? tz.toWall(opts.from, anchor.tzid) - extent - 2 * DAY
      : undefined;
  const sources: StartSource[] = master
    .getAllProperties('rrule')
    .map((p) => p.getFirstValue())
    .filter((r): r is ICAL.Recur => r instanceof ICAL.Recur)
    .map((r) => rruleSource(r, anchor, tz, opts, from));
  sources.push(rdateSource(master, tz));
  // DTSTART is always the first instance (RFC 5545 §3.8.5.3), even if the rule would not produce it.
  sources.push(singleSource({ ...occurrence(anchor.time, tz, anchor.tzid), utc: anchorUtc }));
  const ex = exdateSets(master, tz);
  let produced = 0;
  let last = -Infinity;
  for (;;) {
    opts.budget.charge();
    const next = nextOccurrence(sources);
    if (!next) return;
    if (next.utc === last) continue;
    last = next.utc;
    if (opts.until !== undefined && next.utc >= opts.until) return;
    if (ex.instants.has(next.utc) || ex.days.has(Math.floor(next.wall / DAY) * DAY)) continue;
    if (opts.skip?.has(next.utc)) continue;
    if (++produced > opts.limit) throw new ExpansionLimitError(`more than ${opts.limit} instances`);
    const times = onDue ? { due: next.utc, isDate: first.isDate } : shiftTimes(master, first, next, tz);
    yield { comp: master, times, recurrenceId: next.utc };
  }
}

function singleSource(occurrence: Occurrence): StartSource {
  let used = false;
  return { peek: () => (used ? undefined : occurrence), advance: () => void (used = true) };
}

function nextOccurrence(sources: StartSource[]): Occurrence | undefined {
  let best: StartSource | undefined;
  for (const s of sources) {
    const candidate = s.peek();
    if (candidate && (!best || candidate.utc < (best.peek() as Occurrence).utc)) best = s;
  }
  const earliest = best?.peek();
  best?.advance();
  return earliest;
}

/** Times of an occurrence: same exact duration as the master, nominal for DURATION. */
function shiftTimes(
  master: ICAL.Component,
  base: InstanceTimes,
  occ: Occurrence,
  tz: ZoneResolver,
): InstanceTimes {
  const delta = occ.utc - (base.start ?? occ.utc);
  const dur = durationProp(master);
  const out: InstanceTimes = { start: occ.utc, isDate: base.isDate };
  if (base.due !== undefined) out.due = base.due + delta;
  if (occ.periodEnd !== undefined) out.end = occ.periodEnd;
  else if (dur) out.end = addNominal(floatingFromWall(occ.wall, occ.isDate), dur, occ.tzid, tz);
  else if (base.end !== undefined) out.end = base.end + delta;
  return out;
}

/** UTC seconds of a component's RECURRENCE-ID, if it is an override. */
export function recurrenceIdOf(comp: ICAL.Component, tz: ZoneResolver): number | undefined {
  return propSeconds(comp, 'recurrence-id', tz);
}

/**
 * Groups the components of one object by master: for each UID, the master (if any) and the
 * overrides keyed by recurrence id.
 */
export interface RecurrenceSet {
  master?: ICAL.Component;
  overrides: Map<number, ICAL.Component>;
}

export function recurrenceSets(comps: ICAL.Component[], tz: ZoneResolver): RecurrenceSet[] {
  const byUid = new Map<string, RecurrenceSet>();
  const out: RecurrenceSet[] = [];
  for (const comp of comps) {
    const uid = String(comp.getFirstPropertyValue('uid') ?? '');
    let set = uid ? byUid.get(uid) : undefined;
    if (!set) {
      set = { overrides: new Map() };
      out.push(set);
      if (uid) byUid.set(uid, set);
    }
    const rid = recurrenceIdOf(comp, tz);
    if (rid === undefined) set.master ??= comp;
    else set.overrides.set(rid, comp);
  }
  return out;
}

/** The instances that one component stands for: itself for overrides and single components. */
export function* ownInstances(
  comp: ICAL.Component,
  set: RecurrenceSet | undefined,
  tz: ZoneResolver,
  opts: ExpandOptions,
): Generator<Instance> {
  const rid = recurrenceIdOf(comp, tz);
  if (rid !== undefined) {
    yield { comp, times: componentTimes(comp, tz), recurrenceId: rid };
    return;
  }
  if (!isRecurring(comp)) {
    yield { comp, times: componentTimes(comp, tz) };
    return;
  }
  yield* masterInstances(comp, tz, { ...opts, skip: new Set(set?.overrides.keys() ?? []) });
}
