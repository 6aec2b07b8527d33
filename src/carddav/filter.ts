/**
 * CardDAV addressbook-query filters (RFC 6352 §8.6, §10.5): parsing CR:filter into a plain object
 * and matching it against a vCard's text.
 *
 * Semantics chosen where the RFC is loose:
 * - a prop-filter matches when at least one property instance of that name satisfies its
 *   text-matches and param-filters (combined with the prop-filter's own `test`), so that
 *   "an EMAIL of TYPE=WORK containing acme" means one and the same EMAIL;
 * - a property name without group matches grouped properties too (`EMAIL` matches `item1.EMAIL`);
 *   a name with a group matches only that group;
 * - a text-match on a structured value (N, ADR, ORG…) matches when any component or the whole
 *   text value (components joined with `;`) matches;
 * - an empty filter matches every card.
 */
import ICAL from 'ical.js';
import {
  collationKey,
  isCollation,
  textMatches,
  type Collation,
  type MatchType,
  type TextMatch,
} from '../dav/collation.js';
import { DavError, badRequest, forbidden } from '../dav/errors.js';
import { NS, type XmlElement, child, childrenNamed } from '../dav/xml.js';
import { normalizeVcardForParsing } from './item.js';
import { type ContentLine, paramValues, parseContentLine } from '../content-lines/content-line.js';
import { logicalLines } from '../content-lines/unfold.js';
import { CARDDAV_CONDITIONS } from './preconditions.js';

const SUPPORTED_COLLATION = CARDDAV_CONDITIONS.supportedCollation;
const SUPPORTED_FILTER = CARDDAV_CONDITIONS.supportedFilter;

export type FilterTest = 'anyof' | 'allof';

/** RFC 6352 §10.5.4: the default collation of CARDDAV:text-match (§8.3 requires both casemaps). */
const DEFAULT_COLLATION: Collation = 'i;unicode-casemap';
const MATCH_TYPES: readonly MatchType[] = ['equals', 'contains', 'starts-with', 'ends-with'];

export interface ParamFilter {
  /** Upper-case parameter name. */
  name: string;
  isNotDefined: boolean;
  textMatch?: TextMatch;
}

export interface PropFilter {
  /** Upper-case property name, possibly with a group (`ITEM1.EMAIL`). */
  name: string;
  test: FilterTest;
  isNotDefined: boolean;
  textMatches: TextMatch[];
  paramFilters: ParamFilter[];
}

export interface AddressFilter {
  test: FilterTest;
  propFilters: PropFilter[];
}

// ---------------------------------------------------------------------------------------------
// Parsing

function unsupportedFilter(message: string): DavError {
  return forbidden(message, SUPPORTED_FILTER);
}

function parseTest(el: XmlElement): FilterTest {
  const test = el.attrs.test ?? 'anyof';
  if (test !== 'anyof' && test !== 'allof') throw unsupportedFilter(`Unsupported test "${test}"`);
  return test;
}

function parseCollation(value: string | undefined): Collation {
  if (value === undefined) return DEFAULT_COLLATION;
  if (!isCollation(value)) throw forbidden(`Unsupported collation "${value}"`, SUPPORTED_COLLATION);
  return value;
}

function parseTextMatch(el: XmlElement): TextMatch {
  const matchType = el.attrs['match-type'] ?? 'contains';
  const found = MATCH_TYPES.find((m) => m === matchType);
  if (!found) throw unsupportedFilter(`Unsupported match-type "${matchType}"`);
  const negate = el.attrs['negate-condition'] ?? 'no';
  if (negate !== 'yes' && negate !== 'no') throw badRequest(`Invalid negate-condition "${negate}"`);
  return {
    text: el.text,
    collation: parseCollation(el.attrs.collation),
    matchType: found,
    negate: negate === 'yes',
  };
}

function requiredName(el: XmlElement): string {
  const name = el.attrs.name?.trim();
  if (!name) throw badRequest(`${el.local} without a name attribute`);
  return name.toUpperCase();
}

function isCardDav(el: XmlElement, local: string): boolean {
  return el.ns === NS.CR && el.local === local;
}

