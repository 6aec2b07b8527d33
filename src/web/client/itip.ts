/**
 * Invitations (iTIP messages, RFC 5546) for the web interface: reading a message from the schedule
 * inbox, and the attendee's answer, which is their own copy with their ATTENDEE's PARTSTAT changed
 * (the server sends the REPLY, RFC 6638 §3.2). Pure text work on content lines, no DOM.
 */
import { unfoldedLines } from './unfold.js';

export type PartStat = 'ACCEPTED' | 'TENTATIVE' | 'DECLINED';

interface Param {
  readonly name: string;
  /** The raw value as written (with quotes, if any). */
  readonly raw: string;
}

export interface ContentLine {
  readonly name: string;
  readonly params: readonly Param[];
  readonly value: string;
}

export interface When {
  /** YYYYMMDD or YYYYMMDDTHHMMSS[Z] as written. */
  readonly value: string;
  readonly tzid: string | null;
  readonly allDay: boolean;
}

export interface Person {
  readonly address: string;
  readonly name: string;
  readonly partstat: string;
}

export interface ItipMessage {
  readonly method: string;
  readonly component: string;
  readonly uid: string;
  readonly summary: string;
  readonly location: string;
  readonly organizer: Person | null;
  readonly attendees: readonly Person[];
  readonly start: When | null;
  /** RECURRENCE-ID of the message's first component: the message is about one instance. */
  readonly recurrenceId: When | null;
  readonly sequence: number;
  /** DTSTAMP as written (UTC), '' when missing. */
  readonly dtstamp: string;
}

/** Splits `NAME;P1=a;P2="b:c":value` (RFC 5545 §3.1); null for a line without a colon. */
export function parseContentLine(line: string): ContentLine | null {
  let i = 0;
  const readName = (): string => {
    const start = i;
    while (i < line.length && line[i] !== ';' && line[i] !== ':' && line[i] !== '=') i++;
    return line.slice(start, i);
  };
  const name = readName().toUpperCase();
  const params: Param[] = [];
  while (line[i] === ';') {
    i++;
    const pname = readName().toUpperCase();
    if (line[i] !== '=') return null;
    i++;
    const start = i;
    let quoted = false;
    while (i < line.length) {
      const c = line[i];
      if (c === '"') quoted = !quoted;
      else if (!quoted && (c === ';' || c === ':')) break;
      i++;
    }
    params.push({ name: pname, raw: line.slice(start, i) });
  }
  if (line[i] !== ':') return null;
  return { name, params, value: line.slice(i + 1) };
}

export function paramValue(l: ContentLine, name: string): string | null {
  const p = l.params.find((x) => x.name === name);
  if (p === undefined) return null;
  return p.raw.replace(/^"(.*)"$/, '$1');
}

