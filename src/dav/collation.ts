/**
 * The collations of text matching (CalDAV text-match, RFC 4791 §7.5; CardDAV text-match, RFC 6352
 * §8.3), written once for both: `i;octet` and `i;ascii-casemap` (RFC 4790 §9.3, §9.2) and
 * `i;unicode-casemap` (RFC 5051). Each turns a string into the form compared. A parsed text-match and
 * its test on a property's values are shared too; the plugins own the element that names a collation,
 * its default and the precondition of an unsupported one.
 *
 * RFC 5051 §2 maps each character to its titlecase, then replaces it by its full compatibility
 * decomposition, every character of which goes through the same two steps again: case mapping
 * applies to what the decomposition yields. Here that is NFKD first, then case mapping: lower, upper,
 * lower, so that `ς`, `σ` and `Σ` are one letter and `ẞ` (whose lower case is `ß`) is `ss` as `ß` is.
 * JavaScript has no titlecase mapping; upper case is it for every letter but the digraphs and
 * Georgian, whose cases RFC 5051 keeps apart and this folds together. In the other order (case
 * first) a decomposition's capital is never folded: U+1D2C (ᴬ) would stay `A` and not match `a`,
 * U+03F2 (ϲ) would end as `ς` and not match `σ`; 665 code points fold differently in the two orders.
 */

export type Collation = 'i;ascii-casemap' | 'i;unicode-casemap' | 'i;octet';

/** The collations supported, as announced in supported-collation-set. */
export const COLLATIONS: readonly Collation[] = ['i;ascii-casemap', 'i;unicode-casemap', 'i;octet'];

export type MatchType = 'equals' | 'contains' | 'starts-with' | 'ends-with';

export function isCollation(name: string): name is Collation {
  return (COLLATIONS as readonly string[]).includes(name);
}

// eslint-disable-next-line no-control-regex -- the whole ASCII range
const ASCII = /^[\u0000-\u007f]*$/;

/** The form of `text` that the collation compares octet by octet. */
export function collationKey(text: string, collation: Collation): string {
  switch (collation) {
    case 'i;octet':
      return text;
    case 'i;ascii-casemap':
      return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
    case 'i;unicode-casemap':
      // ASCII text decomposes to itself and folds as ASCII: the common case costs one scan.
      return ASCII.test(text)
        ? text.toLowerCase()
        : text.normalize('NFKD').toLowerCase().toUpperCase().toLowerCase();
  }
}

/** A test of values against `needle` in the collation, the needle prepared once. */
export function textMatcher(
  needle: string,
  collation: Collation,
  matchType: MatchType = 'contains',
): (value: string) => boolean {
  const key = collationKey(needle, collation);
  switch (matchType) {
    case 'equals':
      return (value) => collationKey(value, collation) === key;
    case 'starts-with':
      return (value) => collationKey(value, collation).startsWith(key);
    case 'ends-with':
      return (value) => collationKey(value, collation).endsWith(key);
    case 'contains':
      return (value) => collationKey(value, collation).includes(key);
  }
}

/**
 * A text-match element as CalDAV (RFC 4791 §9.7.5) and CardDAV (RFC 6352 §10.5.4) read it: the text
 * looked for, its collation, how it must match (CalDAV's is always `contains`, a substring) and
 * whether negate-condition is set.
 */
export interface TextMatch {
  text: string;
  collation: Collation;
  matchType: MatchType;
  negate: boolean;
}

/** Text-match on candidate strings: whether any matches, negate-condition applied to the whole test. */
export function textMatches(candidates: readonly string[], tm: TextMatch): boolean {
  return candidates.some(textMatcher(tm.text, tm.collation, tm.matchType)) !== tm.negate;
}