function parseParamFilter(el: XmlElement): ParamFilter {
  const filter: ParamFilter = { name: requiredName(el), isNotDefined: false };
  for (const c of el.children) {
    if (isCardDav(c, 'is-not-defined')) filter.isNotDefined = true;
    else if (isCardDav(c, 'text-match')) filter.textMatch = parseTextMatch(c);
    else throw unsupportedFilter(`Unsupported element ${c.local} in param-filter`);
  }
  return filter;
}

function parsePropFilter(el: XmlElement): PropFilter {
  const filter: PropFilter = {
    name: requiredName(el),
    test: parseTest(el),
    isNotDefined: false,
    textMatches: [],
    paramFilters: [],
  };
  for (const c of el.children) {
    if (isCardDav(c, 'is-not-defined')) filter.isNotDefined = true;
    else if (isCardDav(c, 'text-match')) filter.textMatches.push(parseTextMatch(c));
    else if (isCardDav(c, 'param-filter')) filter.paramFilters.push(parseParamFilter(c));
    else throw unsupportedFilter(`Unsupported element ${c.local} in prop-filter`);
  }
  return filter;
}

/** Parses CR:filter; an absent filter matches everything. */
export function parseAddressFilter(el: XmlElement | undefined): AddressFilter {
  if (!el) return { test: 'anyof', propFilters: [] };
  const propFilters = el.children.map((c) => {
    if (!isCardDav(c, 'prop-filter')) throw unsupportedFilter(`Unsupported element ${c.local} in filter`);
    return parsePropFilter(c);
  });
  return { test: parseTest(el), propFilters };
}

function parseLimit(reportEl: XmlElement): number | undefined {
  const limit = child(reportEl, NS.CR, 'limit');
  if (!limit) return undefined;
  const [nresults] = childrenNamed(limit, NS.CR, 'nresults');
  const text = nresults?.text.trim() ?? '';
  if (!/^\d{1,9}$/.test(text)) throw badRequest(`Invalid CR:nresults "${text}"`);
  return Number(text);
}

/** Reads the filter and the result limit of a CR:addressbook-query REPORT body. */
export function parseAddressbookQuery(reportEl: XmlElement): { filter: AddressFilter; limit?: number } {
  const filter = parseAddressFilter(child(reportEl, NS.CR, 'filter'));
  const limit = parseLimit(reportEl);
  return limit === undefined ? { filter } : { filter, limit };
}

// ---------------------------------------------------------------------------------------------
// Matching

interface CardProperty {
  group: string;
  name: string;
  /** Texts a text-match is tried against. */
  texts: string[];
  /** Parameter values by upper-case name. */
  params: Map<string, string[]>;
}

function scalarText(v: unknown): string {
  // ical.js leaves `\;` escaped in unstructured vCard 3.0 text values.
  if (typeof v === 'string') return v.replace(/\\;/g, ';');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '';
  // ical.js values (binary, date-and-or-time, utc-offset…) render their vCard text via toString.
  return (v as { toString(): string }).toString();
}

/** A structured value (N, ADR…) as text: components joined by `;`, their list values by `,`. */
function structuredText(v: readonly unknown[]): string {
  return v.map((c) => (Array.isArray(c) ? c.map(scalarText).join(',') : scalarText(c))).join(';');
}

/**
 * The strings a text-match is tried on: each value, each non-empty component of structured values,
 * and the whole text value (ical.js splits some 3.0 values such as NOTE on commas).
 */
function valueTexts(prop: ICAL.Property): string[] {
  const values = prop.getValues() as unknown[];
  const whole = values.map((v) => (Array.isArray(v) ? structuredText(v) : scalarText(v))).join(',');
  const texts = [whole];
  for (const v of values) {
    if (Array.isArray(v)) {
      texts.push(structuredText(v), ...(v.flat() as unknown[]).map(scalarText).filter((p) => p !== ''));
    } else {
      texts.push(scalarText(v));
    }
  }
  return texts;
}

/**
 * Parameters of one content line as sent (after 2.1 repair). Taken from the text rather than from
 * ical.js, which folds VALUE into the value type and drops it from the parameters.
 */
function paramMap(line: ContentLine): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const param of line.params) {
    map.set(param.name, [...(map.get(param.name) ?? []), ...paramValues(param.raw)]);
  }
  return map;
}

/** The content lines of the first card, in the order ical.js lists its properties. */
function firstCardLines(normalized: string): ContentLine[] {
  const out: ContentLine[] = [];
  for (const l of logicalLines(normalized)) {
    const line = parseContentLine(l.unfolded);
    if (!line) continue;
    if (line.name === 'END') break;
    if (line.name !== 'BEGIN') out.push(line);
  }
  return out;
}

