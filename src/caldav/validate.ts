/**
 * What a calendar object must be for Radicale to read it back, checked on the text's component
 * structure (content-lines/components.ts) in one pass, each problem named with its line:
 *
 * - the structure: content-line syntax, BEGIN/END matching, one VCALENDAR;
 * - properties that may appear once per component (RFC 5545 §3.6, as vobject's serializer counts
 *   them), DTEND with DURATION (a zero DURATION is Lightning's quirk and allowed), DUE with DURATION;
 * - a VEVENT has a DTSTART; a VTIMEZONE has a TZID and a STANDARD or DAYLIGHT with a DTSTART;
 * - date, date-time, duration, period, UTC offset and RRULE values are what their property takes;
 * - per UID one main component, and overridden instances (RECURRENCE-ID) carry no recurrence rule
 *   of their own (Radicale's time-range code refuses anything else).
 *
 * Radicale answers 400 for all of these; Almanac answers 403 with the CalDAV precondition (RFC 4791
 * §5.3.2.1) and the reason.
 */
import ICAL from 'ical.js';
import { paramValues, parseContentLine, valueColon } from '../content-lines/content-line.js';
import {
  ContentError,
  readComponents,
  type ComponentNode,
  type ComponentText,
  type PropertyLine,
} from '../content-lines/components.js';
import { IcalParseError } from './parse.js';

const OBJECT = 'valid-calendar-object-resource';

/** Properties each component may hold once (vobject's knownChildren with a maximum of 1). */
const ONCE: Readonly<Record<string, readonly string[]>> = {
  VCALENDAR: ['CALSCALE', 'METHOD', 'VERSION', 'PRODID'],
  VEVENT: [
    'DTSTART',
    'CLASS',
    'CREATED',
    'DESCRIPTION',
    'GEO',
    'LAST-MODIFIED',
    'LOCATION',
    'ORGANIZER',
    'PRIORITY',
    'DTSTAMP',
    'SEQUENCE',
    'STATUS',
    'SUMMARY',
    'TRANSP',
    'UID',
    'URL',
    'RECURRENCE-ID',
    'DTEND',
    'DURATION',
  ],
  VTODO: [
    'DTSTART',
    'CLASS',
    'COMPLETED',
    'CREATED',
    'DESCRIPTION',
    'GEO',
    'LAST-MODIFIED',
    'LOCATION',
    'ORGANIZER',
    'PRIORITY',
    'DTSTAMP',
    'SEQUENCE',
    'STATUS',
    'SUMMARY',
    'UID',
    'URL',
    'RECURRENCE-ID',
    'DUE',
    'DURATION',
  ],
  VJOURNAL: [
    'DTSTART',
    'CLASS',
    'CREATED',
    'DESCRIPTION',
    'LAST-MODIFIED',
    'ORGANIZER',
    'DTSTAMP',
    'SEQUENCE',
    'STATUS',
    'SUMMARY',
    'UID',
    'URL',
    'RECURRENCE-ID',
  ],
  VFREEBUSY: ['DTSTART', 'CONTACT', 'DTEND', 'DURATION', 'ORGANIZER', 'DTSTAMP', 'UID', 'URL'],
  // VALARM is not counted: vobject's VALARM validation accepts anything.
  VALARM: [],
  VTIMEZONE: ['TZID', 'LAST-MODIFIED', 'TZURL'],
  STANDARD: ['DTSTART', 'RRULE'],
  DAYLIGHT: ['DTSTART', 'RRULE'],
};

/** Components whose values vobject reads (and refuses when unreadable). */
const KNOWN = new Set(Object.keys(ONCE));
const RECURRING = new Set(['VEVENT', 'VTODO', 'VJOURNAL']);

function fail(message: string, line: number, precondition?: typeof OBJECT): never {
  throw new IcalParseError(`line ${line}: ${message}`, precondition);
}

const valueOf = (property: PropertyLine): string =>
  property.line.unfolded.slice(valueColon(property.line.unfolded) + 1).trim();

function valueParam(property: PropertyLine): string {
  const param = parseContentLine(`${property.line.head ?? ''}:`)?.params.find((x) => x.name === 'VALUE');
  return param ? (paramValues(param.raw)[0] ?? '').trim().toUpperCase() : '';
}

