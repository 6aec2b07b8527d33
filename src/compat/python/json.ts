/**
 * Python's `json.dumps(d, sort_keys=True)` for a dict of strings, byte for byte: sorted keys (by code
 * point), `", "` / `": "` separators and ASCII-only output with `\uXXXX` escapes. Radicale writes
 * `.Radicale.props` so, and the collection ETag hashes this exact text (both backends compute it).
 */

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
export function pythonJson(props: Readonly<Record<string, string>>): string {
  const keys = Object.keys(props).sort(byCodePoint);
  return `{${keys.map((k) => `${pyString(k)}: ${pyString(props[k] ?? '')}`).join(', ')}}`;
}