/**
 * The properties of the first vCard in the text, parsed once per match; with `only`, just the
 * properties of those names (upper case, without group).
 */
export function cardProperties(text: string, only?: ReadonlySet<string>): CardProperty[] {
  const normalized = normalizeVcardForParsing(text, only);
  const parsed: unknown = ICAL.parse(normalized);
  const first: unknown = Array.isArray(parsed) && Array.isArray(parsed[0]) ? parsed[0] : parsed;
  const comp = new ICAL.Component(first as unknown[]);
  const props = comp.getAllProperties();
  const lines = firstCardLines(normalized);
  if (lines.length !== props.length) throw new Error('vCard lines and properties do not line up');
  return props.map((prop, i) => {
    const line = lines[i] as ContentLine;
    return { group: line.group, name: line.name, texts: valueTexts(prop), params: paramMap(line) };
  });
}

function nameMatches(prop: CardProperty, filterName: string): boolean {
  const dot = filterName.lastIndexOf('.');
  if (dot < 0) return prop.name === filterName;
  return prop.group === filterName.slice(0, dot) && prop.name === filterName.slice(dot + 1);
}

function paramFilterMatches(prop: CardProperty, pf: ParamFilter): boolean {
  const values = prop.params.get(pf.name);
  if (pf.isNotDefined) return values === undefined;
  if (values === undefined) return false;
  return pf.textMatch ? textMatches(values, pf.textMatch) : true;
}

function propInstanceMatches(prop: CardProperty, pf: PropFilter): boolean {
  const tests = [
    ...pf.textMatches.map((tm) => textMatches(prop.texts, tm)),
    ...pf.paramFilters.map((p) => paramFilterMatches(prop, p)),
  ];
  if (tests.length === 0) return true;
  return pf.test === 'allof' ? tests.every(Boolean) : tests.some(Boolean);
}

function propFilterMatches(props: readonly CardProperty[], pf: PropFilter): boolean {
  const named = props.filter((p) => nameMatches(p, pf.name));
  if (pf.isNotDefined) return named.length === 0;
  return named.some((p) => propInstanceMatches(p, pf));
}

/** Matches parsed properties against a filter (lets callers parse a card once for several filters). */
export function matchCardProperties(filter: AddressFilter, props: readonly CardProperty[]): boolean {
  if (filter.propFilters.length === 0) return true;
  const results = filter.propFilters.map((pf) => propFilterMatches(props, pf));
  return filter.test === 'allof' ? results.every(Boolean) : results.some(Boolean);
}

/**
 * Whether the vCard text matches the filter (RFC 6352 §10.5). An unparsable card matches nothing
 * rather than failing the whole query.
 */
export function matchAddressFilter(filter: AddressFilter, text: string): boolean {
  if (filter.propFilters.length === 0) return true;
  if (cannotMatch(filter, text)) return false;
  let props: CardProperty[];
  const names = new Set(filter.propFilters.map((pf) => pf.name.slice(pf.name.lastIndexOf('.') + 1)));
  try {
    props = cardProperties(text, names);
  } catch {
    return false;
  }
  return matchCardProperties(filter, props);
}

// ---------------------------------------------------------------------------------------------
// A quick rejection before parsing

/**
 * Properties whose values ical.js gives as the text of their line (plain, list or structured text,
 * URIs): a value of any other type (a date, an offset) may be rendered differently from how it was
 * sent, so a text-match on it could match what the raw text does not contain.
 */
const VERBATIM_VALUES = new Set([
  'FN',
  'N',
  'NICKNAME',
  'ORG',
  'TITLE',
  'ROLE',
  'NOTE',
  'EMAIL',
  'ADR',
  'LABEL',
  'CATEGORIES',
  'TEL',
  'UID',
  'URL',
]);

/** Anything but printable ASCII, tab and line breaks: NFKD or case folding could change it. */
const NOT_PLAIN_ASCII = /[^\t\n\r\x20-\x7e]/;
/** A blank line (dropped by unfolding, so a fold after it continues the line before). */
const BLANK_LINE = /\n\r?\n|\r\r/;
const FOLD = /(?:\r\n|\n|\r)[ \t]/;
const FOLDS = /(?:\r\n|\n|\r)[ \t]/g;
/** What makes a value differ from its line's text: an escape, an encoding, a charset, a value type. */
const TRANSFORMED = /\\|encoding|quoted-printable|base64|charset|value\s*=/i;