// ---------------------------------------------------------------------------------------------
// Values

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isDate(v: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && !leap ? 28 : (DAYS[month - 1] ?? 0);
  return month >= 1 && month <= 12 && day >= 1 && day <= days;
}

function isDateTime(v: string): boolean {
  // vobject reads the first 15 characters and a Z after them, and ignores the rest.
  const m = /^(\d{8})T(\d{2})(\d{2})(\d{2})/i.exec(v);
  return !!m && isDate(m[1] ?? '') && Number(m[2]) <= 23 && Number(m[3]) <= 59 && Number(m[4]) <= 60;
}

const isDuration = (v: string): boolean =>
  /^[+-]?P(?:\d+W)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$/i.test(v) && /\d/.test(v);

function isPeriod(v: string): boolean {
  const slash = v.indexOf('/');
  return (
    slash > 0 &&
    isDateTime(v.slice(0, slash)) &&
    (isDateTime(v.slice(slash + 1)) || isDuration(v.slice(slash + 1)))
  );
}

const isUtcOffset = (v: string): boolean => /^[+-]\d{4}(\d{2})?$/.test(v);

function isRecur(v: string): boolean {
  try {
    return ICAL.Recur.fromString(v).freq !== null && /(^|;)FREQ=/i.test(v);
  } catch {
    return false;
  }
}

const VALUE_CHECKED = new Set([
  'DTSTART',
  'DTEND',
  'DUE',
  'RECURRENCE-ID',
  'EXDATE',
  'RDATE',
  'CREATED',
  'DTSTAMP',
  'LAST-MODIFIED',
  'COMPLETED',
  'DURATION',
  'TRIGGER',
  'FREEBUSY',
  'TZOFFSETFROM',
  'TZOFFSETTO',
  'RRULE',
  'EXRULE',
]);

