/**
 * The C:calendar-data element of REPORT requests (RFC 4791 §9.6): which parts of an object to
 * return, and the expanded / limited forms of recurrence sets and free-busy sets.
 */
import ICAL from 'ical.js';
import { DavError } from '../dav/errors.js';
import { NS, type XmlElement } from '../dav/xml.js';
import { ownInstances, recurrenceSets, type Instance, type RecurrenceSet } from './instances.js';
import { ExpansionLimitError, WalkBudget, WalkLimitError, outputWalkLimits } from './recur-walk.js';
import { normalizeLineEndings } from '../content-lines/line-endings.js';
import { cloneComponent, parseCalendar } from './parse.js';
import { freeBusyPeriods, instanceOverlaps, type TimeRange } from './time-range.js';
import { ZoneResolver } from './timezones.js';
import { parseUtcDateTime } from './utc.js';

export interface PropSelection {
  name: string;
  novalue: boolean;
}

/** A C:comp selection: `props`/`comps` undefined = all (C:allprop / C:allcomp). */
export interface CompSelection {
  name: string;
  props?: PropSelection[];
  comps?: CompSelection[];
}

export interface CalendarDataRequest {
  /** Undefined: the whole object. */
  select?: CompSelection;
  expand?: TimeRange;
  limitRecurrenceSet?: TimeRange;
  limitFreeBusySet?: TimeRange;
}

function kids(el: XmlElement, local: string): XmlElement[] {
  return el.children.filter((c) => c.ns === NS.C && c.local === local);
}

function has(el: XmlElement, local: string): boolean {
  return kids(el, local).length > 0;
}

function nameAttr(el: XmlElement): string {
  const name = el.attrs['name'];
  if (!name) throw new DavError(400, `C:${el.local} without a name attribute`);
  return name.toUpperCase();
}

function parseComp(el: XmlElement): CompSelection {
  return {
    name: nameAttr(el),
    props: has(el, 'allprop')
      ? undefined
      : kids(el, 'prop').map((p) => ({ name: nameAttr(p), novalue: p.attrs['novalue'] === 'yes' })),
    comps: has(el, 'allcomp') ? undefined : kids(el, 'comp').map(parseComp),
  };
}

/** Expand and limit elements need both start and end (RFC 4791 §9.6.5-7). */
function parseRange(el: XmlElement): TimeRange {
  const s = el.attrs['start'];
  const e = el.attrs['end'];
  const start = s === undefined ? undefined : parseUtcDateTime(s);
  const end = e === undefined ? undefined : parseUtcDateTime(e);
  if (start === undefined || end === undefined || end <= start) {
    throw new DavError(400, `C:${el.local} needs valid UTC start and end (got ${s ?? '-'} / ${e ?? '-'})`);
  }
  return { start, end };
}

export function parseCalendarDataRequest(el: XmlElement | undefined): CalendarDataRequest {
  const req: CalendarDataRequest = {};
  if (!el) return req;
  const comp = kids(el, 'comp')[0];
  if (comp) req.select = parseComp(comp);
  const expand = kids(el, 'expand')[0];
  if (expand) req.expand = parseRange(expand);
  const lrs = kids(el, 'limit-recurrence-set')[0];
  if (lrs) req.limitRecurrenceSet = parseRange(lrs);
  const lfs = kids(el, 'limit-freebusy-set')[0];
  if (lfs) req.limitFreeBusySet = parseRange(lfs);
  return req;
}

/** Instances returned by C:expand so far in one REPORT, which `maxExpand` limits as a whole. */
export interface ExpandCount {
  instances: number;
}

/** The calendar data to return for one object. */
export function renderCalendarData(
  text: string,
  req: CalendarDataRequest,
  opts: { maxExpand: number; count?: ExpandCount },
): string {
  if (!req.select && !req.expand && !req.limitRecurrenceSet && !req.limitFreeBusySet) return text;
  let vcal: ICAL.Component;
  try {
    vcal = parseCalendar(text);
  } catch {
    return text; // stored data we cannot read is returned as it is
  }
  if (req.expand) vcal = expandCalendar(vcal, req.expand, opts.maxExpand, opts.count ?? { instances: 0 });
  else if (req.limitRecurrenceSet) limitRecurrenceSet(vcal, req.limitRecurrenceSet);
  if (req.limitFreeBusySet) limitFreeBusySet(vcal, req.limitFreeBusySet);
  if (req.select) selectParts(vcal, req.select);
  return normalizeLineEndings(vcal.toString());
}

const RECURRENCE_PROPS = ['rrule', 'rdate', 'exdate', 'exrule'];

/** Sets a date-time property to a UTC time (or a DATE for all-day instances). */
function setUtc(comp: ICAL.Component, name: string, sec: number, isDate: boolean): void {
  comp.removeAllProperties(name);
  const d = new Date(sec * 1000);
  const t = ICAL.Time.fromData(
    {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      isDate,
    },
    isDate ? undefined : ICAL.Timezone.utcTimezone,
  );
  comp.addPropertyWithValue(name, t);
}

