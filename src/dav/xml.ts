/**
 * XML for WebDAV: a small namespaced element tree parsed with saxes, and our own escaping writer.
 *
 * Names are Clark notation: `{DAV:}getetag`. DOCTYPE declarations are refused (no entity expansion,
 * no external entities), depth and element count are capped.
 */
import { SaxesParser } from 'saxes';

export const NS = {
  D: 'DAV:',
  C: 'urn:ietf:params:xml:ns:caldav',
  CR: 'urn:ietf:params:xml:ns:carddav',
  CS: 'http://calendarserver.org/ns/',
  ICAL: 'http://apple.com/ns/ical/',
  ME: 'http://me.com/_namespace/',
  RADICALE: 'http://radicale.org/ns/',
  INF: 'http://inf-it.com/ns/ab/',
} as const;

/** Prefixes Radicale uses in `.Radicale.props` keys and that we use when writing XML. */
export const PREFIXES: Readonly<Record<string, string>> = {
  [NS.D]: 'D',
  [NS.C]: 'C',
  [NS.CR]: 'CR',
  [NS.CS]: 'CS',
  [NS.ICAL]: 'ICAL',
  [NS.ME]: 'ME',
  [NS.RADICALE]: 'RADICALE',
};

export interface XmlElement {
  /** Namespace URI ('' when none). */
  readonly ns: string;
  /** Local name. */
  readonly local: string;
  /** Attributes by Clark name (`{ns}local`, or plain `local` without namespace). */
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  /** Concatenated character data directly inside this element (not of children). */
  text: string;
}

export class XmlParseError extends Error {}

export function clark(ns: string, local: string): string {
  return ns ? `{${ns}}${local}` : local;
}

export function nameOf(el: XmlElement): string {
  return clark(el.ns, el.local);
}

/** Splits a Clark name into namespace and local name. */
export function splitClark(name: string): { ns: string; local: string } {
  if (name.startsWith('{')) {
    const end = name.indexOf('}');
    return { ns: name.slice(1, end), local: name.slice(end + 1) };
  }
  return { ns: '', local: name };
}

export interface ParseLimits {
  maxDepth: number;
  maxElements: number;
}

const DEFAULT_LIMITS: ParseLimits = { maxDepth: 64, maxElements: 200_000 };

/** A saxes parser that builds the element tree, throwing XmlParseError at the first problem. */
function treeParser(limits: ParseLimits): { parser: SaxesParser; root: () => XmlElement } {
  const parser = new SaxesParser({ xmlns: true, position: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  parser.on('doctype', () => {
    throw new XmlParseError('DOCTYPE declarations are not allowed');
  });
  parser.on('error', (e) => {
    throw new XmlParseError(e.message);
  });
  parser.on('opentag', (tag) => {
    if (stack.length >= limits.maxDepth) throw new XmlParseError(`XML nested deeper than ${limits.maxDepth}`);
    // Attributes count as elements: each is kept in the tree.
    count += 1 + Object.keys(tag.attributes).length;
    if (count > limits.maxElements) {
      throw new XmlParseError(`XML has more than ${limits.maxElements} elements and attributes`);
    }
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || (a.prefix === '' && a.local === 'xmlns')) continue;
      attrs[clark(a.uri, a.local)] = a.value;
    }
    const el: XmlElement = { ns: tag.uri ?? '', local: tag.local ?? tag.name, attrs, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root ??= el;
    stack.push(el);
  });
  const onText = (t: string): void => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    stack.pop();
  });
  return {
    parser,
    root: () => {
      if (!root) throw new XmlParseError('empty XML document');
      return root;
    },
  };
}

/**
 * Entity and character references a document may hold (as many as elements): saxes builds the text
 * around each one piece by piece, and millions of them cost seconds of garbage collection.
 */
function checkReferences(text: string, limits: ParseLimits): void {
  let count = 0;
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    if (++count > limits.maxElements) {
      throw new XmlParseError(`XML has more than ${limits.maxElements} entity or character references`);
    }
  }
}

function asParseError(e: unknown): XmlParseError {
  return e instanceof XmlParseError ? e : new XmlParseError(e instanceof Error ? e.message : String(e));
}

/**
 * Parses an XML document into an element tree. Throws XmlParseError on any problem, as soon as it
 * is met: parsing stops at the first error, DOCTYPE or limit, so that a body nested 100,000 deep
 * or holding millions of elements costs no more than the part read up to the limit.
 */
export function parseXml(text: string, limits: ParseLimits = DEFAULT_LIMITS): XmlElement {
  checkReferences(text, limits);
  const { parser, root } = treeParser(limits);
  try {
    parser.write(text).close();
  } catch (e) {
    throw asParseError(e);
  }
  return root();
}

/** Characters parsed between two turns of the event loop by parseXmlYielding. */
const CHUNK = 64 * 1024;

/**
 * parseXml for request bodies: the text is parsed in chunks with a turn of the event loop between
 * them, so that a body of many megabytes does not keep other requests waiting.
 */
export async function parseXmlYielding(
  text: string,
  limits: ParseLimits = DEFAULT_LIMITS,
): Promise<XmlElement> {
  checkReferences(text, limits);
  const { parser, root } = treeParser(limits);
  try {
    for (let i = 0; i < text.length; i += CHUNK) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      parser.write(text.slice(i, i + CHUNK));
    }
    parser.close();
  } catch (e) {
    throw asParseError(e);
  }
  return root();
}

/** First child with the given namespace and local name. */
export function child(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return el.children.find((c) => c.ns === ns && c.local === local);
}

