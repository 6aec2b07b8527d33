/**
 * expand-property (RFC 3253 §3.8), principal-property-search and principal-search-property-set
 * (RFC 3744 §9.4, §9.5): real answers over our principals (the top-level collections).
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { parsePrincipalPropertySearch } from '../requests/principal-search.js';
import { hrefToSegments } from '../href.js';
import { evaluateProps, getProperty, hrefOfResource } from '../properties.js';
import { multistatus, propstats, responseWithPropstats } from '../multistatus.js';
import { resolve } from '../resource.js';
import {
  NS,
  childrenNamed,
  clark,
  el,
  elText,
  serializeDocument,
  type XmlElement,
  type XmlNode,
  type XmlOut,
} from '../xml.js';

const D = (l: string): string => clark(NS.D, l);

async function expandOne(
  req: DavRequest,
  res: Resource,
  props: XmlElement[],
  depth: number,
): Promise<XmlOut> {
  const found: { name: string; value: XmlNode[] }[] = [];
  const missing: { name: string }[] = [];
  for (const property of props) {
    if (property.ns !== NS.D || property.local !== 'property') continue;
    const name = clark(property.attrs.namespace ?? NS.D, property.attrs.name ?? '');
    const value = await getProperty(req, res, name);
    if (value === undefined) {
      missing.push({ name });
      continue;
    }
    const nested = childrenNamed(property, NS.D, 'property');
    if (nested.length === 0 || depth > 3) {
      found.push({ name, value });
      continue;
    }
    const expanded: XmlNode[] = [];
    for (const v of value) {
      if (typeof v === 'string' || 'raw' in v || v.name !== D('href')) continue;
      const href = (v.children ?? []).filter((c): c is string => typeof c === 'string').join('');
      const target = hrefToSegments(href, req.prefix);
      if (!target) continue;
      const targetRes = await resolve(req, target.segments);
      if (targetRes.kind === 'missing' || !req.access.canRead(targetRes)) continue;
      expanded.push(await expandOne(req, targetRes, nested, depth + 1));
    }
    found.push({ name, value: expanded });
  }
  return el(
    D('response'),
    elText(D('href'), hrefOfResource(req, res)),
    ...propstats(
      new Map([
        [200, found],
        [404, missing],
      ]),
    ),
  );
}

export async function expandProperty(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  return multistatus([await expandOne(req, res, body.children, 0)]);
}

/** The properties a client may search principals by: those the plugins declare (DavPlugin.searchableProperties). */
export function principalSearchPropertySet(req: DavRequest): Promise<DavResponse> {
  const body = el(
    D('principal-search-property-set'),
    ...req.plugins
      .searchableProperties()
      .map((name) =>
        el(
          D('principal-search-property'),
          el(D('prop'), el(name)),
          elText(D('description'), name.split('}')[1] ?? name),
        ),
      ),
  );
  return Promise.resolve({
    status: 200,
    headers: { 'Content-Type': 'application/xml; charset=utf-8' },
    body: serializeDocument(body),
  });
}

function textOf(nodes: XmlNode[]): string {
  return nodes.map((n) => (typeof n === 'string' ? n : 'raw' in n ? '' : textOf(n.children ?? []))).join(' ');
}

export async function principalPropertySearch(
  req: DavRequest,
  _res: Resource,
  body: XmlElement,
): Promise<DavResponse> {
  const { searches, test, props: wanted } = parsePrincipalPropertySearch(body);
  const anyof = test === 'anyof';
  const responses: XmlNode[] = [];
  for (const info of await req.storage.listCollections('')) {
    const res: Resource = { kind: 'collection', path: info.path, info };
    if (!req.access.canRead(res)) continue;
    const results: boolean[] = [];
    for (const s of searches) {
      let hit = false;
      for (const property of s.props) {
        const v = await getProperty(req, res, property);
        if (v && textOf(v).toLowerCase().includes(s.match)) hit = true;
      }
      results.push(hit);
    }
    if (anyof ? results.some(Boolean) : results.every(Boolean)) {
      responses.push(responseWithPropstats(hrefOfResource(req, res), await evaluateProps(req, res, wanted)));
    }
  }
  return multistatus(responses);
}
