/**
 * The whole-calendar export (GET of a calendar collection), built from the stored texts line by line:
 * every component inside each item's VCALENDAR is copied as stored, VTIMEZONEs once per TZID and
 * before the components that use them. No parsing: a 10,000-event export costs one pass over the text.
 */
import { valueColon } from '../content-lines/content-line.js';
import { physicalLines } from '../content-lines/line-endings.js';
import { logicalLines } from '../content-lines/unfold.js';
import { PRODID } from './item.js';

interface Blocks {
  readonly timezones: { tzid: string; text: string }[];
  readonly components: string[];
}

/** A line break other than CRLF (a lone CR or LF): the text is not as Almanac stores it. */
const OTHER_BREAK = /\r(?!\n)|(?<!\r)\n/;
const BEGIN = /^BEGIN:([A-Za-z0-9-]+)\s*$/i;
const END = /^END:([A-Za-z0-9-]+)\s*$/i;

/** Top-level components of a VCALENDAR text, each as its lines (CRLF-terminated). */
function topLevelBlocks(text: string): Blocks {
  return OTHER_BREAK.test(text) ? topLevelBlocksOfLines(text) : topLevelBlocksOfCrlf(text);
}

/**
 * The same blocks as `topLevelBlocksOfLines` for a text with CRLF line breaks only (every stored
 * item written by Almanac or Radicale): found in one pass with indexOf, and cut out of the text as
 * they are (their lines joined by CRLF are the very characters between them).
 */
function topLevelBlocksOfCrlf(text: string): Blocks {
  const out: Blocks = { timezones: [], components: [] };
  let depth = 0;
  let blockStart = 0;
  let kind = '';
  let tzid: string | undefined;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\r\n', pos);
    const lineEnd = nl < 0 ? text.length : nl;
    const next = nl < 0 ? text.length : nl + 2;
    const c = text.charCodeAt(pos) | 0x20;
    // Only lines starting with b or e can be BEGIN or END lines.
    const line = c === 0x62 || c === 0x65 ? text.slice(pos, lineEnd) : undefined;
    const begin = line === undefined ? null : BEGIN.exec(line);
    const end = line === undefined || begin ? null : END.exec(line);
    if (begin) depth++;
    if (begin && depth === 2) {
      kind = (begin[1] ?? '').toUpperCase();
      blockStart = pos;
      tzid = undefined;
    } else if (depth >= 2 && kind === 'VTIMEZONE' && tzid === undefined && (c === 0x74 || c === 0x54)) {
      tzid = plainTzid(text, pos, lineEnd, next);
    }
    if (end) {
      if (depth === 2) {
        // The block as lines, each CRLF-terminated (a last line without a break gets one).
        const body = nl < 0 ? `${text.slice(blockStart)}\r\n` : text.slice(blockStart, next);
        if (kind === 'VTIMEZONE') {
          const id = tzid !== undefined && tzid !== '' ? tzid : tzidOf(physicalLines(body));
          out.timezones.push({ tzid: id, text: body });
        } else out.components.push(body);
      }
      depth = Math.max(0, depth - 1);
    }
    pos = next;
  }
  return out;
}

/**
 * The TZID of a `TZID:` line that is not folded (the common form), '' for a TZID line of another form
 * (parameters, folded: then `tzidOf` reads the block), undefined for a line that is no TZID.
 */
function plainTzid(text: string, pos: number, lineEnd: number, next: number): string | undefined {
  if (lineEnd - pos < 4 || text.slice(pos, pos + 4).toUpperCase() !== 'TZID') return undefined;
  const after = text.charCodeAt(pos + 4);
  const folded = next < text.length && (text.charCodeAt(next) === 0x20 || text.charCodeAt(next) === 0x09);
  if (after === 0x3a && !folded) return text.slice(pos + 5, lineEnd);
  // `TZID;params:...`, a folded TZID line, or `TZID` continued on the next line: read it whole.
  return '';
}

/** Top-level components of a VCALENDAR text, each as its lines (CRLF-terminated). */
function topLevelBlocksOfLines(text: string): Blocks {
  const lines = physicalLines(text);
  const out: Blocks = { timezones: [], components: [] };
  let depth = 0;
  let block: string[] = [];
  let kind = '';
  for (const line of lines) {
    const begin = BEGIN.exec(line);
    const end = END.exec(line);
    if (begin) depth++;
    if (depth >= 2) block.push(line);
    if (begin && depth === 2) kind = (begin[1] ?? '').toUpperCase();
    if (end) {
      if (depth === 2) {
        const body = block.join('\r\n') + '\r\n';
        if (kind === 'VTIMEZONE') out.timezones.push({ tzid: tzidOf(block), text: body });
        else out.components.push(body);
        block = [];
      }
      depth = Math.max(0, depth - 1);
    }
  }
  return out;
}

/** The TZID of a VTIMEZONE block (folded continuation lines joined). */
function tzidOf(block: readonly string[]): string {
  const line = logicalLines(block.join('\r\n')).find((l) => /^TZID[:;]/i.test(l.unfolded));
  if (!line) return '';
  return line.unfolded.slice(valueColon(line.unfolded) + 1);
}

/** RFC 5545 TEXT escaping. */
function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

/** Folds a content line at 75 octets without splitting a UTF-8 character. */
export function foldLine(line: string): string {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const ch of line) {
    const n = Buffer.byteLength(ch);
    if (octets + n > (out.length === 0 ? 75 : 74)) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += n;
  }
  out.push(current);
  return out.join('\r\n ');
}

function exportHead(props: ExportProps): string {
  const head = ['BEGIN:VCALENDAR', 'VERSION:2.0', `PRODID:${PRODID}`];
  if (props.displayname !== undefined) head.push(foldLine(`X-WR-CALNAME:${escapeText(props.displayname)}`));
  if (props.description !== undefined) head.push(foldLine(`X-WR-CALDESC:${escapeText(props.description)}`));
  return `${head.join('\r\n')}\r\n`;
}

export interface ExportProps {
  displayname?: string;
  description?: string;
}

/**
 * One item's part of the export: its VTIMEZONEs not exported yet (placed before the components that
 * use them; RFC 5545 allows any order inside the VCALENDAR), then its components.
 */
function itemPart(text: string, seenTz: Set<string>): string {
  const blocks = topLevelBlocks(text);
  let out = '';
  for (const tz of blocks.timezones) {
    if (seenTz.has(tz.tzid)) continue;
    seenTz.add(tz.tzid);
    out += tz.text;
  }
  return out + blocks.components.join('');
}

export function exportCalendar(items: readonly string[], props: ExportProps): string {
  const seen = new Set<string>();
  return `${exportHead(props)}${items.map((t) => itemPart(t, seen)).join('')}END:VCALENDAR\r\n`;
}

/** The same export as a stream of chunks, for big calendars. */
export async function* exportCalendarStream(
  items: AsyncIterable<string>,
  props: ExportProps,
): AsyncIterable<string> {
  const seen = new Set<string>();
  let buf = exportHead(props);
  for await (const text of items) {
    buf += itemPart(text, seen);
    if (buf.length >= 65536) {
      yield buf;
      buf = '';
    }
  }
  yield `${buf}END:VCALENDAR\r\n`;
}
