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

/** Top-level components of a VCALENDAR text, each as its lines (CRLF-terminated). */
function topLevelBlocks(text: string): Blocks {
  const lines = physicalLines(text);
  const out: Blocks = { timezones: [], components: [] };
  let depth = 0;
  let block: string[] = [];
  let kind = '';
  for (const line of lines) {
    const begin = /^BEGIN:([A-Za-z0-9-]+)\s*$/i.exec(line);
    const end = /^END:([A-Za-z0-9-]+)\s*$/i.exec(line);
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
