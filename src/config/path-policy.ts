/**
 * `[server] validate_path_value`: the characters a request path may contain, as Radicale 3.7.2+
 * checks them (400 otherwise). The structural checks (`..`, encoded slashes, control characters) are
 * made for every policy when the path is parsed (dav/href.ts); this adds the character classes, for
 * the request path (http/dispatch.ts) and a MOVE/COPY destination (dav/methods/move-copy.ts):
 *   none, minimal    nothing more (see docs/compatibility.md for minimal)
 *   unicode-letter   letters, marks and digits of any script, and `@ . - _ + ~` and space
 *   no-unicode       nothing above U+00FF
 *   strict           `[A-Za-z0-9@.\-_~]` (and the `/` between segments)
 */
const UNICODE_LETTER = /^[\p{L}\p{M}\p{N}@.\-_+~ ]*$/u;
// eslint-disable-next-line no-control-regex -- the whole Latin-1 range is allowed
const NO_UNICODE = /^[\u0000-\u00ff]*$/;
const STRICT = /^[A-Za-z0-9@.\-_~]*$/;

const RULES: Readonly<Record<string, { readonly re: RegExp; readonly what: string }>> = {
  'unicode-letter': { re: UNICODE_LETTER, what: 'only letters, digits and @ . - _ + ~ space' },
  'no-unicode': { re: NO_UNICODE, what: 'no character above U+00FF' },
  strict: { re: STRICT, what: 'only A-Z a-z 0-9 @ . - _ ~' },
};

/** Why a path's decoded segments break the policy (for a 400), or undefined when they do not. */
export function pathPolicyViolation(segments: readonly string[], policy: string): string | undefined {
  const rule = RULES[policy];
  if (rule === undefined) return undefined;
  const bad = segments.find((s) => !rule.re.test(s));
  if (bad === undefined) return undefined;
  return (
    `Path segment ${JSON.stringify(bad)} is not allowed: [server] validate_path_value = ${policy} ` +
    `allows ${rule.what}`
  );
}
