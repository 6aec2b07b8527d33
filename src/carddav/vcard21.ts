/**
 * Repairs vCard 2.1 syntax that ical.js refuses, so that 2.1 cards (still sent by older phones and
 * Outlook exports) can be validated, indexed and filtered. Only lines that need it are rewritten:
 *
 * - bare parameters (`TEL;HOME;VOICE:`) become `TYPE=` parameters (`TEL;TYPE=HOME,VOICE:`);
 * - quoted-printable values are decoded (CHARSET honoured) and ENCODING/CHARSET dropped;
 * - `ENCODING=BASE64` becomes the 3.0 form `ENCODING=b` with the folding whitespace removed.
 */
import { TextDecoder } from 'node:util';
import { type ContentLine, type ContentParam, paramValues } from '../content-lines/content-line.js';

/** Bare 2.1 parameters that are encodings rather than types. */
const BARE_ENCODINGS = new Set(['QUOTED-PRINTABLE', 'BASE64', 'B', '8BIT', '7BIT']);

interface SortedParams {
  types: string[];
  encoding: string;
  charset: string;
  others: ContentParam[];
}

function sortParams(params: readonly ContentParam[]): SortedParams {
  const sorted: SortedParams = { types: [], encoding: '', charset: '', others: [] };
  for (const param of params) {
    if (param.name === '') {
      const bare = param.raw.toUpperCase();
      if (BARE_ENCODINGS.has(bare)) sorted.encoding = bare;
      else if (bare !== '') sorted.types.push(param.raw);
    } else if (param.name === 'TYPE') sorted.types.push(...paramValues(param.raw));
    else if (param.name === 'ENCODING') sorted.encoding = (paramValues(param.raw)[0] ?? '').toUpperCase();
    else if (param.name === 'CHARSET') sorted.charset = paramValues(param.raw)[0] ?? '';
    else sorted.others.push(param);
  }
  return sorted;
}

/** Whether ical.js would choke on (or misread) this line as sent. */
export function needsRepair(line: ContentLine): boolean {
  return line.params.some((param) => {
    if (param.name === '') return true;
    if (param.name !== 'ENCODING') return false;
    const enc = param.raw.toUpperCase();
    return enc === 'QUOTED-PRINTABLE' || enc === 'BASE64';
  });
}

/** Decodes a quoted-printable value (soft line breaks already removed) with the given charset. */
export function decodeQuotedPrintable(value: string, charset: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] ?? '';
    const hex = value.slice(i + 1, i + 3);
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return decoderFor(charset).decode(new Uint8Array(bytes));
}

function decoderFor(charset: string): TextDecoder {
  try {
    return new TextDecoder(charset.trim() || 'utf-8');
  } catch {
    // Unknown charset label: UTF-8 is what nearly every client means.
    return new TextDecoder('utf-8');
  }
}

function rebuildHead(line: ContentLine, sorted: SortedParams, encoding: string): string {
  let head = line.group ? `${line.group}.${line.name}` : line.name;
  if (sorted.types.length > 0) head += `;TYPE=${sorted.types.join(',')}`;
  if (encoding) head += `;ENCODING=${encoding}`;
  for (const param of sorted.others) head += `;${param.name}=${param.raw}`;
  return head;
}

/** Rewrites one content line into syntax ical.js accepts (see module comment). */
export function repairLine(line: ContentLine): string {
  const sorted = sortParams(line.params);
  let value = line.value;
  let encoding = '';
  if (sorted.encoding === 'QUOTED-PRINTABLE') {
    // A decoded line break must stay inside the value: escape it the vCard 3.0 way.
    value = decodeQuotedPrintable(value, sorted.charset).replace(/\r\n|\r|\n/g, '\\n');
  } else if (sorted.encoding === 'BASE64' || sorted.encoding === 'B') {
    value = value.replace(/\s+/g, '');
    encoding = 'b';
  } else if (sorted.charset) {
    sorted.others.push({ name: 'CHARSET', raw: sorted.charset });
  }
  return `${rebuildHead(line, sorted, encoding)}:${value}`;
}
