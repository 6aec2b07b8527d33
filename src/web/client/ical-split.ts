/**
 * Splits an uploaded .ics or .vcf file into one DAV item per object, so a file can be added to an
 * existing collection with one PUT per item. Pure text work on content lines (RFC 5545 §3.1 /
 * RFC 6350 §3.2): folded lines are kept byte-for-byte, only the unfolded form is inspected.
 */
import { unfoldedLines, type UnfoldedLine as Line } from './unfold.js';

export type FileKind = 'calendar' | 'addressbook';

export interface SplitItem {
  readonly uid: string;
  readonly text: string;
}

/** Property name of a content line, upper-cased, without parameters or group (`item1.TEL;TYPE=x:` → TEL). */
function propName(value: string): string {
  const m = /^([A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)[;:]/.exec(value);
  return (m?.[2] ?? '').toUpperCase();
}

function propValue(value: string): string {
  // The value starts after the first colon that is not inside a quoted parameter value.
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    else if (c === ':' && !quoted) return value.slice(i + 1);
  }
  return '';
}

const isBegin = (l: Line, name?: string): boolean =>
  propName(l.value) === 'BEGIN' && (name === undefined || propValue(l.value).toUpperCase() === name);
const isEnd = (l: Line): boolean => propName(l.value) === 'END';

/** What a file holds, judged from its first BEGIN line. */
export function detectKind(text: string): FileKind | null {
  const first = unfoldedLines(text).find((l) => isBegin(l));
  if (first === undefined) return null;
  const what = propValue(first.value).toUpperCase();
  if (what === 'VCALENDAR') return 'calendar';
  if (what === 'VCARD') return 'addressbook';
  return null;
}

/** A top-level calendar property such as X-WR-CALNAME (the name Radicale gives an uploaded calendar). */
export function calendarProperty(text: string, name: string): string | null {
  let depth = 0;
  for (const l of unfoldedLines(text)) {
    if (isBegin(l)) depth++;
    else if (isEnd(l)) depth--;
    else if (depth === 1 && propName(l.value) === name) return unescapeText(propValue(l.value));
  }
  return null;
}

function unescapeText(v: string): string {
  return v.replace(/\\([nN,;\\])/g, (_m, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** A random RFC 4122 v4 UUID; crypto.randomUUID is missing outside secure contexts (plain http). */
export function randomUuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Component {
  lines: Line[];
  uid: string | null;
}

/** Top-level components of every VCALENDAR (or every VCARD) in the file, with their UID. */
function components(lines: readonly Line[], wrapper: string | null): { header: Line[]; comps: Component[] } {
  const header: Line[] = [];
  const comps: Component[] = [];
  let depth = 0;
  let current: Component | null = null;
  // Depth at which objects sit: 1 inside a VCALENDAR, 0 for bare vCards.
  const top = wrapper === null ? 0 : 1;
  for (const l of lines) {
    if (isBegin(l)) {
      if (depth === top) current = { lines: [], uid: null };
      depth++;
    }
    if (current !== null) {
      current.lines.push(l);
      if (depth === top + 1 && propName(l.value) === 'UID') current.uid = propValue(l.value).trim() || null;
    } else if (depth === 1 && wrapper !== null && !isBegin(l) && !isEnd(l)) {
      header.push(l);
    }
    if (isEnd(l)) {
      depth = Math.max(0, depth - 1);
      if (depth === top && current !== null) {
        comps.push(current);
        current = null;
      }
    }
  }
  return { header, comps };
}

const rawText = (lines: readonly Line[]): string => lines.flatMap((l) => l.raw).join('\r\n');

/** Adds a UID to an object that has none (the server needs one per item). */
function withUid(c: Component, uid: string): Line[] {
  if (c.uid !== null) return c.lines;
  const uidLine: Line = { value: `UID:${uid}`, raw: [`UID:${uid}`] };
  return [c.lines[0] as Line, uidLine, ...c.lines.slice(1)];
}

/**
 * One item per UID: a VCALENDAR with the file's calendar properties, every VTIMEZONE and all the
 * components sharing the UID (a recurring event and its overridden instances stay together).
 */
export function splitCalendar(text: string): SplitItem[] {
  const { header, comps } = components(unfoldedLines(text), 'VCALENDAR');
  const timezones = comps.filter((c) => isBegin(c.lines[0] as Line, 'VTIMEZONE'));
  const groups = new Map<string, Line[]>();
  for (const c of comps) {
    if (isBegin(c.lines[0] as Line, 'VTIMEZONE')) continue;
    const uid = c.uid ?? randomUuid();
    groups.set(uid, [...(groups.get(uid) ?? []), ...withUid(c, uid)]);
  }
  const calHeader = header.filter((l) => !['X-WR-CALNAME', 'X-WR-CALDESC'].includes(propName(l.value)));
  if (!calHeader.some((l) => propName(l.value) === 'VERSION')) calHeader.unshift(line('VERSION:2.0'));
  if (!calHeader.some((l) => propName(l.value) === 'PRODID'))
    calHeader.unshift(line('PRODID:-//Almanac//Web//EN'));
  return [...groups].map(([uid, lines]) => ({
    uid,
    text:
      rawText([
        line('BEGIN:VCALENDAR'),
        ...calHeader,
        ...timezones.flatMap((t) => t.lines),
        ...lines,
        line('END:VCALENDAR'),
      ]) + '\r\n',
  }));
}

/** One item per vCard. */
export function splitVcards(text: string): SplitItem[] {
  const { comps } = components(unfoldedLines(text), null);
  return comps
    .filter((c) => isBegin(c.lines[0] as Line, 'VCARD'))
    .map((c) => {
      const uid = c.uid ?? randomUuid();
      return { uid, text: rawText(withUid(c, uid)) + '\r\n' };
    });
}

function line(value: string): Line {
  return { value, raw: [value] };
}

/** A file name for an item: the UID when it is URL-safe, else a fresh UUID. */
export function itemName(uid: string, kind: FileKind): string {
  const ext = kind === 'calendar' ? '.ics' : '.vcf';
  return /^[A-Za-z0-9_@.-]{1,100}$/.test(uid) && !uid.startsWith('.') ? uid + ext : randomUuid() + ext;
}
