/**
 * Tolerant iCalendar parsing on top of ical.js. Clients send slightly broken data (control characters,
 * blank lines, Outlook's `TZID=... ` with trailing spaces); like Radicale we repair these before parsing,
 * while the stored text stays what the client sent.
 */
import ICAL from 'ical.js';

export class IcalParseError extends Error {}

// Control characters other than tab, CR and LF.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/** Repairs the text so that ical.js accepts what Radicale's workarounds accept. */
export function sanitizeIcal(text: string): string {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(CONTROL_CHARS, '')
    .split(/\r\n|\r|\n/)
    .filter((l) => l.trim() !== '');
  return lines.map(trimTzidSpaces).join('\r\n') + '\r\n';
}

/** Outlook writes `TZID=Name :` or `TZID:Name ` with trailing whitespace; strip it. */
function trimTzidSpaces(line: string): string {
  if (/^TZID:/i.test(line)) return line.trimEnd();
  return line.replace(/(;TZID=)("?)([^";:]*?)\s+\2(?=[;:])/gi, '$1$2$3$2');
}

/** Parses text that must hold exactly one VCALENDAR. Throws IcalParseError. */
export function parseCalendar(text: string): ICAL.Component {
  const roots = parseComponents(text);
  if (roots.length !== 1) throw new IcalParseError(`expected one VCALENDAR, found ${roots.length} objects`);
  const root = roots[0] as ICAL.Component;
  if (root.name !== 'vcalendar')
    throw new IcalParseError(`expected VCALENDAR, found ${root.name.toUpperCase()}`);
  return root;
}

/** Parses any number of top-level components. Throws IcalParseError. */
export function parseComponents(text: string): ICAL.Component[] {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(sanitizeIcal(text));
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

export function uidOf(comp: ICAL.Component): string | undefined {
  const v = comp.getFirstPropertyValue('uid');
  return v === null || v === undefined ? undefined : String(v);
}

/** A deep copy: ical.js's toJSON() hands out its internal arrays, so `new Component(c.toJSON())` shares them. */
export function cloneComponent(comp: ICAL.Component): ICAL.Component {
  return new ICAL.Component(structuredClone(comp.toJSON() as unknown[]));
}
