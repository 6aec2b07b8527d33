/** Text helpers for LDAP: RFC 4515 filter escaping and RDN values of DNs (RFC 4514). */

/**
 * Escapes a value for use inside an LDAP search filter (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL become
 * `\XX`. Without this a login such as `*)(uid=*` would change the meaning of the filter (LDAP injection).
 */
export function escapeFilterValue(value: string): string {
  // eslint-disable-next-line no-control-regex -- NUL must be escaped too
  return value.replace(/[*()\\\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Python str.format() with positional `{0}` (and `{}`) only, as Radicale formats ldap_filter; `{{`/`}}`
 * are literal braces. Every placeholder receives `value`.
 */
export function formatFilter(template: string, value: string): string {
  return template.replace(/\{\{|\}\}|\{0?\}/g, (m) => (m === '{{' ? '{' : m === '}}' ? '}' : value));
}

/** The value of the first RDN of `dn`: `cn=Team A,ou=groups,dc=x` → `Team A`. */
export function firstRdnValue(dn: string): string {
  let end = 0;
  while (end < dn.length && dn[end] !== ',' && dn[end] !== '+') end += dn[end] === '\\' ? 2 : 1;
  const rdn = dn.slice(0, end);
  const eq = rdn.indexOf('=');
  return unescapeDnValue((eq < 0 ? rdn : rdn.slice(eq + 1)).trim());
}

function unescapeDnValue(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? '';
    if (c === '\\' && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '\\' && i + 1 < value.length) {
      bytes.push(...Buffer.from(value[i + 1] ?? '', 'utf8'));
      i += 1;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
