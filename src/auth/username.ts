/**
 * Login name normalisation and validation, in Radicale's order (BaseAuth.login): case-fold, percent-decode,
 * strip the domain; then the name must be a safe principal path segment.
 */

export interface UsernameOptions {
  readonly lc_username: boolean;
  readonly uc_username: boolean;
  readonly urldecode_username: boolean;
  readonly strip_domain: boolean;
  /** [server] validate_user_value. */
  readonly policy: string;
}

/** Case-fold → urldecode → strip_domain. Returns undefined when percent-decoding fails. */
export function normaliseLogin(login: string, opts: UsernameOptions): string | undefined {
  let user = login;
  if (opts.lc_username) user = user.toLowerCase();
  if (opts.uc_username) user = user.toUpperCase();
  if (opts.urldecode_username) {
    try {
      user = decodeURIComponent(user);
    } catch {
      return undefined;
    }
  }
  if (opts.strip_domain) {
    const at = user.indexOf('@');
    if (at >= 0) user = user.slice(0, at);
  }
  return user;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MINIMAL_FORBIDDEN = /[:'"*?]/;
const STRICT = /^[A-Za-z0-9@.\-_]+$/;
/** 'unicode-letter': letters, marks and digits of any script plus a few ASCII separators. */
const UNICODE_LETTER = /^[\p{L}\p{M}\p{N}@.\-_+~ ]+$/u;
// eslint-disable-next-line no-control-regex -- the whole Latin-1 range is allowed
const NO_UNICODE = /^[\u0000-\u00ff]+$/;

/**
 * Why `user` is not acceptable, or undefined when it is. The structural rules (Radicale 3.8) always
 * apply because the name becomes a path segment; the character policy comes from validate_user_value.
 */
export function invalidUserReason(user: string, policy: string): string | undefined {
  if (user === '') return 'empty user name';
  if (user.includes('/')) return "contains '/'";
  if (user === '.' || user === '..') return "is '.' or '..'";
  if (CONTROL.test(user)) return 'contains a control character';
  if (user.includes(':')) return "contains ':'";
  if (user.startsWith('@') || user.endsWith('@')) return "starts or ends with '@'";
  if (user.indexOf('@') !== user.lastIndexOf('@')) return "contains more than one '@'";
  switch (policy) {
    case 'none':
      return undefined;
    case 'minimal':
      return MINIMAL_FORBIDDEN.test(user) ? `contains one of : ' " * ?` : undefined;
    case 'unicode-letter':
      return UNICODE_LETTER.test(user) ? undefined : 'contains a character that is not a letter or digit';
    case 'no-unicode':
      if (MINIMAL_FORBIDDEN.test(user)) return `contains one of : ' " * ?`;
      return NO_UNICODE.test(user) ? undefined : 'contains a character above U+00FF';
    case 'strict':
      return STRICT.test(user) ? undefined : 'contains a character outside [A-Za-z0-9@.-_]';
    default:
      return `unknown validate_user_value policy ${JSON.stringify(policy)}`;
  }
}
