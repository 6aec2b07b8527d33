/**
 * CalDAV calendar-query filters (RFC 4791 §9.7): parsing the C:filter element and matching it
 * against one calendar object resource, with time ranges evaluated on every recurrence instance.
 */
import ICAL from 'ical.js';
import { isCollation, textMatches, type TextMatch } from '../dav/collation.js';
import { DavError } from '../dav/errors.js';
import { NS, type XmlElement } from '../dav/xml.js';
import { ownInstances, recurrenceSets, type Instance, type RecurrenceSet } from './instances.js';
import { ExpansionLimitError, WalkBudget } from './recur-walk.js';
import { objectComponents, parseCalendar } from './parse.js';
import { alarmLead, alarmTriggers, freeBusyPeriods, instanceOverlaps, type TimeRange } from './time-range.js';
import { ZoneResolver } from './timezones.js';
import { parseUtcDateTime } from './utc.js';
import { eventsOverlap } from './span-cache.js';
import { CALDAV_CONDITIONS } from './preconditions.js';

export interface ParamFilter {
  name: string;
  isNotDefined: boolean;
  textMatch?: TextMatch;
}

export interface PropFilter {
  name: string;
  isNotDefined: boolean;
  timeRange?: TimeRange;
  textMatch?: TextMatch;
  paramFilters: ParamFilter[];
}

export interface CompFilter {
  name: string;
  isNotDefined: boolean;
  timeRange?: TimeRange;
  propFilters: PropFilter[];
  compFilters: CompFilter[];
}

/** A parsed C:filter: its single top-level comp-filter (for VCALENDAR). */
export interface CalendarFilter {
  root: CompFilter;
}

const VALID_FILTER = CALDAV_CONDITIONS.validFilter;
const SUPPORTED_COLLATION = CALDAV_CONDITIONS.supportedCollation;
/** Instances examined per component before a filter gives up and reports a match. */
const MAX_FILTER_INSTANCES = 100_000;

const invalid = (msg: string): DavError => new DavError(403, msg, VALID_FILTER);

function kids(el: XmlElement, local: string): XmlElement[] {
  return el.children.filter((c) => c.ns === NS.C && c.local === local);
}

function nameAttr(el: XmlElement): string {
  const name = el.attrs['name'];
  if (!name) throw invalid(`${el.local} without a name attribute`);
  return name.toUpperCase();
}

export function parseCalendarFilter(filterEl: XmlElement): CalendarFilter {
  const comps = kids(filterEl, 'comp-filter');
  const root = comps[0];
  if (comps.length !== 1 || !root) throw invalid('C:filter must contain exactly one C:comp-filter');
  const parsed = parseCompFilter(root);
  if (parsed.name !== 'VCALENDAR') throw invalid('the top-level C:comp-filter must name VCALENDAR');
  return { root: parsed };
}

/** The name and is-not-defined of a comp-filter, prop-filter or param-filter. */
function nameAndDefinedness(el: XmlElement): { name: string; isNotDefined: boolean } {
  return { name: nameAttr(el), isNotDefined: kids(el, 'is-not-defined').length > 0 };
}

/** The first `local` child of `el`, parsed; undefined when there is none. */
function firstParsed<T>(el: XmlElement, local: string, parse: (child: XmlElement) => T): T | undefined {
  const first = kids(el, local)[0];
  return first ? parse(first) : undefined;
}

function parseCompFilter(el: XmlElement): CompFilter {
  return {
    ...nameAndDefinedness(el),
    timeRange: firstParsed(el, 'time-range', parseTimeRange),
    propFilters: kids(el, 'prop-filter').map(parsePropFilter),
    compFilters: kids(el, 'comp-filter').map(parseCompFilter),
  };
}

function parsePropFilter(el: XmlElement): PropFilter {
  return {
    ...nameAndDefinedness(el),
    timeRange: firstParsed(el, 'time-range', parseTimeRange),
    textMatch: firstParsed(el, 'text-match', parseTextMatch),
    paramFilters: kids(el, 'param-filter').map(parseParamFilter),
  };
}

function parseParamFilter(el: XmlElement): ParamFilter {
  return { ...nameAndDefinedness(el), textMatch: firstParsed(el, 'text-match', parseTextMatch) };
}

function parseTextMatch(el: XmlElement): TextMatch {
  const collation = el.attrs['collation'] ?? 'i;ascii-casemap';
  if (!isCollation(collation)) {
    throw new DavError(403, `unsupported collation ${collation}`, SUPPORTED_COLLATION);
  }
  const negate = (el.attrs['negate-condition'] ?? 'no').toLowerCase();
  if (negate !== 'yes' && negate !== 'no') throw invalid(`bad negate-condition ${negate}`);
  // RFC 4791 has no match-type: a CalDAV text-match is a substring match (§9.7.5).
  return { text: el.text, collation, matchType: 'contains', negate: negate === 'yes' };
}

