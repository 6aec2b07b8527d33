/**
 * An XML document as Radicale's PROPPATCH hook reports it: `ElementTree.tostring(root,
 * encoding="utf-8").decode()` of the parsed request. That drops the XML declaration, comments and
 * processing instructions, keeps text and whitespace between elements (with CRLF read as LF, as
 * every XML parser does), writes the namespaces Radicale registers with their prefixes (`DAV:` as the
 * default namespace, C, CR, CS, ICAL, ME, RADICALE, and ElementTree's own xml, html, rdf, wsdl, xs,
 * xsi, dc) and any other as ns0, ns1, ... (numbered by how many namespaces came before it), all
 * declared on the root element in prefix order; empty elements as `<x />`.
 *
 * The input is a PROPPATCH body the server has already parsed and accepted (bounded by
 * max_content_length and its parse limits); depth is bounded again here.
 */
import { SaxesParser } from 'saxes';
import { PREFIXES } from '../../dav/xml.js';

const NAMESPACE_PREFIXES: ReadonlyMap<string, string> = new Map([
  // ElementTree's _namespace_map.
  ['http://www.w3.org/XML/1998/namespace', 'xml'],
  ['http://www.w3.org/1999/xhtml', 'html'],
  ['http://www.w3.org/1999/02/22-rdf-syntax-ns#', 'rdf'],
  ['http://schemas.xmlsoap.org/wsdl/', 'wsdl'],
  ['http://www.w3.org/2001/XMLSchema', 'xs'],
  ['http://www.w3.org/2001/XMLSchema-instance', 'xsi'],
  ['http://purl.org/dc/elements/1.1/', 'dc'],
  // radicale/xmlutils.py registers its namespaces (the ones we write with, dav/xml.ts), "D" as the
  // default namespace.
  ...Object.entries(PREFIXES).map(([uri, prefix]): [string, string] => [uri, prefix === 'D' ? '' : prefix]),
]);

interface Node {
  readonly tag: string; // Clark name
  readonly attrs: [string, string][];
  readonly children: Node[];
  text: string;
  tail: string;
}

const MAX_DEPTH = 64;

function parse(xml: string): Node {
  const parser = new SaxesParser({ xmlns: true, position: false });
  const stack: Node[] = [];
  let root: Node | undefined;
  let error: Error | undefined;
  parser.on('error', (e) => {
    error ??= e;
  });
  parser.on('opentag', (tag) => {
    if (stack.length >= MAX_DEPTH) throw new Error('XML nested too deep');
    const attrs: [string, string][] = [];
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || (a.prefix === '' && a.local === 'xmlns')) continue;
      attrs.push([a.uri ? `{${a.uri}}${a.local}` : a.local, a.value]);
    }
    const node: Node = {
      tag: tag.uri ? `{${tag.uri}}${tag.local ?? tag.name}` : (tag.local ?? tag.name),
      attrs,
      children: [],
      text: '',
      tail: '',
    };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(node);
    else root ??= node;
    stack.push(node);
  });
  const onText = (t: string): void => {
    const top = stack[stack.length - 1];
    if (!top) return; // outside the root element: ElementTree keeps none of it
    const last = top.children[top.children.length - 1];
    if (last) last.tail += t;
    else top.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.write(xml).close();
  if (error) throw error;
  if (!root) throw new Error('empty XML document');
  return root;
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(s: string): string {
  return escapeText(s)
    .replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#09;');
}

/** ElementTree's _namespaces: the qualified name of every tag and attribute, and the declarations. */
function qualify(root: Node): { qnames: Map<string, string>; namespaces: Map<string, string> } {
  const qnames = new Map<string, string>();
  const namespaces = new Map<string, string>();
  const add = (qname: string): void => {
    if (qnames.has(qname)) return;
    if (!qname.startsWith('{')) {
      qnames.set(qname, qname);
      return;
    }
    const close = qname.lastIndexOf('}');
    const uri = qname.slice(1, close);
    const local = qname.slice(close + 1);
    let prefix = namespaces.get(uri);
    if (prefix === undefined) {
      prefix = NAMESPACE_PREFIXES.get(uri) ?? `ns${namespaces.size}`;
      if (prefix !== 'xml') namespaces.set(uri, prefix);
    }
    qnames.set(qname, prefix === '' ? local : `${prefix}:${local}`);
  };
  const walk = (n: Node): void => {
    add(n.tag);
    for (const [k] of n.attrs) add(k);
    for (const c of n.children) walk(c);
  };
  walk(root);
  return { qnames, namespaces };
}

function serialize(n: Node, qnames: Map<string, string>, decls: string, out: string[]): void {
  const tag = qnames.get(n.tag) ?? n.tag;
  out.push(`<${tag}${decls}`);
  for (const [k, v] of n.attrs) out.push(` ${qnames.get(k) ?? k}="${escapeAttr(v)}"`);
  if (n.text !== '' || n.children.length > 0) {
    out.push('>');
    if (n.text !== '') out.push(escapeText(n.text));
    for (const c of n.children) serialize(c, qnames, '', out);
    out.push(`</${tag}>`);
  } else out.push(' />');
  if (n.tail !== '') out.push(escapeText(n.tail));
}

/** Python's `ET.tostring(ET.fromstring(xml), encoding="utf-8").decode()` (see above). */
export function pythonEtreeString(xml: string): string {
  const root = parse(xml);
  const { qnames, namespaces } = qualify(root);
  const decls = [...namespaces]
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([uri, prefix]) => ` xmlns${prefix === '' ? '' : `:${prefix}`}="${escapeAttr(uri)}"`)
    .join('');
  const out: string[] = [];
  // The root's tail (after the document element) is not part of the element.
  serialize({ ...root, tail: '' }, qnames, decls, out);
  return out.join('');
}