/** One component describing exactly one instance, times in UTC (RFC 4791 §9.6.5). */
function instanceComponent(inst: Instance): ICAL.Component {
  const comp = cloneComponent(inst.comp);
  for (const name of RECURRENCE_PROPS) comp.removeAllProperties(name);
  const t = inst.times;
  if (t.start !== undefined) setUtc(comp, 'dtstart', t.start, t.isDate);
  if (comp.hasProperty('dtend') && t.end !== undefined) setUtc(comp, 'dtend', t.end, t.isDate);
  if (comp.hasProperty('due') && t.due !== undefined) setUtc(comp, 'due', t.due, t.isDate);
  if (inst.recurrenceId !== undefined) setUtc(comp, 'recurrence-id', inst.recurrenceId, t.isDate);
  return comp;
}

function iterationCap(max: number): number {
  // Instances before the range are iterated but not returned: allow more work than output.
  return Math.max(100_000, max * 10);
}

function expandCalendar(
  vcal: ICAL.Component,
  range: TimeRange,
  max: number,
  count: ExpandCount,
): ICAL.Component {
  const tz = new ZoneResolver(vcal);
  const budget = new WalkBudget(outputWalkLimits(max));
  const out = new ICAL.Component('vcalendar');
  for (const property of vcal.getAllProperties())
    out.addProperty(ICAL.Property.fromString(property.toICALString()));
  const comps = vcal.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  const timed = comps.filter((c) => ['vevent', 'vtodo', 'vjournal'].includes(c.name));
  for (const c of comps) if (!timed.includes(c)) out.addSubcomponent(cloneComponent(c));
  for (const set of recurrenceSets(timed, tz)) {
    const members = [...(set.master ? [set.master] : []), ...set.overrides.values()];
    for (const comp of members) {
      for (const inst of instancesOf(comp, set, tz, range, { max, budget })) {
        if (!instanceOverlaps(inst, tz, range)) continue;
        if (++count.instances > max) {
          throw new DavError(
            400,
            `C:expand would return more than ${max} instances ([reporting] max_expand_occurrence); narrow the time range`,
          );
        }
        out.addSubcomponent(instanceComponent(inst));
      }
    }
  }
  return out;
}

function instancesOf(
  comp: ICAL.Component,
  set: RecurrenceSet,
  tz: ZoneResolver,
  range: TimeRange,
  walk: { max: number; budget: WalkBudget },
): Instance[] {
  const limit = iterationCap(walk.max);
  try {
    const opts = { from: range.start, until: range.end + 1, limit, budget: walk.budget };
    return [...ownInstances(comp, set, tz, opts)];
  } catch (e) {
    if (e instanceof WalkLimitError) {
      const uid = String(comp.getFirstPropertyValue('uid') ?? '');
      throw new DavError(
        400,
        `the recurrence of ${uid} cannot be expanded up to the range's end (${e.message})`,
      );
    }
    if (e instanceof ExpansionLimitError) {
      throw new DavError(400, `recurrence set too large to expand (more than ${limit} instances)`);
    }
    return [];
  }
}

/** Master components stay; overrides only when their instance overlaps the range (§9.6.6). */
function limitRecurrenceSet(vcal: ICAL.Component, range: TimeRange): void {
  const tz = new ZoneResolver(vcal);
  const budget = new WalkBudget();
  const comps = vcal.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  for (const set of recurrenceSets(comps, tz)) {
    if (!set.master) continue; // orphan overrides: nothing to limit against
    for (const [rid, comp] of set.overrides) {
      const inst: Instance = { comp, times: ownTimes(comp, set, tz, budget), recurrenceId: rid };
      if (!instanceOverlaps(inst, tz, range)) vcal.removeSubcomponent(comp);
    }
  }
}

function ownTimes(
  comp: ICAL.Component,
  set: RecurrenceSet,
  tz: ZoneResolver,
  budget: WalkBudget,
): Instance['times'] {
  const first = ownInstances(comp, set, tz, { limit: 1, budget }).next();
  return first.done ? { isDate: false } : first.value.times;
}

/** Keeps only the FREEBUSY periods that overlap the range (§9.6.7). */
function limitFreeBusySet(vcal: ICAL.Component, range: TimeRange): void {
  const tz = new ZoneResolver(vcal);
  for (const fb of vcal.getAllSubcomponents('vfreebusy')) {
    for (const prop of fb.getAllProperties('freebusy')) {
      const holder = new ICAL.Component('vfreebusy');
      const keep = prop.getValues().filter((v) => {
        if (!(v instanceof ICAL.Period)) return true;
        holder.removeAllProperties('freebusy');
        holder.addPropertyWithValue('freebusy', v);
        return freeBusyPeriods(holder, tz).some((p) => range.start < p.end && range.end > p.start);
      });
      if (keep.length === 0) fb.removeProperty(prop);
      else prop.setValues(keep);
    }
  }
}

/** Removes what the C:comp selection does not ask for. */
function selectParts(comp: ICAL.Component, sel: CompSelection): void {
  if (sel.props) {
    const wanted = new Map(sel.props.map((p) => [p.name.toLowerCase(), p]));
    for (const prop of [...comp.getAllProperties()]) {
      const w = wanted.get(prop.name);
      if (!w) comp.removeProperty(prop);
      else if (w.novalue) prop.setValue('');
    }
  }
  if (sel.comps) {
    const wanted = new Map(sel.comps.map((c) => [c.name.toLowerCase(), c]));
    for (const sub of [...comp.getAllSubcomponents()]) {
      const w = wanted.get(sub.name);
      if (!w) comp.removeSubcomponent(sub);
      else selectParts(sub, w);
    }
  } else {
    // C:allcomp: subcomponents stay complete.
  }
}
