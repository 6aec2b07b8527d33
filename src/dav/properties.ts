/**
 * WebDAV's own live properties (RFC 4918, 3744, 5397, 6578), registered by the core's plugin
 * (`CORE_PLUGIN.properties`) like any plugin's, and the lookup of any property on a resource: live
 * ones from the registered plugins, then dead ones from the stored props.
 */
import { almanacVersion } from '../config/version.js';
import type { DavRequest, ItemResource, LiveProperty, Resource } from './context.js';
import { collectionHref, itemHref, splitPath } from './href.js';
import { LANG_KEY, keyToClark, propKey, storedLang, storedValueToXml } from './dead-props.js';
import { NS, clark, el, elText, nameOf, type XmlElement, type XmlNode } from './xml.js';
import type { PropEntry } from './multistatus.js';

const D = (l: string): string => clark(NS.D, l);
const R = (l: string): string => clark(NS.RADICALE, l);
const CS = (l: string): string => clark(NS.CS, l);

const isCollection = (res: Resource): boolean => res.kind === 'collection';
const isTagged = (res: Resource): boolean => res.kind === 'collection' && res.info.tag !== '';
const isSyncable = (res: Resource): boolean =>
  isTagged(res) && res.kind === 'collection' && !res.info.conversion;
/** A principal collection (`/<user>/`). */
export const isPrincipal = (res: Resource): boolean =>
  res.kind === 'collection' && splitPath(res.path).length === 1;
/** An item, or a collection of items: of a tag some plugin's kind owns (a calendar, an address book). */
const hasContent = (res: Resource, req: DavRequest): boolean =>
  res.kind === 'item' || (res.kind === 'collection' && req.plugins.byTag(res.info.tag) !== undefined);

export function hrefOfResource(req: DavRequest, res: Resource): string {
  switch (res.kind) {
    case 'collection':
      return collectionHref(req.prefix, res.path);
    case 'item':
      return itemHref(req.prefix, res.path, res.href);
    case 'missing':
      return itemHref(req.prefix, res.parentPath, res.name);
  }
}

export function principalHref(req: DavRequest, user: string): string {
  return collectionHref(req.prefix, user);
}

function httpDate(d: Date): string {
  return d.toUTCString();
}

async function collectionLength(res: Resource, req: DavRequest): Promise<number> {
  if (res.kind !== 'collection') return 0;
  const items = await req.storage.listItems(res.path);
  return items.reduce((n, i) => n + i.size, 0);
}

/**
 * A live property as the plugins' tables write one (the core's, CalDAV's, CardDAV's, scheduling's):
 * not in allprop answers unless `extra` says so.
 */
export const makeLiveProperty = (
  name: string,
  appliesTo: LiveProperty['appliesTo'],
  get: LiveProperty['get'],
  extra: Partial<LiveProperty> = {},
): LiveProperty => ({ name, allprop: false, appliesTo, get, ...extra });

const live = (
  name: string,
  allprop: boolean,
  appliesTo: LiveProperty['appliesTo'],
  get: LiveProperty['get'],
): LiveProperty => makeLiveProperty(name, appliesTo, get, { allprop });

/** The value of a property naming the collection itself (principal-URL, the home sets on a principal). */
export const ownCollectionHref: LiveProperty['get'] = (res, req) =>
  res.kind === 'collection' ? [elText(D('href'), collectionHref(req.prefix, res.path))] : [];

/**
 * A property every item has, with a value from its metadata only (`LiveProperty.itemMetadata`), and
 * a collection's value from `ofCollection`; in allprop answers.
 */
const metadataProperty = (
  name: string,
  appliesTo: LiveProperty['appliesTo'],
  ofItem: (res: ItemResource, req: DavRequest) => string,
  ofCollection: (res: Resource & { kind: 'collection' }, req: DavRequest) => XmlNode[] | Promise<XmlNode[]>,
): LiveProperty => ({
  name,
  allprop: true,
  appliesTo,
  get: (res, req) => {
    if (res.kind === 'item') {
      const value = ofItem(res, req);
      return value === '' ? [] : [value];
    }
    return res.kind === 'collection' ? ofCollection(res, req) : [];
  },
  itemMetadata: ofItem,
});

