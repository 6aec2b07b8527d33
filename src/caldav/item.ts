/**
 * Calendar object resources: validation of a PUT body (RFC 4791 §4.1), indexing (UID, component,
 * time span), and the whole-collection split/export that Radicale offers.
 */
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import { normalizeLineEndings } from '../content-lines/line-endings.js';
import { DavError } from '../dav/errors.js';
import {
  FOREVER,
  componentTimes,
  ownInstances,
  recurrenceSets,
  type Instance,
  type RecurrenceSet,
} from './instances.js';
import { ExpansionLimitError, WalkBudget, WalkLimitError } from './recur-walk.js';
import {
  cloneComponent,
  IcalParseError,
  objectComponents,
  parseCalendar,
  sanitizedLines,
  ownString,
  uidOf,
} from './parse.js';
import { instanceSpan } from './time-range.js';
import { checkCalendarText } from './validate.js';
import { ZoneResolver } from './timezones.js';
import { CALDAV_CONDITIONS } from './preconditions.js';

export interface CalendarObjectInfo {
  uid: string;
  /** Component type in upper case: VEVENT, VTODO, VJOURNAL, ... */
  component: string;
  /** Overall span of all instances in POSIX seconds; both 0 when the item has no times at all. */
  start: number;
  /** Number.MAX_SAFE_INTEGER for unbounded recurrences. */
  end: number;
}

const PRE = {
  data: CALDAV_CONDITIONS.validCalendarData,
  object: CALDAV_CONDITIONS.validCalendarObjectResource,
  component: CALDAV_CONDITIONS.supportedCalendarComponent,
};

/** Instances iterated to find the span of a finite recurrence when the caller gives no limit. */
const DEFAULT_SPAN_LIMIT = 10_000;
export const PRODID = '-//Almanac//CalDAV Server//EN';

/** Parses a calendar object after the checks of validate.ts; throws IcalParseError. */
function readCalendarObject(text: string): ICAL.Component {
  checkCalendarText(text);
  return parseCalendar(text);
}

/** An IcalParseError as the 403 with the CalDAV precondition it breaks. */
function asDavError(e: unknown): unknown {
  if (!(e instanceof IcalParseError)) return e;
  return new DavError(
    403,
    e.message,
    e.precondition === 'valid-calendar-object-resource' ? PRE.object : PRE.data,
  );
}

/** Validates the body of a PUT to a calendar object resource. Throws DavError 403 with a precondition. */
export function validateCalendarObject(
  text: string,
  opts: { supportedComponents: readonly string[]; maxOccurrences: number },
): CalendarObjectInfo {
  let vcal: ICAL.Component;
  try {
    vcal = readCalendarObject(text);
  } catch (e) {
    throw asDavError(e);
  }
  const comps = objectComponents(vcal);
  const { uid, component } = identify(comps);
  const supported = opts.supportedComponents.map((c) => c.toUpperCase());
  if (!supported.includes(component)) {
    throw new DavError(403, `component ${component} is not supported by this calendar`, PRE.component);
  }
  checkRecurrenceCounts(comps, opts.maxOccurrences);
  try {
    const { start, end, cut } = span(vcal, comps, opts.maxOccurrences);
    // A walk too long to count the occurrences: Radicale's estimate decides instead.
    if (cut) checkUntilEstimates(comps, opts.maxOccurrences);
    return { uid, component, start, end };
  } catch (e) {
    if (e instanceof DavError) throw e;
    if (e instanceof ExpansionLimitError) {
      throw new DavError(403, `recurrence has more than ${opts.maxOccurrences} occurrences`, PRE.object);
    }
    throw new DavError(
      403,
      `invalid iCalendar data: ${e instanceof Error ? e.message : String(e)}`,
      PRE.data,
    );
  }
}

/**
 * For --verify-storage: throws (with the reason) when Radicale could not load this stored item:
 * what validate.ts checks, and one component type with one UID.
 */
export function verifyCalendarItem(text: string): void {
  identify(objectComponents(readCalendarObject(text)));
}

/** UID and component type shared by all components (RFC 4791 §4.1). */
function identify(comps: ICAL.Component[]): { uid: string; component: string } {
  const first = comps[0];
  if (!first) throw new DavError(403, 'the calendar object holds no component', PRE.object);
  const types = new Set(comps.map((c) => c.name.toUpperCase()));
  if (types.size > 1) {
    throw new DavError(
      403,
      `a calendar object must hold one component type, found ${[...types].join(', ')}`,
      PRE.object,
    );
  }
  const uids = new Set(comps.map(uidOf));
  if (uids.has(undefined) || uids.has('')) throw new DavError(403, 'component without UID', PRE.data);
  if (uids.size > 1)
    throw new DavError(403, `several UIDs in one calendar object: ${[...uids].join(', ')}`, PRE.data);
  return { uid: uidOf(first) as string, component: first.name.toUpperCase() };
}

