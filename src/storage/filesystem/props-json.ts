/**
 * `.Radicale.props` is written by Python's `json.dump(props, sort_keys=True)`: sorted keys,
 * `", "` / `": "` separators and ASCII-only output with `\uXXXX` escapes. The collection ETag
 * hashes this exact text, so it is reproduced byte for byte here.
 */
import { isTag } from '../props.js';
import type { Props } from '../types.js';

const SHORT: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    const code = s.charCodeAt(i);
    const short = SHORT[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || code > 0x7e)
      out += code === 0x7f ? ch : `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Python sorts str keys by code point, not by UTF-16 unit. */
function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** `json.dumps(props, sort_keys=True)` for a dict of strings. */
export function pythonJson(props: Props): string {
  const keys = Object.keys(props).sort(byCodePoint);
  return `{${keys.map((k) => `${pyString(k)}: ${pyString(props[k] ?? '')}`).join(', ')}}`;
}

/** Parses `.Radicale.props`; returns the props and the problems found (non-string values are dropped). */
export function parseProps(text: string): { props: Record<string, string>; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { props: {}, problems: ['invalid JSON'] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { props: {}, problems: ['not a JSON object'] };
  const props: Record<string, string> = {};
  const problems: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string') props[k] = v;
    else problems.push(`value of ${k} is not a string`);
  }
  if (props.tag !== undefined && !isTag(props.tag)) problems.push(`bad tag ${JSON.stringify(props.tag)}`);
  return { props, problems };
}
