/**
 * Tolerant iCalendar parsing on top of ical.js. Clients send slightly broken data (control characters,
 * blank lines, Outlook's `TZID=... ` with trailing spaces); like Radicale we repair these before parsing,
 * while the stored text stays what the client sent.
 */
import ICAL from 'ical.js';
import { MAX_PARAMS, splitParams, valueColon } from '../content-lines/content-line.js';
import { eachLogicalLine } from '../content-lines/unfold.js';
import { withoutControlChars } from '../content-lines/line-endings.js';

/** iCalendar data that cannot be read or stored, with the CalDAV precondition it breaks. */
export class IcalParseError extends Error {
  constructor(
    message: string,
    readonly precondition: 'valid-calendar-data' | 'valid-calendar-object-resource' = 'valid-calendar-data',
  ) {
    super(message);
    this.name = 'IcalParseError';
  }
}

/** Properties whose value is a DATE-TIME unless it is a bare 8-digit DATE (vobject reads it so). */
const DATE_OR_DATE_TIME = new Set(['DTSTART', 'DTEND', 'DUE', 'RECURRENCE-ID']);

/**
 * Repairs the text so that ical.js accepts what Radicale's workarounds accept: BOM, control
 * characters and blank lines dropped, lines unfolded (ical.js takes long lines), and each line
 * repaired as `repairLine` says. One pass over the text; the properties named in `omit` are left
 * out.
 */
export function sanitizeIcal(text: string, omit?: ReadonlySet<string>): string {
  let out = '';
  for (const line of sanitizedLines(text, omit)) out += `${line}\r\n`;
  return out;
}

/**
 * The lines of `sanitizeIcal(text, omit)` (without their CRLF), one at a time: a whole-calendar upload
 * is read as it is repaired, never as one repaired copy.
 */
export function* sanitizedLines(text: string, omit?: ReadonlySet<string>): Generator<string> {
  const clean = withoutControlChars(text.replace(/^\uFEFF/, ''));
  for (const line of eachLogicalLine(clean)) {
    if (omit && line.head !== undefined && omit.has(propertyName(line.head))) continue;
    yield repairLine(line.unfolded);
  }
}

/** Upper-case property name of the part of a line before its value (group removed). */
function propertyName(head: string): string {
  const semi = head.indexOf(';');
  const name = semi < 0 ? head : head.slice(0, semi);
  return name.slice(name.indexOf('.') + 1).toUpperCase();
}

/**
 * One logical line made readable by ical.js, or returned as it is:
 * - Outlook writes `TZID=Name :` or `TZID:Name ` with trailing whitespace: trimmed;
 * - a parameter without a value (`SUMMARY;FOO:x`, read by vobject) is dropped;
 * - a line with more than MAX_PARAMS parameters (ical.js would take the square of its length) is
 *   refused with IcalParseError;
 * - an 8-digit value of DTSTART, DTEND, DUE or RECURRENCE-ID without VALUE=DATE
 *   (`DTSTART;TZID=Europe/Paris:20130903`, as Mozilla clients write) is a DATE, as vobject reads
 *   it; its TZID, meaningless for a date, is dropped.
 */
export function repairLine(line: string): string {
  if (/^TZID\s*:/i.test(line)) return line.trimEnd();
  if (!line.includes(';') && !/^[A-Z-]+:\d{8}\s*$/i.test(line)) return line;
  const colon = valueColon(line);
  if (colon < 0) return line;
  const [name = '', ...params] = splitParams(line.slice(0, colon));
  if (params.length > MAX_PARAMS)
    throw new IcalParseError(`a property with more than ${MAX_PARAMS} parameters`);
  const value = line.slice(colon + 1);
  let kept = params.filter((p) => p.includes('=')).map(trimTzid);
  const hasValueType = kept.some((p) => /^VALUE=/i.test(p));
  if (DATE_OR_DATE_TIME.has(name.toUpperCase()) && !hasValueType && /^\d{8}\s*$/.test(value)) {
    kept = [...kept.filter((p) => !/^TZID=/i.test(p)), 'VALUE=DATE'];
  } else if (kept.length === params.length && kept.every((p, i) => p === params[i])) {
    return line;
  }
  return `${[name, ...kept].join(';')}:${value}`;
}

/** `TZID=Name  ` or `TZID="Name  "` without the trailing whitespace. */
function trimTzid(param: string): string {
  if (!/^TZID=/i.test(param)) return param;
  const head = param.slice(0, 5);
  const value = param.slice(5).trimEnd();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return `${head}"${value.slice(1, -1).trimEnd()}"`;
  }
  return head + value;
}

/**
 * Parses text that must hold exactly one VCALENDAR. Throws IcalParseError. Properties named in
 * `omit` are left out (their values never joined): a filter that does not look at ATTACH need not
 * read a 9 MB attachment.
 */
export function parseCalendar(text: string, omit?: ReadonlySet<string>): ICAL.Component {
  const roots = parseComponents(text, omit);
  if (roots.length !== 1) throw new IcalParseError(`expected one VCALENDAR, found ${roots.length} objects`);
  const root = roots[0] as ICAL.Component;
  if (root.name !== 'vcalendar')
    throw new IcalParseError(`expected VCALENDAR, found ${root.name.toUpperCase()}`);
  return root;
}

/** Parses any number of top-level components. Throws IcalParseError. */
export function parseComponents(text: string, omit?: ReadonlySet<string>): ICAL.Component[] {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(sanitizeIcal(text, omit));
  } catch (e) {
    throw new IcalParseError(`invalid iCalendar data: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(jcal)) throw new IcalParseError('invalid iCalendar data');
  // A single component is returned as itself, several as an array of components.
  const list = (typeof jcal[0] === 'string' ? [jcal] : jcal) as unknown[];
  if (list.length === 0) throw new IcalParseError('no iCalendar object found');
  return list.map((j) => new ICAL.Component(j as ConstructorParameters<typeof ICAL.Component>[0]));
}

/** The components of a VCALENDAR other than VTIMEZONE. */
export function objectComponents(vcal: ICAL.Component): ICAL.Component[] {
  return vcal.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
}

/**
 * The UID, as a string of its own: ical.js's values are slices of the text it parsed, and a UID kept
 * (in an index, as a map key) would keep that whole text alive with it.
 */
export function uidOf(comp: ICAL.Component): string | undefined {
  const v = comp.getFirstPropertyValue('uid');
  return v === null || v === undefined ? undefined : ownString(String(v));
}

/**
 * A copy of `s` as one flat string that shares no memory with anything: V8 keeps a slice as a view
 * of the whole text it was cut from, and a concatenation (as ical.js serializes) as the tree of its
 * pieces, several times its size, until something reads it whole. The JSON round trip is exact
 * (lone surrogates included) and builds a new string.
 */
export function ownString(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** A deep copy: ical.js's toJSON() hands out its internal arrays, so `new Component(c.toJSON())` shares them. */
export function cloneComponent(comp: ICAL.Component): ICAL.Component {
  return new ICAL.Component(structuredClone(comp.toJSON() as unknown[]));
}
