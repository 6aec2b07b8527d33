/**
 * Dead properties as Radicale stores them in `.Radicale.props`: keys `D:displayname` for known
 * namespaces, Clark `{ns}name` for others; values are the element's text. A value with child elements
 * (which Radicale cannot keep) is stored as its XML fragment and given back as XML.
 */
import { createHash } from 'node:crypto';
import {
  PREFIXES,
  XmlWriter,
  elementToOut,
  parseXml,
  splitClark,
  type XmlElement,
  type XmlNode,
} from './xml.js';

const PREFIX_TO_NS = new Map(Object.entries(PREFIXES).map(([ns, p]) => [p, ns]));

/**
 * The xml:lang of stored property values (RFC 4918 §4.3: a server keeps it with the value). Radicale's
 * props hold plain strings, so the languages go under one extra key: a JSON object from props key to
 * `[language, digest of the value]`. Radicale (taking the folder back) shows it as one more dead
 * property and loses nothing; a value Radicale changed no longer matches its digest, and its old
 * language is ignored.
 */
export const LANG_KEY = '{urn:x-almanac:props}xml-lang';
/** Clark name of the xml:lang attribute, as the parser reports it. */
export const XML_LANG = '{http://www.w3.org/XML/1998/namespace}lang';

type LangMap = Record<string, [string, string]>;

const digest = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 16);

function langs(props: Readonly<Record<string, string>>): LangMap {
  const out: LangMap = {};
  try {
    const parsed: unknown = JSON.parse(props[LANG_KEY] ?? '{}');
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return out;
    for (const [k, v] of Object.entries(parsed)) {
      if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') out[k] = [v[0], v[1]];
    }
  } catch {
    // A damaged entry loses the languages, never the values.
  }
  return out;
}

/** The xml:lang stored with the current value of a props key, if any. */
export function storedLang(props: Readonly<Record<string, string>>, key: string): string | undefined {
  if (props[LANG_KEY] === undefined) return undefined;
  const entry = langs(props)[key];
  const value = props[key];
  return entry && value !== undefined && entry[1] === digest(value) ? entry[0] : undefined;
}

/** Records (or, with undefined, forgets) the xml:lang of a props key's current value. */
export function setStoredLang(props: Record<string, string>, key: string, lang: string | undefined): void {
  if (lang === undefined && props[LANG_KEY] === undefined) return;
  const map = langs(props);
  const value = props[key];
  if (lang === undefined || value === undefined) Reflect.deleteProperty(map, key);
  else map[key] = [lang, digest(value)];
  if (Object.keys(map).length === 0) Reflect.deleteProperty(props, LANG_KEY);
  else props[LANG_KEY] = JSON.stringify(map);
}

/** Clark name → props key. */
export function propKey(name: string): string {
  const { ns, local } = splitClark(name);
  const prefix = PREFIXES[ns];
  return prefix ? `${prefix}:${local}` : name;
}

/** props key → Clark name (undefined for the internal `tag` key and garbage). */
export function keyToClark(key: string): string | undefined {
  if (key === 'tag' || key === LANG_KEY) return undefined;
  if (key.startsWith('{')) return key.includes('}') ? key : undefined;
  const colon = key.indexOf(':');
  if (colon < 0) return undefined;
  const ns = PREFIX_TO_NS.get(key.slice(0, colon));
  return ns ? `{${ns}}${key.slice(colon + 1)}` : undefined;
}

/** The value to store for a PROPPATCH set element. */
export function valueOf(prop: XmlElement): string {
  if (prop.children.length === 0) return prop.text;
  const w = new XmlWriter({});
  return prop.children.map((c) => w.write(elementToOut(c))).join('');
}

/** XML children to answer for a stored value. */
export function storedValueToXml(value: string): XmlNode[] {
  if (value.startsWith('<') && value.endsWith('>')) {
    try {
      // Wrap to allow several sibling elements; refuse anything odd by falling back to text.
      parseXml(`<x>${value}</x>`);
      return [{ raw: value }];
    } catch {
      return [value];
    }
  }
  return value === '' ? [] : [value];
}