/** Radicale's max_vevent_rrule_occurrence guard on COUNT (UNTIL is checked while expanding). */
function checkRecurrenceCounts(comps: ICAL.Component[], max: number): void {
  for (const comp of comps) {
    for (const prop of comp.getAllProperties('rrule')) {
      let rule: unknown;
      try {
        rule = prop.getFirstValue();
      } catch {
        throw new DavError(403, 'invalid RRULE', PRE.data);
      }
      if (rule instanceof ICAL.Recur && rule.count !== null && rule.count > max) {
        throw new DavError(
          403,
          `RRULE COUNT=${rule.count} exceeds the limit of ${max} occurrences`,
          PRE.object,
        );
      }
    }
  }
}

/** Nominal seconds between two occurrences of each frequency (months and years on average). */
const PERIOD: Readonly<Record<string, number>> = {
  SECONDLY: 1,
  MINUTELY: 60,
  HOURLY: 3600,
  DAILY: 86_400,
  WEEKLY: 7 * 86_400,
  MONTHLY: 2_629_746,
  YEARLY: 31_556_952,
};

/**
 * Radicale's estimate of the occurrences an RRULE with UNTIL makes, (UNTIL - DTSTART) / period,
 * compared with max_vevent_rrule_occurrence where the walk could not count them.
 */
function checkUntilEstimates(comps: ICAL.Component[], max: number): void {
  for (const comp of comps) {
    const dtstart = comp.getFirstPropertyValue('dtstart') ?? comp.getFirstPropertyValue('due');
    if (!(dtstart instanceof ICAL.Time)) continue;
    for (const prop of comp.getAllProperties('rrule')) {
      const rule = prop.getFirstValue();
      if (!(rule instanceof ICAL.Recur) || !rule.until) continue;
      const seconds = rule.until.toUnixTime() - dtstart.toUnixTime();
      const estimate = Math.floor(seconds / ((PERIOD[rule.freq] ?? 1) * (rule.interval || 1))) + 1;
      if (estimate > max) {
        throw new DavError(403, `recurrence has about ${estimate} occurrences, more than ${max}`, PRE.object);
      }
    }
  }
}

function isUnbounded(set: RecurrenceSet): boolean {
  const rules = set.master?.getAllProperties('rrule') ?? [];
  return rules.some((rrule) => {
    const r = rrule.getFirstValue();
    return r instanceof ICAL.Recur && r.count === null && r.until === null;
  });
}

/**
 * Overall [start, end] of all instances; throws ExpansionLimitError past `limit` instances (or, with
 * `openOnLimit`, leaves the end open). A walk that uses up its budget leaves the end open too (`cut`):
 * the span only pre-selects items for queries, which then look at the item itself.
 */
function span(
  vcal: ICAL.Component,
  comps: ICAL.Component[],
  limit: number,
  openOnLimit = false,
): { start: number; end: number; cut: boolean } {
  const tz = new ZoneResolver(vcal);
  const budget = new WalkBudget();
  let start = Infinity;
  let end = -Infinity;
  let cut = false;
  const add = (inst: Instance): void => {
    const s = instanceSpan(inst, tz);
    start = Math.min(start, s.start);
    end = Math.max(end, s.end);
  };
  for (const set of recurrenceSets(comps, tz)) {
    const unbounded = isUnbounded(set);
    if (set.master) {
      try {
        for (const inst of ownInstances(set.master, set, tz, { limit, budget })) {
          add(inst);
          // For an unbounded rule the first occurrence gives the start; the end is open anyway.
          if (unbounded) break;
        }
      } catch (e) {
        if (!(e instanceof WalkLimitError) && !(e instanceof ExpansionLimitError && openOnLimit)) throw e;
        cut ||= e instanceof WalkLimitError;
        // DTSTART is an instance even when the walk stopped before reaching it.
        add({ comp: set.master, times: componentTimes(set.master, tz) });
        end = FOREVER;
      }
    }
    for (const override of set.overrides.values()) {
      for (const inst of ownInstances(override, set, tz, { limit, budget })) add(inst);
    }
    if (unbounded) end = FOREVER;
  }
  if (start === Infinity || start === -Infinity) return { start: 0, end: 0, cut };
  return { start: Math.max(start, -FOREVER), end: Math.min(end, FOREVER), cut };
}