/** What is wrong with a property's value, or undefined (only the properties vobject reads). */
function valueProblem(property: PropertyLine): string | undefined {
  if (!VALUE_CHECKED.has(property.name)) return undefined;
  const value = valueOf(property);
  const type = valueParam(property);
  const each = (ok: (v: string) => boolean, what: string): string | undefined => {
    const bad = value.split(',').find((v) => !ok(v.trim()));
    return bad === undefined ? undefined : `${property.name} value "${bad.slice(0, 40)}" is not ${what}`;
  };
  switch (property.name) {
    case 'DTSTART':
    case 'DTEND':
    case 'DUE':
    case 'RECURRENCE-ID':
      if (type === 'DATE') return isDate(value.slice(0, 8)) ? undefined : each(isDate, 'a DATE');
      return value.length === 8 ? each(isDate, 'a DATE') : each(isDateTime, 'a DATE-TIME');
    case 'EXDATE':
    case 'RDATE':
      if (type === 'DATE') return each(isDate, 'a DATE');
      if (type === 'PERIOD')
        return `${property.name};VALUE=PERIOD is not supported (Radicale cannot read it)`;
      return each(isDateTime, 'a DATE-TIME (a DATE needs VALUE=DATE)');
    case 'CREATED':
    case 'DTSTAMP':
    case 'LAST-MODIFIED':
    case 'COMPLETED':
      return each(isDateTime, 'a DATE-TIME');
    case 'DURATION':
      return each(isDuration, 'a DURATION');
    case 'TRIGGER':
      return type === 'DATE-TIME' ? each(isDateTime, 'a DATE-TIME') : each(isDuration, 'a DURATION');
    case 'FREEBUSY':
      return each(isPeriod, 'a PERIOD');
    case 'TZOFFSETFROM':
    case 'TZOFFSETTO':
      return each(isUtcOffset, 'a UTC offset');
    case 'RRULE':
    case 'EXRULE':
      return isRecur(value) ? undefined : `${property.name} "${value.slice(0, 60)}" is not a recurrence rule`;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Components

function named(comp: ComponentNode, name: string): PropertyLine[] {
  return comp.properties.filter((p) => p.name === name);
}

function isZeroDuration(property: PropertyLine): boolean {
  return /^[+-]?P(?:0+W)?(?:0+D)?(?:T(?:0+H)?(?:0+M)?(?:0+S)?)?$/i.test(valueOf(property));
}

function checkComponent(comp: ComponentNode): void {
  if (!KNOWN.has(comp.name)) return;
  const counts = new Map<string, number>();
  for (const property of comp.properties) {
    const problem = valueProblem(property);
    if (problem !== undefined) fail(problem, property.line.lineNumber);
    counts.set(property.name, (counts.get(property.name) ?? 0) + 1);
    if (counts.get(property.name) === 2 && (ONCE[comp.name] ?? []).includes(property.name)) {
      fail(
        `${comp.name} of line ${comp.lineNumber} has more than one ${property.name}`,
        property.line.lineNumber,
      );
    }
  }
  const has = (name: string): boolean => counts.has(name);
  const duration = named(comp, 'DURATION')[0];
  if (comp.name === 'VEVENT' && has('DTEND') && duration && !isZeroDuration(duration)) {
    fail('a VEVENT cannot have both DTEND and DURATION', duration.line.lineNumber);
  }
  if (comp.name === 'VTODO' && has('DUE') && duration) {
    fail('a VTODO cannot have both DUE and DURATION', duration.line.lineNumber);
  }
  if (comp.name === 'VEVENT' && !has('DTSTART')) {
    fail('VEVENT without DTSTART', comp.lineNumber);
  }
  if (comp.name === 'VTIMEZONE') {
    if (!has('TZID')) fail('VTIMEZONE without TZID', comp.lineNumber);
    if (!comp.components.some((c) => c.name === 'STANDARD' || c.name === 'DAYLIGHT')) {
      fail('VTIMEZONE without a STANDARD or DAYLIGHT component', comp.lineNumber);
    }
  }
  if ((comp.name === 'STANDARD' || comp.name === 'DAYLIGHT') && !has('DTSTART')) {
    fail(`${comp.name} without DTSTART`, comp.lineNumber);
  }
  for (const sub of comp.components) checkComponent(sub);
}

const RULES = new Set(['RRULE', 'RDATE', 'EXRULE', 'EXDATE']);

/** What the recurrence-set check needs of one object component (see checkRecurrenceRecords). */
interface RecurrenceRecord {
  /** `uid:<value>`, or `none:<n>` for a component without UID (its own object). */
  readonly key: string;
  readonly name: string;
  readonly lineNumber: number;
  readonly isMain: boolean;
  /** An override's own RRULE/RDATE/EXRULE/EXDATE, if any. */
  readonly rule?: { readonly name: string; readonly lineNumber: number };
}

function recurrenceRecord(comp: ComponentNode, index: number): RecurrenceRecord {
  const uid = named(comp, 'UID')[0];
  const isMain = named(comp, 'RECURRENCE-ID').length === 0;
  const rule = isMain ? undefined : comp.properties.find((p) => RULES.has(p.name));
  return {
    key: uid ? `uid:${valueOf(uid)}` : `none:${index}`,
    name: comp.name,
    lineNumber: comp.lineNumber,
    isMain,
    ...(rule ? { rule: { name: rule.name, lineNumber: rule.line.lineNumber } } : {}),
  };
}

/**
 * Per UID: one main component, and overridden instances without rules of their own. Components
 * without UID are each their own object (a whole-calendar upload gives each one a new UID).
 */
export function checkRecurrenceSets(objects: readonly ComponentNode[]): void {
  checkRecurrenceRecords(objects.map(recurrenceRecord));
}

function checkRecurrenceRecords(records: readonly RecurrenceRecord[]): void {
  const byUid = new Map<string, RecurrenceRecord[]>();
  for (const r of records) {
    const group = byUid.get(r.key);
    if (group) group.push(r);
    else byUid.set(r.key, [r]);
  }
  for (const comps of byUid.values()) {
    let main: RecurrenceRecord | undefined;
    for (const comp of comps) {
      if (comp.isMain) {
        if (main)
          fail(`a second main ${comp.name} for the UID of line ${main.lineNumber}`, comp.lineNumber, OBJECT);
        main = comp;
        continue;
      }
      if (comp.rule) {
        fail(
          `an overridden instance (RECURRENCE-ID) cannot have its own ${comp.rule.name}`,
          comp.rule.lineNumber,
          OBJECT,
        );
      }
    }
    const first = comps[0];
    if (!main && first) {
      fail(
        `${first.name} with RECURRENCE-ID but no main component (the one without RECURRENCE-ID)`,
        first.lineNumber,
        OBJECT,
      );
    }
  }
}

/** The object components of VCALENDARs: everything but VTIMEZONE that Radicale groups by UID. */
export function objectNodes(roots: readonly ComponentNode[]): ComponentNode[] {
  return roots.flatMap((r) => r.components.filter((c) => RECURRING.has(c.name)));
}

/**
 * Reads the component structure of calendar text and checks it (see the module comment). `upload`
 * allows several VCALENDARs (a whole-calendar upload); an object must be exactly one. Throws
 * IcalParseError with the precondition the problem breaks.
 */
export function checkCalendarText(text: string, opts: { upload?: boolean } = {}): ComponentText {
  let parsed: ComponentText;
  try {
    parsed = readComponents(text);
  } catch (e) {
    if (e instanceof ContentError) throw new IcalParseError(e.message);
    throw e;
  }
  const roots = parsed.components;
  if (roots.length === 0) throw new IcalParseError('no VCALENDAR found');
  const other = roots.find((r) => r.name !== 'VCALENDAR');
  if (other) fail(`expected VCALENDAR, found ${other.name}`, other.lineNumber);
  const second = roots[1];
  if (!opts.upload && second)
    fail('a calendar object holds one VCALENDAR, this is the second', second.lineNumber);
  for (const root of roots) checkComponent(root);
  checkRecurrenceSets(objectNodes(roots));
  return parsed;
}

/** Physical lines of a big upload read (and checked) at once: whole components of one VCALENDAR. */
const UPLOAD_CHUNK_LINES = 4000;
const LINE_BREAK = /\r\n|\n|\r/g;

/**
 * checkCalendarText(text, { upload: true }) for a whole-calendar upload, a few thousand lines at a
 * time: the content-line tree of a 100,000-event file at once took a gigabyte. The text is cut before
 * a component that starts inside a VCALENDAR, each piece is read with the file's own line numbers
 * (wrapped in a VCALENDAR where it starts or ends inside one), and the recurrence sets are checked
 * across pieces from a small record per component. Whenever a piece is refused, the whole text is
 * checked at once, so a refusal is exactly the one the whole-text check gives (and a cut in the wrong
 * place, e.g. a folded BEGIN line, costs only memory). One leniency: a VCALENDAR property that may
 * appear once, written again thousands of lines further on (between events), is not seen twice.
 */
export function checkCalendarUpload(text: string): void {
  try {
    checkUploadInPieces(text);
  } catch (e) {
    if (!(e instanceof IcalParseError) && !(e instanceof ContentError)) throw e;
    checkCalendarText(text, { upload: true });
  }
}

function checkUploadInPieces(text: string): void {
  const records: RecurrenceRecord[] = [];
  let calendars = 0;
  let depth = 0;
  let line = 0;
  let pieceStart = 0;
  let pieceLine = 1;
  let pieceOpensInside = false;
  const check = (end: number, closesInside: boolean): void => {
    const body = text.slice(pieceStart, end);
    const piece = `${pieceOpensInside ? 'BEGIN:VCALENDAR\r\n' : ''}${body}${closesInside ? '\r\nEND:VCALENDAR\r\n' : ''}`;
    const roots = readComponents(piece, { firstLine: pieceLine - (pieceOpensInside ? 1 : 0) }).components;
    const other = roots.find((r) => r.name !== 'VCALENDAR');
    if (other) fail(`expected VCALENDAR, found ${other.name}`, other.lineNumber);
    for (const root of roots) checkComponent(root);
    for (const comp of objectNodes(roots)) records.push(recurrenceRecord(comp, records.length));
  };
  let at = 0;
  while (at < text.length) {
    LINE_BREAK.lastIndex = at;
    const found = LINE_BREAK.exec(text);
    const end = found ? found.index : text.length;
    const next = found ? end + found[0].length : text.length;
    line++;
    const head = text.slice(at, Math.min(end, at + 6)).toUpperCase();
    if (head === 'BEGIN:') {
      if (depth === 1 && line - pieceLine >= UPLOAD_CHUNK_LINES) {
        check(at, true);
        pieceStart = at;
        pieceLine = line;
        pieceOpensInside = true;
      }
      if (depth === 0) calendars++;
      depth++;
    } else if (head.startsWith('END:')) depth = Math.max(0, depth - 1);
    at = next;
  }
  check(text.length, false);
  if (calendars === 0) throw new IcalParseError('no VCALENDAR found');
  checkRecurrenceRecords(records);
}
