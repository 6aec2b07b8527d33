/**
 * Dead properties as Radicale stores them in `.Radicale.props`: keys `D:displayname` for known
 * namespaces, Clark `{ns}name` for others; values are the element's text. A value with child elements
 * (which Radicale cannot keep) is stored as its XML fragment and given back as XML.
 */
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

/** Clark name → props key. */
export function propKey(name: string): string {
  const { ns, local } = splitClark(name);
  const prefix = PREFIXES[ns];
  return prefix ? `${prefix}:${local}` : name;
}

/** props key → Clark name (undefined for the internal `tag` key and garbage). */
export function keyToClark(key: string): string | undefined {
  if (key === 'tag') return undefined;
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
