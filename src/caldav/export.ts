/**
 * The whole-calendar export (GET of a calendar collection), built from the stored texts line by line:
 * every component inside each item's VCALENDAR is copied as stored, VTIMEZONEs once per TZID and
 * before the components that use them. No parsing: a 10,000-event export costs one pass over the text.
 */
import { PRODID } from './item.js';

interface Blocks {
  readonly timezones: { tzid: string; text: string }[];
  readonly components: string[];
}

/** Top-level components of a VCALENDAR text, each as its lines (CRLF-terminated). */
function topLevelBlocks(text: string): Blocks {
  const lines = text.split(/\r\n|\n|\r/);
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
  const i = block.findIndex((l) => /^TZID[:;]/i.test(l));
  if (i < 0) return '';
  let value = block[i] ?? '';
  for (let j = i + 1; j < block.length && /^[ \t]/.test(block[j] ?? ''); j++)
    value += (block[j] ?? '').slice(1);
  return value.slice(value.indexOf(':') + 1);
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

export function exportCalendar(
  items: readonly string[],
  props: { displayname?: string; description?: string },
): string {
  const head = ['BEGIN:VCALENDAR', 'VERSION:2.0', `PRODID:${PRODID}`];
  if (props.displayname !== undefined) head.push(foldLine(`X-WR-CALNAME:${escapeText(props.displayname)}`));
  if (props.description !== undefined) head.push(foldLine(`X-WR-CALDESC:${escapeText(props.description)}`));
  const seenTz = new Set<string>();
  const timezones: string[] = [];
  const components: string[] = [];
  for (const text of items) {
    const blocks = topLevelBlocks(text);
    for (const tz of blocks.timezones) {
      if (seenTz.has(tz.tzid)) continue;
      seenTz.add(tz.tzid);
      timezones.push(tz.text);
    }
    components.push(...blocks.components);
  }
  return `${head.join('\r\n')}\r\n${timezones.join('')}${components.join('')}END:VCALENDAR\r\n`;
}
