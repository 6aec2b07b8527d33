/**
 * configparser's BasicInterpolation, which Radicale's rights file reader (ConfigParser) applies:
 * `%%` is a literal `%`, `%(name)s` is the value of option `name` of the same section (or [DEFAULT]);
 * any other `%` is an error.
 */

const MAX_DEPTH = 10;

export function interpolate(
  value: string,
  lookup: (name: string) => string | undefined,
  what: string,
  depth = 0,
): string {
  if (depth > MAX_DEPTH) throw new Error(`${what}: interpolation nested too deeply`);
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? '';
    if (c !== '%') {
      out += c;
      continue;
    }
    const next = value[i + 1];
    if (next === '%') {
      out += '%';
      i++;
    } else if (next === '(') {
      const m = /^%\(([^)]+)\)s/.exec(value.slice(i));
      if (m === null)
        throw new Error(`${what}: bad interpolation syntax near ${JSON.stringify(value.slice(i))}`);
      const name = (m[1] ?? '').toLowerCase();
      const ref = lookup(name);
      if (ref === undefined)
        throw new Error(`${what}: interpolation refers to missing option ${JSON.stringify(name)}`);
      out += interpolate(ref, lookup, what, depth + 1);
      i += m[0].length - 1;
    } else {
      throw new Error(`${what}: '%' must be followed by '%' or '(' (write '%%' for a literal '%')`);
    }
  }
  return out;
}