/** UID, component type and span of a stored item (tolerant; throws IcalParseError if unparsable). */
export function describeCalendarItem(text: string): CalendarObjectInfo {
  const vcal = parseCalendar(text);
  const comps = objectComponents(vcal);
  const first = comps[0];
  if (!first) throw new IcalParseError('the calendar object holds no component');
  // An iTIP message (a scheduling inbox holds several with one UID: a request, replies) claims no UID.
  // A calendar object has no METHOD (RFC 4791 §4.1), though exports keep PUBLISH: those keep theirs.
  const method = String(vcal.getFirstPropertyValue('method') ?? 'PUBLISH').toUpperCase();
  const uid = method === 'PUBLISH' ? (uidOf(first) ?? '') : '';
  const component = first.name.toUpperCase();
  try {
    const { start, end } = span(vcal, comps, DEFAULT_SPAN_LIMIT, true);
    return { uid, component, start, end };
  } catch (e) {
    throw new IcalParseError(e instanceof Error ? e.message : String(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Whole-collection upload and download

export interface SplitCalendar {
  items: { uid: string; text: string }[];
  name?: string;
  description?: string;
  color?: string;
}

/** Names of the time zones a component (and its subcomponents) refers to. */
function referencedTzids(comp: ICAL.Component, out = new Set<string>()): Set<string> {
  for (const prop of comp.getAllProperties()) {
    const tzid = prop.getParameter('tzid');
    if (typeof tzid === 'string') out.add(tzid);
  }
  for (const sub of comp.getAllSubcomponents()) referencedTzids(sub, out);
  return out;
}

function calendarProp(vcal: ICAL.Component, name: string): string | undefined {
  const v = vcal.getFirstPropertyValue(name);
  return v === null || v === undefined ? undefined : String(v);
}

/**
 * Splits an uploaded calendar into one VCALENDAR per UID (Radicale's whole-collection PUT).
 *
 * The text is read one logical line at a time (repaired as it is read, never as one repaired copy)
 * and each top-level VEVENT/VTODO/... is parsed alone as soon as it ends and kept as its serialized
 * text only, so a 100,000-event import never holds the parse tree of the whole file, nor the objects
 * of all its lines (which took gigabytes and most of the time in collecting garbage); the items come
 * out as the whole-file parse made them. A component that cannot be read is refused only once the
 * whole text is known to be well formed, so the refusal is the one the whole-file parse gave.
 */
export function splitCalendar(text: string): SplitCalendar {
  const split = splitCalendarLazily(text);
  return { ...split, items: [...split.items] };
}

/** A split calendar whose items are made one at a time as they are read (and only once). */
export interface LazySplitCalendar extends Omit<SplitCalendar, 'items'> {
  items: Iterator<{ uid: string; text: string }> & Iterable<{ uid: string; text: string }>;
  /** How many items `items` gives. */
  count: number;
}

/**
 * splitCalendar with the text read (and every refusal made) at once, and each item's text made only
 * when `items` reaches it: a caller that hands the items on in batches holds one batch of them.
 */
export function splitCalendarLazily(text: string): LazySplitCalendar {
  const timezones = new Map<string, ICAL.Component>();
  const groups = new Map<string, Group>();
  let head: ICAL.Component | undefined;
  let calendars = 0;
  let failure: { error: unknown } | undefined;
  const take = (b: Block): void => {
    if (b.kind === 'vcalendar') {
      head ??= parseBlock(`BEGIN:VCALENDAR\r\n${b.header}END:VCALENDAR\r\n`);
      return;
    }
    const comp = parseBlock(b.text);
    if (comp.name === 'vtimezone') {
      const tzid = calendarProp(comp, 'tzid');
      if (tzid && !timezones.has(tzid)) timezones.set(tzid, comp);
      return;
    }
    let uid = uidOf(comp);
    if (!uid) {
      uid = randomUUID();
      comp.updatePropertyWithValue('uid', uid);
    }
    const own = `${ICAL.stringify.component(comp.toJSON() as unknown[], ICAL_DESIGN)}\r\n`;
    const group = groups.get(uid);
    if (group) {
      group.texts = ownString(`${group.texts}${own}`);
      for (const tzid of referencedTzids(comp)) if (!group.tzids.includes(tzid)) group.tzids.push(tzid);
    } else groups.set(uid, { texts: ownString(own), tzids: [...referencedTzids(comp)] });
  };
  eachTopLevelBlock(text, (b) => {
    if (b.kind === 'vcalendar') calendars++;
    if (failure) return;
    try {
      take(b);
    } catch (error) {
      failure = { error };
    }
  });
  if (calendars === 0) throw new IcalParseError('no VCALENDAR found');
  if (failure) throw failure.error;
  const first = head as ICAL.Component;
  function* items(): Generator<{ uid: string; text: string }> {
    // Each group is let go once its item is made: the components are not held twice.
    for (const [uid, g] of groups) {
      groups.delete(uid);
      yield { uid, text: groupText(first, g, timezones) };
    }
  }
  const result: LazySplitCalendar = { items: items(), count: groups.size };
  const name = calendarProp(first, 'x-wr-calname');
  const description = calendarProp(first, 'x-wr-caldesc');
  const color = calendarProp(first, 'x-apple-calendar-color');
  if (name !== undefined) result.name = name;
  if (description !== undefined) result.description = description;
  if (color !== undefined) result.color = color;
  return result;
}

const ICAL_DESIGN = ICAL.design.getDesignSet('vcalendar');

type Block =
  /** A VCALENDAR: its own property lines (its components are blocks of their own). */
  | { kind: 'vcalendar'; header: string }
  /** A component inside a VCALENDAR, as text (sanitized, one logical line per line). */
  | { kind: 'component'; text: string };

/**
 * The components of the sanitized text (`sanitizedLines`), one level inside each VCALENDAR, found by
 * their BEGIN/END lines and handed to `take` as each ends (a VCALENDAR after its components).
 * Unbalanced or misnamed END lines are refused, as the whole-file parse refused them; a line that
 * cannot be repaired anywhere in the text is refused before them, as the repair of the whole text
 * came first.
 */
function eachTopLevelBlock(text: string, take: (b: Block) => void): void {
  const lines = sanitizedLines(text);
  try {
    scanBlocks(lines, take);
  } catch (e) {
    // Read on only for a repair error further on, which comes first.
    for (let r = lines.next(); !r.done; r = lines.next());
    throw e;
  }
}

function scanBlocks(lines: Iterable<string>, take: (b: Block) => void): void {
  const open: string[] = [];
  let header = '';
  let block: string[] | undefined;
  let inCalendar = false;
  for (const line of lines) {
    const begin = /^BEGIN:(.+)$/i.exec(line);
    const end = begin ? null : /^END:(.+)$/i.exec(line);
    if (begin) {
      const name = (begin[1] ?? '').trim().toLowerCase();
      if (open.length === 0) {
        inCalendar = name === 'vcalendar';
        header = '';
      } else if (open.length === 1 && inCalendar) block = [];
      open.push(name);
    } else if (end) {
      const name = (end[1] ?? '').trim().toLowerCase();
      if (open.pop() !== name) throw new IcalParseError(`invalid iCalendar data: invalid ending "${line}"`);
    } else if (open.length === 1 && inCalendar) header += `${line}\r\n`;
    else if (open.length === 0 && line.trim() !== '')
      throw new IcalParseError(
        `invalid iCalendar data: a line outside any component: "${line.slice(0, 80)}"`,
      );
    block?.push(line);
    if (end && open.length === 0) {
      if (inCalendar) take({ kind: 'vcalendar', header });
      // A top-level component other than VCALENDAR is not part of any calendar: left out.
      inCalendar = false;
    } else if (end && block && open.length === 1) {
      take({ kind: 'component', text: `${block.join('\r\n')}\r\n` });
      block = undefined;
    }
  }
  if (open.length > 0)
    throw new IcalParseError(`invalid iCalendar data: ${open[0]?.toUpperCase()} is not closed`);
}

/** One component of sanitized text. */
function parseBlock(text: string): ICAL.Component {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(text);
  } catch (e) {
    throw new IcalParseError(`invalid iCalendar data: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(jcal) || typeof jcal[0] !== 'string') throw new IcalParseError('invalid iCalendar data');
  return new ICAL.Component(jcal as ConstructorParameters<typeof ICAL.Component>[0]);
}

/**
 * The components of one UID, kept small (a 100,000-event import holds 100,000 of them): their
 * texts one after the other, each with its CRLF, and the time zones they use, in the order first used.
 */
interface Group {
  texts: string;
  readonly tzids: string[];
}

/** One item: the upload's VERSION/PRODID/CALSCALE, the time zones its components use, the components. */
function groupText(head: ICAL.Component, group: Group, timezones: Map<string, ICAL.Component>): string {
  const vcal = new ICAL.Component('vcalendar');
  vcal.addPropertyWithValue('version', calendarProp(head, 'version') ?? '2.0');
  vcal.addPropertyWithValue('prodid', calendarProp(head, 'prodid') ?? PRODID);
  // METHOD stays out: a stored calendar object must not have one (RFC 4791 §4.1).
  const calscale = calendarProp(head, 'calscale');
  if (calscale !== undefined) vcal.addPropertyWithValue('calscale', calscale);
  for (const tzid of group.tzids) {
    const vtz = timezones.get(tzid);
    if (vtz) vcal.addSubcomponent(cloneComponent(vtz));
  }
  // The components' own texts go where the whole VCALENDAR's serialization would put them.
  const END = 'END:VCALENDAR';
  const shell = vcal.toString();
  return normalizeLineEndings(`${shell.slice(0, -END.length)}${group.texts}${END}`);
}