function unescapeText(v: string): string {
  return v.replace(/\\([\\;,nN])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** A calendar user address compared without case and without its `mailto:` spelling. */
export function normalizeAddress(address: string): string {
  return address
    .trim()
    .replace(/^mailto:(\/\/)?/i, '')
    .toLowerCase();
}

function person(l: ContentLine): Person {
  return {
    address: l.value.trim(),
    name: paramValue(l, 'CN') ?? '',
    partstat: (paramValue(l, 'PARTSTAT') ?? 'NEEDS-ACTION').toUpperCase(),
  };
}

function when(l: ContentLine): When {
  const value = l.value.trim();
  return {
    value,
    tzid: paramValue(l, 'TZID'),
    allDay: (paramValue(l, 'VALUE') ?? '').toUpperCase() === 'DATE' || /^\d{8}$/.test(value),
  };
}

const SCHEDULED = new Set(['VEVENT', 'VTODO', 'VJOURNAL']);

/** The message's METHOD and what its first scheduled component says; null when it has none. */
export function parseItip(text: string): ItipMessage | null {
  let method = '';
  let depth: string[] = [];
  let current: ContentLine[] | null = null;
  let component = '';
  const components: { name: string; lines: ContentLine[] }[] = [];
  for (const { value } of unfoldedLines(text)) {
    const l = parseContentLine(value);
    if (l === null) continue;
    if (l.name === 'BEGIN') {
      const what = l.value.trim().toUpperCase();
      depth = [...depth, what];
      if (depth.length === 2 && SCHEDULED.has(what)) {
        current = [];
        component = what;
      }
      continue;
    }
    if (l.name === 'END') {
      if (depth.length === 2 && current !== null) {
        components.push({ name: component, lines: current });
        current = null;
      }
      depth = depth.slice(0, -1);
      continue;
    }
    if (depth.length === 1 && l.name === 'METHOD') method = l.value.trim().toUpperCase();
    else if (depth.length === 2 && current !== null) current.push(l);
  }
  const first = components.find((c) => !c.lines.some((l) => l.name === 'RECURRENCE-ID')) ?? components[0];
  if (first === undefined) return null;
  const get = (name: string): ContentLine | undefined => first.lines.find((l) => l.name === name);
  const organizer = get('ORGANIZER');
  const start = get('DTSTART') ?? get('DUE');
  const rid = get('RECURRENCE-ID');
  return {
    method,
    component: first.name,
    uid: get('UID')?.value.trim() ?? '',
    summary: unescapeText(get('SUMMARY')?.value ?? ''),
    location: unescapeText(get('LOCATION')?.value ?? ''),
    organizer: organizer === undefined ? null : person(organizer),
    attendees: first.lines.filter((l) => l.name === 'ATTENDEE').map(person),
    start: start === undefined ? null : when(start),
    recurrenceId: rid === undefined ? null : when(rid),
    sequence: Number(/^\d+$/.exec(get('SEQUENCE')?.value.trim() ?? '')?.[0] ?? 0),
    dtstamp: get('DTSTAMP')?.value.trim() ?? '',
  };
}

/** Folds a logical line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence. */
export function foldLine(line: string): string[] {
  const enc = new TextEncoder();
  const out: string[] = [];
  let cur = '';
  let bytes = 0;
  for (const ch of line) {
    const n = enc.encode(ch).length;
    const limit = out.length === 0 ? 75 : 74;
    if (bytes + n > limit) {
      out.push(out.length === 0 ? cur : ' ' + cur);
      cur = '';
      bytes = 0;
    }
    cur += ch;
    bytes += n;
  }
  out.push(out.length === 0 ? cur : ' ' + cur);
  return out;
}

function serialize(l: ContentLine): string {
  return l.name + l.params.map((p) => `;${p.name}=${p.raw}`).join('') + ':' + l.value;
}

/**
 * The calendar object with the PARTSTAT of every ATTENDEE that is one of `addresses` set to
 * `partstat` (RSVP dropped: the answer is given). With `recurrenceId`, only in the component of that
 * instance (an invitation to one occurrence); without, in every component. Other lines are kept as
 * written. Null when no ATTENDEE there is one of the addresses.
 */
export function setPartstat(
  text: string,
  addresses: readonly string[],
  partstat: PartStat,
  recurrenceId: string | null = null,
): string | null {
  const mine = new Set(addresses.map(normalizeAddress));
  const lines = unfoldedLines(text);
  const parsed = lines.map((l) => parseContentLine(l.value));
  // The RECURRENCE-ID of the component each line is in ('' for the master, null outside one).
  const ridOf: (string | null)[] = new Array<string | null>(lines.length).fill(null);
  let depth = 0;
  let begin = -1;
  parsed.forEach((l, i) => {
    if (l?.name === 'BEGIN') {
      depth++;
      if (depth === 2) begin = i;
    } else if (l?.name === 'END') {
      if (depth === 2 && begin >= 0) {
        const rid = parsed.slice(begin, i).find((x) => x?.name === 'RECURRENCE-ID');
        ridOf.fill(rid?.value.trim() ?? '', begin, i + 1);
        begin = -1;
      }
      depth--;
    }
  });
  let changed = false;
  const out: string[] = [];
  lines.forEach((line, i) => {
    const l = parsed[i];
    const rid = ridOf[i];
    const wanted = rid !== null && rid !== undefined && (recurrenceId === null || rid === recurrenceId);
    if (!wanted || !l || l.name !== 'ATTENDEE' || !mine.has(normalizeAddress(l.value))) {
      out.push(...line.raw);
      return;
    }
    changed = true;
    const params = l.params.filter((p) => p.name !== 'PARTSTAT' && p.name !== 'RSVP');
    out.push(...foldLine(serialize({ ...l, params: [...params, { name: 'PARTSTAT', raw: partstat }] })));
  });
  return changed ? out.join('\r\n') + '\r\n' : null;
}

/** The display name of a calendar user: their CN, else the address without `mailto:`. */
export function personLabel(p: Person): string {
  return p.name !== '' ? p.name : p.address.replace(/^mailto:/i, '');
}

/** A date-time of the message for people: local time for UTC values, else as written with its zone. */
export function formatWhen(w: When, locale?: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(w.value);
  if (m === null) return w.value;
  const [, y = '', mo = '', d = '', hh, mi, ss, z] = m;
  if (hh === undefined || w.allDay) {
    const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
    return (
      new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(date) + ' (all day)'
    );
  }
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(hh), Number(mi), Number(ss));
  if (z === 'Z') {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(utc);
  }
  const local = new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: 'UTC',
  }).format(utc);
  return w.tzid === null ? local : `${local} (${w.tzid})`;
}

/** What a REPLY message says, e.g. "accepted". */
export function partstatVerb(partstat: string): string {
  const verbs: Record<string, string> = {
    ACCEPTED: 'accepted',
    DECLINED: 'declined',
    TENTATIVE: 'tentatively accepted',
    DELEGATED: 'delegated',
    'NEEDS-ACTION': 'has not answered',
  };
  return verbs[partstat] ?? partstat.toLowerCase();
}

/** Whether message a was sent after b about the same object (by SEQUENCE, then DTSTAMP). */
export function isNewer(a: ItipMessage, b: ItipMessage): boolean {
  if (a.sequence !== b.sequence) return a.sequence > b.sequence;
  return a.dtstamp > b.dtstamp;
}