/** A C:time-range element: start and/or end in UTC (`YYYYMMDDTHHMMSSZ`). */
export function parseTimeRange(el: XmlElement): TimeRange {
  const s = el.attrs['start'];
  const e = el.attrs['end'];
  if (s === undefined && e === undefined) throw invalid('C:time-range needs start or end');
  const start = s === undefined ? -Infinity : parseUtcDateTime(s);
  const end = e === undefined ? Infinity : parseUtcDateTime(e);
  if (start === undefined || end === undefined) throw invalid(`bad C:time-range ${s ?? ''}/${e ?? ''}`);
  if (end <= start) throw invalid('C:time-range end must be later than start');
  return { start, end };
}

/**
 * The time range of the filter that every match must overlap, to pre-select items by their indexed
 * start/end (see `rangeMayOverlap`). Only time ranges on components directly inside VCALENDAR count:
 * alarms may fire far from their event.
 */
export function filterTimeRange(filter: CalendarFilter): { start: number; end: number } | undefined {
  for (const f of filter.root.compFilters) {
    if (!f.isNotDefined && f.timeRange) return { start: f.timeRange.start, end: f.timeRange.end };
  }
  return undefined;
}

/** The component type the filter requires directly inside VCALENDAR, if any. */
export function filterComponent(filter: CalendarFilter): string | undefined {
  return filter.root.compFilters.find((f) => !f.isNotDefined)?.name;
}

/** Pre-filter test: may an item with indexed span [itemStart, itemEnd] match a filter range? */
export function rangeMayOverlap(
  item: { start: number; end: number },
  range: { start: number; end: number },
): boolean {
  if (item.start === 0 && item.end === 0) return true; // span unknown
  return item.start <= range.end && item.end >= range.start;
}

interface Ctx {
  tz: ZoneResolver;
  sets: Map<ICAL.Component, RecurrenceSet>;
  /** One budget for every walk over this item's instances in this filter. */
  budget: WalkBudget;
}

/** Matches a filter against one stored calendar object. Unparsable objects never match. */
export function matchCalendarFilter(filter: CalendarFilter, text: string): boolean {
  const eventRange = simpleEventRange(filter);
  if (eventRange) {
    const known = eventsOverlap(text, eventRange);
    if (known !== undefined) return known;
  }
  let vcal: ICAL.Component;
  try {
    vcal = parseCalendar(text, unlookedAt(filter));
  } catch {
    return false;
  }
  const tz = new ZoneResolver(vcal);
  const sets = new Map<ICAL.Component, RecurrenceSet>();
  for (const set of recurrenceSets(objectComponents(vcal), tz)) {
    if (set.master) sets.set(set.master, set);
    for (const override of set.overrides.values()) sets.set(override, set);
  }
  const ctx: Ctx = { tz, sets, budget: new WalkBudget() };
  const root = filter.root;
  if (root.isNotDefined) return false;
  return compMatches(root, vcal, ctx, undefined);
}

/** Properties that hold big values (attachments, images): left out of parsing unless filtered on. */
const BULKY = ['ATTACH', 'IMAGE'];

function namedProps(comp: CompFilter, out: Set<string>): Set<string> {
  for (const propFilter of comp.propFilters) out.add(propFilter.name.toUpperCase());
  for (const c of comp.compFilters) namedProps(c, out);
  return out;
}

/** The bulky properties this filter does not look at. */
function unlookedAt(filter: CalendarFilter): ReadonlySet<string> {
  const named = namedProps(filter.root, new Set());
  return new Set(BULKY.filter((n) => !named.has(n)));
}

/** The range of the filter clients send most: VCALENDAR > VEVENT with a time-range and nothing else. */
function simpleEventRange(filter: CalendarFilter): TimeRange | undefined {
  const root = filter.root;
  if (root.isNotDefined || root.timeRange || root.propFilters.length > 0 || root.compFilters.length !== 1)
    return undefined;
  const ev = root.compFilters[0];
  if (!ev || ev.name.toUpperCase() !== 'VEVENT' || ev.isNotDefined) return undefined;
  if (ev.propFilters.length > 0 || ev.compFilters.length > 0 || !ev.timeRange) return undefined;
  return ev.timeRange;
}

/** A comp-filter applied to the subcomponents of `parent`. */
function childFilterMatches(
  f: CompFilter,
  parent: ICAL.Component,
  ctx: Ctx,
  parentComp: ICAL.Component,
): boolean {
  const candidates = parent.getAllSubcomponents(f.name.toLowerCase());
  if (f.isNotDefined) return candidates.length === 0;
  return candidates.some((c) => compMatches(f, c, ctx, parentComp));
}