/** Per property name: where it may start a line's value or parameters (any line, groups included). */
const namePatterns = new Map<string, RegExp>();
/** Per needle and collation: a search for it in the (ASCII) text. */
const needlePatterns = new Map<string, RegExp | null>();

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function namePattern(base: string): RegExp {
  let re = namePatterns.get(base);
  if (re === undefined) {
    re = new RegExp(`${escapeRegExp(base)}[ \\t]*[;:]`, 'gi');
    if (namePatterns.size < 64) namePatterns.set(base, re);
  }
  re.lastIndex = 0;
  return re;
}

/** A search for the collation key of `tm`'s text; null when no ASCII text can contain it. */
function needlePattern(tm: TextMatch): RegExp | null {
  const k = `${tm.collation}\u0000${tm.text}`;
  let re = needlePatterns.get(k);
  if (re === undefined) {
    const key = collationKey(tm.text, tm.collation);
    // The key of ASCII text is ASCII (a casemap lower-cases A-Z only): another key is in no value.
    re = NOT_PLAIN_ASCII.test(key)
      ? null
      : new RegExp(escapeRegExp(key), tm.collation === 'i;octet' ? '' : 'i');
    // Kept for the next cards and queries when short (the needle is the client's): at most 64 of at
    // most 256 characters (the map is emptied when full).
    if (tm.text.length <= 256) {
      if (needlePatterns.size >= 64) needlePatterns.clear();
      needlePatterns.set(k, re);
    }
  }
  return re;
}

/** Characters times needle length above which the search is not tried (a millisecond or two). */
const SEARCH_BUDGET = 500_000;

/**
 * True when the card cannot match, decided without parsing it (most cards of a query fail it this
 * way, at a fraction of the parse's cost). A text-match's value is a substring of its property's
 * unfolded line when the card is plain ASCII (the collations then only lower-case letters A-Z) and
 * none of the filtered properties' lines has an escape, an encoding, a charset or a value type: then
 * a needle found nowhere in the unfolded text (case-insensitively for the casemaps) is in no value.
 * Anything less certain (negated matches, parameters, is-not-defined, other properties, lines that
 * fail those checks) is left to the parse.
 */
export function cannotMatch(filter: AddressFilter, text: string): boolean {
  if (NOT_PLAIN_ASCII.test(text) || BLANK_LINE.test(text)) return false;
  const unfolded = FOLD.test(text) ? text.replace(FOLDS, '') : text;
  const verbatim = (name: string): boolean => {
    const base = name.slice(name.lastIndexOf('.') + 1);
    if (!VERBATIM_VALUES.has(base)) return false;
    // Every line where the name is followed by `;` or `:` (a superset of the property's own lines,
    // whatever its group or spacing) is looked at.
    const re = namePattern(base);
    for (let m = re.exec(unfolded); m !== null; m = re.exec(unfolded)) {
      const at = m.index;
      const start = Math.max(unfolded.lastIndexOf('\n', at), unfolded.lastIndexOf('\r', at)) + 1;
      let end = at;
      while (end < unfolded.length && unfolded[end] !== '\n' && unfolded[end] !== '\r') end++;
      if (TRANSFORMED.test(unfolded.slice(start, end))) return false;
      re.lastIndex = end;
    }
    return true;
  };
  const absent = (tm: TextMatch): boolean => {
    // A search may look again at each offset for the needle's length: a huge card searched for a
    // long needle is left to the parse (whose matching is linear).
    if (tm.negate || unfolded.length * (tm.text.length + 1) > SEARCH_BUDGET) return false;
    const re = needlePattern(tm);
    return re === null || !re.test(unfolded);
  };
  const impossible = (pf: PropFilter): boolean => {
    if (pf.isNotDefined || pf.textMatches.length === 0 || !verbatim(pf.name)) return false;
    if (pf.test === 'allof') return pf.textMatches.some(absent);
    return pf.paramFilters.length === 0 && pf.textMatches.every(absent);
  };
  return filter.test === 'allof' ? filter.propFilters.some(impossible) : filter.propFilters.every(impossible);
}