export function childrenNamed(el: XmlElement, ns: string, local: string): XmlElement[] {
  return el.children.filter((c) => c.ns === ns && c.local === local);
}

export function is(el: XmlElement | undefined, ns: string, local: string): boolean {
  return el !== undefined && el.ns === ns && el.local === local;
}

/** All text inside an element, children included (for props stored as text). */
export function textContent(el: XmlElement): string {
  return el.text + el.children.map(textContent).join('');
}

// ---------------------------------------------------------------------------------------------
// Writing

// Characters not allowed in XML 1.0 are dropped.
const INVALID_XML_CHARS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Anything escapeXml would change. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[&<>"\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/;

/** Anything escapeXml would change other than a quote. */
// eslint-disable-next-line no-control-regex
const NEEDS_MORE_THAN_QUOTES = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/;

/** Characters XML 1.0 does not allow, tested without the global flag's state. */
const HAS_INVALID = new RegExp(INVALID_XML_CHARS.source);

/**
 * XML text with markup characters escaped and invalid characters dropped. Each replacement runs
 * only when its character is there (a scan each): a 9 MB calendar-data with CRLFs costs one pass.
 */
export function escapeXml(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  // Only quotes (an ETag, 100,000 times in a big listing): one replacement, no further scans.
  if (!NEEDS_MORE_THAN_QUOTES.test(s)) return s.replace(/"/g, '&quot;');
  let out = HAS_INVALID.test(s) ? s.replace(INVALID_XML_CHARS, '') : s;
  if (out.includes('&')) out = out.replace(/&/g, '&amp;');
  if (out.includes('<')) out = out.replace(/</g, '&lt;');
  if (out.includes('>')) out = out.replace(/>/g, '&gt;');
  if (out.includes('"')) out = out.replace(/"/g, '&quot;');
  if (out.includes('\r')) out = out.replace(/\r/g, '&#13;');
  return out;
}

/** A node to write: an element built in memory, or raw (already serialized, trusted) XML. */
export type XmlNode = XmlOut | { raw: string } | string;

export interface XmlOut {
  name: string; // Clark name
  attrs?: Record<string, string>;
  children?: XmlNode[];
}

export function el(name: string, ...children: (XmlNode | undefined | false)[]): XmlOut {
  return { name, children: children.filter((c): c is XmlNode => c !== undefined && c !== false) };
}

export function elText(name: string, text: string): XmlOut {
  return { name, children: [text] };
}

/**
 * Serializes elements with a fixed prefix map; unknown namespaces get generated prefixes declared
 * on the element that first needs them.
 */
export class XmlWriter {
  private readonly declared = new Map<string, string>();
  private extra = 0;

  constructor(private readonly prefixes: Readonly<Record<string, string>> = PREFIXES) {}

  /** xmlns declarations for the root element (all known prefixes). */
  rootDeclarations(): string {
    let out = '';
    for (const [uri, prefix] of Object.entries(this.prefixes)) {
      this.declared.set(uri, prefix);
      out += ` xmlns:${prefix}="${escapeXml(uri)}"`;
    }
    return out;
  }

  write(node: XmlNode): string {
    if (typeof node === 'string') return escapeXml(node);
    if ('raw' in node) return node.raw;
    return this.writeElement(node);
  }

  /** Qualified names whose prefix is one of the root's (valid everywhere in the document). */
  private readonly qnames = new Map<string, string>();

  private qname(name: string, decls: string[]): string {
    const known = this.qnames.get(name);
    if (known !== undefined) return known;
    const { ns, local } = splitClark(name);
    if (!ns) return local;
    let prefix = this.declared.get(ns);
    if (prefix === undefined) {
      prefix = `X${this.extra++}`;
      this.declared.set(ns, prefix);
      decls.push(` xmlns:${prefix}="${escapeXml(ns)}"`);
      return `${prefix}:${local}`;
    }
    const q = `${prefix}:${local}`;
    if (this.prefixes[ns] === prefix) this.qnames.set(name, q);
    return q;
  }

  /** The document's root element, with the declarations of all known prefixes. */
  writeRoot(node: XmlOut): string {
    const decls = this.rootDeclarations();
    return this.writeElement(node, decls);
  }

  private writeElement(node: XmlOut, rootDecls = ''): string {
    const decls: string[] = [];
    const tag = this.qname(node.name, decls);
    let attrs = '';
    if (node.attrs !== undefined) {
      for (const [k, v] of Object.entries(node.attrs)) attrs += ` ${this.qname(k, decls)}="${escapeXml(v)}"`;
    }
    let kids = '';
    if (node.children !== undefined) for (const c of node.children) kids += this.write(c);
    // Prefixes generated for this element are only valid inside it.
    for (const d of decls) {
      const uri = /"(.*)"$/.exec(d)?.[1];
      if (uri !== undefined) this.declared.delete(uri.replace(/&amp;/g, '&'));
    }
    const open = `${tag}${rootDecls}${decls.join('')}${attrs}`;
    return kids ? `<${open}>${kids}</${tag}>` : `<${open}/>`;
  }
}

/** A whole document with declarations of the known prefixes on the root element. */
export function serializeDocument(root: XmlOut): string {
  const w = new XmlWriter();
  return `<?xml version="1.0" encoding="utf-8"?>\n${w.writeRoot(root)}`;
}

/** Serializes a parsed element back to XML (used to store dead properties with their children). */
export function elementToOut(e: XmlElement): XmlOut {
  const children: XmlNode[] = [];
  if (e.text) children.push(e.text);
  for (const c of e.children) children.push(elementToOut(c));
  return { name: nameOf(e), attrs: e.attrs, children };
}