function compMatches(
  f: CompFilter,
  comp: ICAL.Component,
  ctx: Ctx,
  parent: ICAL.Component | undefined,
): boolean {
  if (f.timeRange && !compInRange(comp, f.timeRange, ctx, parent)) return false;
  if (!f.propFilters.every((pf) => propFilterMatches(pf, comp, ctx))) return false;
  return f.compFilters.every((cf) => childFilterMatches(cf, comp, ctx, comp));
}

/**
 * Whether some instance of a component passes `test`. Too many instances, or a walk past its budget,
 * count as a match: the item is returned rather than hidden.
 */
function anyInstance(
  comp: ICAL.Component,
  ctx: Ctx,
  span: { from?: number; until: number },
  test: (i: Instance) => boolean,
): boolean {
  try {
    const opts = { ...span, limit: MAX_FILTER_INSTANCES, budget: ctx.budget };
    const gen = ownInstances(comp, ctx.sets.get(comp), ctx.tz, opts);
    for (const inst of gen) if (test(inst)) return true;
    return false;
  } catch (e) {
    if (e instanceof ExpansionLimitError) return true;
    return false;
  }
}

function compInRange(
  comp: ICAL.Component,
  r: TimeRange,
  ctx: Ctx,
  parent: ICAL.Component | undefined,
): boolean {
  switch (comp.name) {
    case 'vevent':
    case 'vtodo':
    case 'vjournal':
      // +1: a VTODO may match an instance starting exactly at the range end.
      return anyInstance(comp, ctx, { from: r.start, until: r.end + 1 }, (i) =>
        instanceOverlaps(i, ctx.tz, r),
      );
    case 'vfreebusy':
      return instanceOverlaps({ comp, times: { isDate: false } }, ctx.tz, r);
    case 'valarm': {
      if (!parent) return false;
      const until = r.end + alarmLead(comp) + 1;
      // From DTSTART: an alarm may ring long after its instance started.
      return anyInstance(parent, ctx, { until }, (i) =>
        alarmTriggers(comp, i, ctx.tz).some((t) => r.start <= t && r.end > t),
      );
    }
    default:
      return false;
  }
}

function propFilterMatches(pf: PropFilter, comp: ICAL.Component, ctx: Ctx): boolean {
  const props = comp.getAllProperties(pf.name.toLowerCase());
  if (pf.isNotDefined) return props.length === 0;
  return props.some((p) => propMatches(pf, p, ctx));
}

function propMatches(pf: PropFilter, prop: ICAL.Property, ctx: Ctx): boolean {
  if (pf.timeRange && !propInRange(prop, pf.timeRange, ctx)) return false;
  if (pf.textMatch && !textMatches([propText(prop)], pf.textMatch)) return false;
  return pf.paramFilters.every((f) => paramMatches(f, prop));
}

function propInRange(prop: ICAL.Property, r: TimeRange, ctx: Ctx): boolean {
  const tzid = prop.getParameter('tzid');
  return prop.getValues().some((v) => {
    if (v instanceof ICAL.Time) {
      const s = ctx.tz.toUtc(v, typeof tzid === 'string' ? tzid : undefined);
      return v.isDate ? r.start < s + 86_400 && r.end > s : r.start <= s && r.end > s;
    }
    if (v instanceof ICAL.Period && prop.name === 'freebusy') {
      const holder = new ICAL.Component('vfreebusy');
      holder.addProperty(ICAL.Property.fromString(prop.toICALString()));
      return freeBusyPeriods(holder, ctx.tz).some((p) => r.start < p.end && r.end > p.start);
    }
    return false;
  });
}

/** The value of a property as iCalendar text (multiple values joined by commas, unescaped). */
export function propText(prop: ICAL.Property): string {
  const values: unknown[] = prop.getValues();
  return values.map(valueText).join(',');
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (
    v instanceof ICAL.Time ||
    v instanceof ICAL.Duration ||
    v instanceof ICAL.Period ||
    v instanceof ICAL.UtcOffset
  ) {
    return v.toICALString();
  }
  if (v instanceof ICAL.Recur) return v.toString();
  return '';
}

function paramMatches(f: ParamFilter, prop: ICAL.Property): boolean {
  const raw = prop.getParameter(f.name.toLowerCase()) as unknown[] | string | undefined | null;
  const list: unknown[] = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  const values = list.filter((v): v is string => typeof v === 'string');
  if (f.isNotDefined) return values.length === 0;
  if (values.length === 0) return false;
  return f.textMatch ? textMatches(values, f.textMatch) : true;
}