/** WebDAV's own live properties, registered by CORE_PLUGIN (core-plugin.ts). */
export const CORE_PROPERTIES: readonly LiveProperty[] = [
  metadataProperty(
    D('resourcetype'),
    () => true,
    () => '',
    async (res, req) => {
      const kids: XmlNode[] = [el(D('collection'))];
      if (isPrincipal(res)) kids.push(el(D('principal')));
      const type = req.plugins.resourceTypeOf(res.info);
      if (type !== undefined) kids.push(el(type));
      for (const extra of await req.plugins.extraResourceTypes(res, req)) kids.push(el(extra));
      return kids;
    },
  ),
  live(
    D('displayname'),
    true,
    (res) =>
      res.kind === 'collection' && (res.info.props['D:displayname'] !== undefined || res.info.tag !== ''),
    (res) => {
      if (res.kind !== 'collection') return [];
      const name = res.info.props['D:displayname'] ?? splitPath(res.path).at(-1) ?? '';
      return [name];
    },
  ),
  metadataProperty(
    D('getetag'),
    (res) => res.kind === 'item' || isTagged(res),
    (res) => res.meta.etag,
    async (res, req) => [await req.storage.getEtag(res.path)],
  ),
  metadataProperty(
    D('getlastmodified'),
    (res) => res.kind === 'item' || isTagged(res),
    (res) => httpDate(new Date(res.meta.lastModifiedMs)),
    (res) => [httpDate(res.info.lastModified)],
  ),
  metadataProperty(
    D('getcontenttype'),
    hasContent,
    (res, req) =>
      req.plugins.byTag(res.collection.tag)?.itemContentTypeProperty(res.meta) ?? 'application/octet-stream',
    (res, req) => [req.plugins.byTag(res.info.tag)?.collectionContentTypeProperty ?? ''],
  ),
  metadataProperty(
    D('getcontentlength'),
    hasContent,
    (res) => String(res.meta.size),
    async (res, req) => [String(await collectionLength(res, req))],
  ),
  // In allprop as Radicale does (RFC 5397 says SHOULD NOT): clients following the 301 of
  // /.well-known/caldav lose the PROPFIND body (python-caldav/requests), so they ask allprop.
  live(
    D('current-user-principal'),
    true,
    () => true,
    (_res, req) =>
      req.user ? [elText(D('href'), principalHref(req, req.user))] : [el(D('unauthenticated'))],
  ),
  live(D('principal-URL'), true, isPrincipal, ownCollectionHref),
  live(
    D('principal-collection-set'),
    false,
    () => true,
    (_res, req) => [elText(D('href'), `${req.prefix}/`)],
  ),
  live(
    D('owner'),
    true,
    (res) => res.kind !== 'collection' || res.path !== '',
    (res, req) => {
      const path = res.kind === 'collection' ? res.path : res.kind === 'item' ? res.path : res.parentPath;
      const owner = splitPath(path)[0];
      return owner ? [elText(D('href'), principalHref(req, owner))] : [];
    },
  ),
  live(
    D('current-user-privilege-set'),
    false,
    () => true,
    (res, req) => req.access.privileges(res).map((p) => el(D('privilege'), el(D(p)))),
  ),
  live(
    D('supported-report-set'),
    false,
    () => true,
    (res, req) => req.plugins.reportsFor(res).map((r) => el(D('supported-report'), el(D('report'), el(r)))),
  ),
  // In allprop as Radicale does (RFC 6578 would leave it out), so that a client that lost its
  // PROPFIND body on the .well-known redirect still sees that the collection can sync; getctag as
  // the calendarserver.org ctag note asks.
  // Not on a converted collection (a bday share), which cannot be synced.
  live(D('sync-token'), true, isSyncable, async (res, req) =>
    res.kind === 'collection' ? [await req.storage.getSyncToken(res.path)] : [],
  ),
  live(CS('getctag'), true, isTagged, async (res, req) =>
    res.kind === 'collection' ? [await req.storage.getEtag(res.path)] : [],
  ),
  live(R('displayname'), false, isCollection, (res) =>
    res.kind === 'collection' ? [res.info.props['D:displayname'] ?? splitPath(res.path).at(-1) ?? ''] : [],
  ),
  live(R('getcontentcount'), false, hasContent, async (res, req) =>
    res.kind === 'collection' ? [String((await req.storage.listItems(res.path)).length)] : [],
  ),
  // Radicale tells its version to authenticated users (its web interface shows it); Almanac tells its
  // own name and version rather than pose as a Radicale release.
  live(
    R('version'),
    false,
    (_res, req) => req.user !== '',
    () => [`Almanac ${almanacVersion()}`],
  ),
  live(
    D('supportedlock'),
    false,
    () => true,
    () => [],
  ),
];

