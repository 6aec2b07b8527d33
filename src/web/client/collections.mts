/**
 * The user's collections: listing them from a depth-1 PROPFIND of the principal, and the DAV
 * requests that create, edit and delete them.
 */
import type { DavClient } from './dav.mjs';
import { childText, type DavResponse } from './dav-xml.mjs';
import { randomUuid } from './ical-split.js';
import {
  COMPONENTS,
  LIST_PROPS,
  NS,
  clark,
  lastSegment,
  mkcolBody,
  normalizeColor,
  proppatchBody,
  type Collection,
  type CollectionKind,
  type CollectionSpec,
} from './requests.js';

export async function listCollections(dav: DavClient, principal: string): Promise<Collection[]> {
  const responses = await dav.propfind(principal, '1', LIST_PROPS);
  const own = new URL(principal, location.href).pathname;
  return responses
    .filter((r) => new URL(r.href, location.href).pathname !== own)
    .map(toCollection)
    .filter((c): c is Collection => c !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
}

function kindOf(r: DavResponse): CollectionKind | null {
  const rt = r.props.get(clark(NS.D, 'resourcetype'));
  if (rt === undefined) return null;
  const has = (ns: string, local: string): boolean => rt.getElementsByTagNameNS(ns, local).length > 0;
  if (has(NS.C, 'calendar')) return 'calendar';
  if (has(NS.CR, 'addressbook')) return 'addressbook';
  if (has(NS.CS, 'subscribed')) return 'subscription';
  return null;
}

function propText(r: DavResponse, ns: string, local: string): string {
  return r.props.get(clark(ns, local))?.textContent?.trim() ?? '';
}

function numberProp(r: DavResponse, ns: string, local: string): number | null {
  const t = propText(r, ns, local);
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** Calendars, address books and subscriptions; plain folders are not shown. */
function toCollection(r: DavResponse): Collection | null {
  const kind = kindOf(r);
  if (kind === null) return null;
  const isBook = kind === 'addressbook';
  const compSet = r.props.get(clark(NS.C, 'supported-calendar-component-set'));
  const components = compSet
    ? Array.from(compSet.getElementsByTagNameNS(NS.C, 'comp'), (c) =>
        (c.getAttribute('name') ?? '').toUpperCase(),
      )
    : [...COMPONENTS];
  // CalendarServer puts the URL in a DAV:href child; accept plain text too.
  const sourceEl = r.props.get(clark(NS.CS, 'source'));
  const source = sourceEl ? (childText(sourceEl, NS.D, 'href') ?? sourceEl.textContent ?? '').trim() : '';
  return {
    href: r.href,
    kind,
    components: kind === 'calendar' ? components : [],
    name: propText(r, NS.D, 'displayname') || lastSegment(r.href),
    color: normalizeColor(
      isBook ? propText(r, NS.INF, 'addressbook-color') : propText(r, NS.ICAL, 'calendar-color'),
    ),
    description: isBook
      ? propText(r, NS.CR, 'addressbook-description')
      : propText(r, NS.C, 'calendar-description'),
    source,
    count: numberProp(r, NS.RADICALE, 'getcontentcount'),
    size: numberProp(r, NS.D, 'getcontentlength'),
  };
}

const XML_HEADERS = { 'Content-Type': 'application/xml; charset=utf-8' };

/** Creates a collection under the principal with a random UUID as its path segment; returns its href. */
export async function createCollection(
  dav: DavClient,
  principal: string,
  spec: CollectionSpec,
): Promise<string> {
  const href = `${principal}${randomUuid()}/`;
  await dav.request('MKCOL', href, { headers: XML_HEADERS, body: mkcolBody(spec) });
  return href;
}

export async function updateCollection(dav: DavClient, href: string, spec: CollectionSpec): Promise<void> {
  await dav.request('PROPPATCH', href, { headers: XML_HEADERS, body: proppatchBody(spec) });
}

export async function deleteCollection(dav: DavClient, href: string): Promise<void> {
  await dav.request('DELETE', href);
}
