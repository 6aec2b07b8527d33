/**
 * One logical content line: `[group.]NAME *(;param) : value` (RFC 5545 §3.1, RFC 6350 §3.3).
 *
 * `parseContentLine` is lenient (it reads vCard 2.1 bare parameters and anything with a value
 * colon), for code that repairs or selects lines. `contentLineProblem` says why a line is not one
 * that Radicale's parser (vobject) reads, for validation. Both are single passes over the line.
 */

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

/** Offset of the value colon (colons inside quoted parameter values skipped), or -1. */
export function valueColon(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === ':' && !quoted) return i;
  }
  return -1;
}

/** Splits a parameter list on semicolons outside double quotes. */
export function splitParams(s: string): string[] {
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
  for (const part of paramParts) {
    const eq = part.indexOf('=');
    if (eq < 0) params.push({ name: '', raw: part.trim() });
    else params.push({ name: part.slice(0, eq).trim().toUpperCase(), raw: part.slice(eq + 1) });
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
  let start = 0;
  let current = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '"') {
      current += raw.slice(start, i);
      start = i + 1;
      quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      values.push(current + raw.slice(start, i));
      current = '';
      start = i + 1;
    }
  }
  values.push(current + raw.slice(start));
  return values;
}

/**
 * Parameters one content line may have. Real clients write fewer than a dozen (an ATTENDEE, an
 * Apple structured location); ical.js looks for the value colon again after each parameter, so a
 * line with a huge number of them costs the square of its length.
 */
export const MAX_PARAMS = 100;

const isNameChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  c === 0x2d ||
  c === 0x5f;

/** End of the name (letters, digits, `-`, and `_` as Lotus Notes writes) starting at `i`. */
function nameEnd(line: string, i: number): number {
  let j = i;
  while (j < line.length && isNameChar(line.charCodeAt(j))) j++;
  return j;
}

/** End of one parameter value at `i` (quoted or not), or -1 when a quote is not closed. */
function paramValueEnd(line: string, i: number): number {
  if (line[i] === '"') {
    const close = line.indexOf('"', i + 1);
    return close < 0 ? -1 : close + 1;
  }
  let j = i;
  while (j < line.length && !'";:,'.includes(line[j] as string)) j++;
  return j;
}

/** End of the parameters (the value colon's offset), or a reason the line cannot be read. */
function paramsEnd(line: string, start: number): number | string {
  let i = start;
  let count = 0;
  // vobject tolerates one stray `;` before the parameters (`NAME;:value`).
  if (line[i] === ';' && (line[i + 1] === ';' || line[i + 1] === ':')) i++;
  while (line[i] === ';') {
    if (++count > MAX_PARAMS) return `more than ${MAX_PARAMS} parameters`;
    const end = nameEnd(line, i + 1);
    if (end === i + 1) return 'a parameter without a name';
    i = end;
    while (line[i] === '=' || line[i] === ',') {
      const valueEnd = paramValueEnd(line, i + 1);
      if (valueEnd < 0) return 'a parameter value with an unclosed quote';
      i = valueEnd;
    }
  }
  return i;
}

/**
 * Why an unfolded line is not a content line as Radicale's parser reads it (the grammar of
 * RFC 5545 §3.1 with vobject's tolerances: `_` in names, parameters without a value, several `=`
 * values), or undefined when it is one.
 */
export function contentLineProblem(line: string): string | undefined {
  let i = nameEnd(line, 0);
  if (i === 0) return 'it does not start with a property name';
  if (line[i] === '.') {
    const end = nameEnd(line, i + 1);
    if (end === i + 1) return 'a group without a property name';
    i = end;
  }
  const end = paramsEnd(line, i);
  if (typeof end === 'string') return end;
  if (line[end] !== ':') return 'no colon after the property name and parameters';
  return undefined;
}
