/**
 * The <D:response> of an item in a listing (PROPFIND Depth 1, sync-collection). Clients poll big
 * collections for the same few properties (getetag, getcontenttype...), which depend on nothing
 * but the item's metadata: their serialized propstats are kept per metadata object, which the
 * storage replaces whenever the item changes, so a cached answer can never be stale and a listing
 * of 10,000 unchanged items costs a string concatenation per item.
 */
import type { DavRequest, Resource } from './context.js';
import { evaluateProps, hrefOfResource } from './properties.js';
import { propstats, responseWithPropstats } from './multistatus.js';
import { NS, XmlWriter, clark, escapeXml, nameOf, type XmlElement, type XmlNode } from './xml.js';
import type { ItemMeta } from '../storage/types.js';

/** Properties whose value for an item is a function of its metadata (and its collection's type). */
const METADATA_PROPERTIES = new Set(
  ['getetag', 'getcontenttype', 'getcontentlength', 'getlastmodified', 'resourcetype'].map((l) =>
    clark(NS.D, l),
  ),
);
const MAX_PROPERTY_SETS = 16;

const byPropertySet = new Map<string, WeakMap<ItemMeta, string>>();
/** Writes with the root's prefixes, as the multistatus around the fragments declares them. */
const writer = new XmlWriter();
writer.rootDeclarations();

/** The key of a property request whose item answers may be cached, or undefined. */
export function cacheableProps(wanted: readonly XmlElement[]): string | undefined {
  if (wanted.length === 0) return undefined;
  const names: string[] = [];
  for (const w of wanted) {
    const name = nameOf(w);
    if (!METADATA_PROPERTIES.has(name) || w.children.length > 0) return undefined;
    names.push(name);
  }
  return names.join(' ');
}

/** An item's response to a request for `wanted` (`key` from cacheableProps, when it gave one). */
export async function itemResponse(
  req: DavRequest,
  res: Resource & { kind: 'item' },
  wanted: readonly XmlElement[],
  key: string | undefined,
): Promise<XmlNode> {
  if (key === undefined)
    return responseWithPropstats(hrefOfResource(req, res), await evaluateProps(req, res, wanted));
  const href = `<D:href>${escapeXml(hrefOfResource(req, res))}</D:href>`;
  const cache = cacheFor(`${key}\u0000${res.collection.tag}`);
  let body = cache.get(res.meta);
  if (body === undefined) {
    body = propstats(await evaluateProps(req, res, wanted))
      .map((p) => writer.write(p))
      .join('');
    // Only fragments that need no namespace declaration of their own can be reused anywhere.
    if (!body.includes(' xmlns:')) cache.set(res.meta, body);
  }
  return { raw: `<D:response>${href}${body}</D:response>` };
}

function cacheFor(key: string): WeakMap<ItemMeta, string> {
  let cache = byPropertySet.get(key);
  if (cache === undefined) {
    if (byPropertySet.size >= MAX_PROPERTY_SETS) byPropertySet.clear();
    cache = new WeakMap();
    byPropertySet.set(key, cache);
  }
  return cache;
}
