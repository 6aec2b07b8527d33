/**
 * vCard content lines at the text level, without ical.js: splitting into physical lines, grouping
 * them into logical lines (folded continuations and quoted-printable soft line breaks), and parsing
 * one logical line into group, name, parameters and value.
 *
 * Working on text lets us keep the client's original lines (address-data property selection, whole
 * address book split) and repair vCard 2.1 syntax before handing the text to ical.js.
 */

export interface LogicalLine {
  /** The physical lines this logical line was made of, exactly as sent (without line ending). */
  readonly physical: string[];
  /** The unfolded line (continuations joined, soft line breaks removed). */
  readonly unfolded: string;
}

export interface ContentParam {
  /** Upper-case parameter name, or '' for a vCard 2.1 bare parameter like `HOME`. */
  readonly name: string;
  /** The raw parameter text after `=` (or the whole bare parameter), quotes kept. */
  readonly raw: string;
}

export interface ContentLine {
  /** Upper-case group (`ITEM1` in `item1.EMAIL`) or ''. */
  readonly group: string;
  /** Upper-case property name without group. */
  readonly name: string;
  readonly params: ContentParam[];
  /** Everything before the value colon (group, name and parameters as sent). */
  readonly head: string;
  readonly value: string;
}

/** Splits text into physical lines, accepting CRLF, LF and lone CR. A trailing newline adds no line. */
export function physicalLines(text: string): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** True when a (possibly bare) parameter list announces quoted-printable encoding. */
function isQuotedPrintableHead(head: string): boolean {
  return /;\s*(ENCODING\s*=\s*)?QUOTED-PRINTABLE\s*(;|$)/i.test(head);
}

/**
 * Groups physical lines into logical lines. A line starting with space or tab continues the previous
 * one (RFC 6350 §3.2: the line break and one whitespace character are removed). In a
 * quoted-printable value (vCard 2.1), a line ending in `=` is a soft line break and the next line
 * continues the value without leading whitespace. Blank lines are dropped.
 */
export function logicalLines(text: string): LogicalLine[] {
  const out: { physical: string[]; unfolded: string }[] = [];
  let softBreak = false;
  for (const line of physicalLines(text)) {
    const last = out[out.length - 1];
    // A dangling soft break right before END:VCARD is a client bug; keep the card closed.
    if (last && softBreak && !/^END\s*:\s*VCARD\s*$/i.test(line)) {
      last.physical.push(line);
      last.unfolded = last.unfolded.slice(0, -1) + line;
    } else if (last && (line.startsWith(' ') || line.startsWith('\t'))) {
      last.physical.push(line);
      last.unfolded += line.slice(1);
    } else if (line.trim() === '') {
      softBreak = false;
      continue;
    } else {
      out.push({ physical: [line], unfolded: line });
    }
    const current = out[out.length - 1];
    softBreak =
      current !== undefined &&
      current.unfolded.endsWith('=') &&
      isQuotedPrintableHead(headOf(current.unfolded) ?? '');
  }
  return out;
}

/** The part of a content line before the value colon (colons inside quoted params skipped). */
function headOf(line: string): string | undefined {
  const colon = valueColon(line);
  return colon < 0 ? undefined : line.slice(0, colon);
}

function valueColon(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === ':' && !quoted) return i;
  }
  return -1;
}

/** Splits a parameter list on semicolons outside double quotes. */
function splitParams(s: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === ';' && !quoted) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** Parses one unfolded content line; undefined when it has no value colon. */
export function parseContentLine(line: string): ContentLine | undefined {
  const colon = valueColon(line);
  if (colon < 0) return undefined;
  const head = line.slice(0, colon);
  const [nameRaw = '', ...paramParts] = splitParams(head);
  const dot = nameRaw.lastIndexOf('.');
  const params: ContentParam[] = [];
  for (const p of paramParts) {
    const eq = p.indexOf('=');
    if (eq < 0) params.push({ name: '', raw: p.trim() });
    else params.push({ name: p.slice(0, eq).trim().toUpperCase(), raw: p.slice(eq + 1) });
  }
  return {
    group: dot < 0 ? '' : nameRaw.slice(0, dot).trim().toUpperCase(),
    name: nameRaw
      .slice(dot + 1)
      .trim()
      .toUpperCase(),
    params,
    head,
    value: line.slice(colon + 1),
  };
}

/** Parameter values of a raw parameter: comma-separated, surrounding quotes removed. */
export function paramValues(raw: string): string[] {
  const values: string[] = [];
  let quoted = false;
  let current = '';
  for (const ch of raw) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      values.push(current);
      current = '';
    } else current += ch;
  }
  values.push(current);
  return values;
}