const liveByPlugins = new WeakMap<
  object,
  { list: readonly LiveProperty[]; byName: Map<string, LiveProperty> }
>();

function liveProperties(req: DavRequest): {
  list: readonly LiveProperty[];
  byName: Map<string, LiveProperty>;
} {
  let known = liveByPlugins.get(req.plugins);
  if (known === undefined) {
    const list = req.plugins.properties();
    known = { list, byName: new Map(list.map((p) => [p.name, p])) };
    liveByPlugins.set(req.plugins, known);
  }
  return known;
}

/** The live property of that name (the core's or another plugin's), if any. */
export function liveProperty(req: DavRequest, name: string): LiveProperty | undefined {
  return liveProperties(req).byName.get(name);
}

export function allLiveProperties(req: DavRequest): readonly LiveProperty[] {
  return liveProperties(req).list;
}

/** Stored props of a resource: a collection's, or an item's from the storage (Radicale keeps none). */
async function storedProps(req: DavRequest, res: Resource): Promise<Readonly<Record<string, string>>> {
  if (res.kind === 'collection') return res.info.props;
  if (res.kind === 'item') return req.storage.getItemProps(res.path, res.href);
  return {};
}

/** Stored (dead) props of a resource as Clark name → value. */
export async function deadProps(req: DavRequest, res: Resource): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(await storedProps(req, res))) {
    const name = keyToClark(k);
    if (name) out.set(name, v);
  }
  return out;
}

/** A property's value, with the xml:lang stored with it (dead and client-written properties). */
async function lookup(
  req: DavRequest,
  res: Resource,
  name: string,
  requested?: XmlElement,
): Promise<{ value: XmlNode[]; lang: string | undefined } | undefined> {
  const lp = liveProperties(req).byName.get(name);
  if (lp) {
    if (!lp.appliesTo(res, req)) return undefined;
    const lang = res.kind === 'collection' ? storedLang(res.info.props, propKey(name)) : undefined;
    return { value: await lp.get(res, req, requested), lang };
  }
  const key = propKey(name);
  if (res.kind === 'missing' || key === LANG_KEY) return undefined;
  const props = await storedProps(req, res);
  const v = props[key];
  return v === undefined ? undefined : { value: storedValueToXml(v), lang: storedLang(props, key) };
}

/** Looks up one property; undefined when the resource does not have it. */
export async function getProperty(
  req: DavRequest,
  res: Resource,
  name: string,
  requested?: XmlElement,
): Promise<XmlNode[] | undefined> {
  return (await lookup(req, res, name, requested))?.value;
}

/** Names for allprop/propname: live ones flagged allprop that apply, plus every dead one. */
export async function propertyNames(req: DavRequest, res: Resource, forAllprop: boolean): Promise<string[]> {
  const names = allLiveProperties(req)
    .filter((p) => (forAllprop ? p.allprop : true) && p.appliesTo(res, req))
    .map((p) => p.name);
  for (const n of (await deadProps(req, res)).keys()) if (!names.includes(n)) names.push(n);
  return names;
}

/** Evaluates a list of requested properties into propstat groups (200 found, 404 missing). */
export async function evaluateProps(
  req: DavRequest,
  res: Resource,
  names: readonly (string | XmlElement)[],
  namesOnly = false,
): Promise<Map<number, PropEntry[]>> {
  const groups = new Map<number, PropEntry[]>([
    [200, []],
    [404, []],
  ]);
  for (const wanted of names) {
    const name = typeof wanted === 'string' ? wanted : nameOf(wanted);
    if (namesOnly) {
      groups.get(200)?.push({ name });
      continue;
    }
    const found = await lookup(req, res, name, typeof wanted === 'string' ? undefined : wanted);
    if (found === undefined) groups.get(404)?.push({ name });
    else if (found.lang === undefined) groups.get(200)?.push({ name, value: found.value });
    else groups.get(200)?.push({ name, value: found.value, attrs: { 'xml:lang': found.lang } });
  }
  return groups;
}
