/// <reference lib="dom" />
/**
 * The user's collections as the web interface shows them, and the DAV requests that list, create,
 * edit and delete them.
 */
import type { DavClient } from './dav.js';
import { NS, XMLNS, childText, clark, escapeXml, type DavResponse } from './dav-xml.js';
import { randomUuid } from './ical-split.js';

export type CollectionKind = 'calendar' | 'addressbook' | 'subscription';
export const COMPONENTS = ['VEVENT', 'VTODO', 'VJOURNAL'] as const;

export interface Collection {
  readonly href: string;
  readonly kind: CollectionKind;
  /** Calendar component types (VEVENT, VTODO, VJOURNAL) for calendars. */
  readonly components: readonly string[];
  readonly name: string;
  /** `#rrggbb`, or null when unset or unreadable. */
  readonly color: string | null;
  readonly description: string;
  /** Subscription URL of a webcal subscription. */
  readonly source: string;
  readonly count: number | null;
  readonly size: number | null;
}

/** What the create/edit form collects. */
export interface CollectionSpec {
  readonly kind: CollectionKind;
  readonly components: readonly string[];
  readonly name: string;
  readonly color: string;
  readonly description: string;
  readonly source: string;
}

const LIST_PROPS = [
  '<D:resourcetype/>',
  '<D:displayname/>',
  '<ICAL:calendar-color/>',
  '<INF:addressbook-color/>',
  '<C:calendar-description/>',
  '<CR:addressbook-description/>',
  '<C:supported-calendar-component-set/>',
  '<CS:source/>',
  '<RADICALE:getcontentcount/>',
  '<D:getcontentlength/>',
];

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

/** `#rrggbb` from the `#rrggbb` / `#rrggbbaa` forms clients store. */
export function normalizeColor(value: string): string | null {
  const m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(value.trim());
  return m === null ? null : `#${(m[1] ?? '').toLowerCase()}`;
}

function lastSegment(href: string): string {
  const parts = href.split('/').filter((p) => p !== '');
  const last = parts[parts.length - 1] ?? href;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

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

/** The properties a collection of this kind carries, as `D:prop` children (used by MKCOL and PROPPATCH). */
function editableProps(spec: CollectionSpec): { set: string[]; remove: string[] } {
  const isBook = spec.kind === 'addressbook';
  const colorTag = isBook ? 'INF:addressbook-color' : 'ICAL:calendar-color';
  const descTag = isBook ? 'CR:addressbook-description' : 'C:calendar-description';
  const set: string[] = [];
  const remove: string[] = [];
  const put = (tag: string, value: string): void => {
    if (value === '') remove.push(`<${tag}/>`);
    else set.push(`<${tag}>${escapeXml(value)}</${tag}>`);
  };
  put('D:displayname', spec.name);
  // Clients such as DAVx5 and InfCloud store colours with an alpha byte.
  put(colorTag, spec.color === '' ? '' : `${spec.color}ff`);
  put(descTag, spec.description);
  return { set, remove };
}

export function mkcolBody(spec: CollectionSpec): string {
  const type =
    spec.kind === 'calendar'
      ? '<C:calendar/>'
      : spec.kind === 'addressbook'
        ? '<CR:addressbook/>'
        : '<CS:subscribed/>';
  const props = [`<D:resourcetype><D:collection/>${type}</D:resourcetype>`, ...editableProps(spec).set];
  if (spec.kind === 'calendar') {
    const comps = spec.components.map((c) => `<C:comp name="${escapeXml(c)}"/>`).join('');
    props.push(`<C:supported-calendar-component-set>${comps}</C:supported-calendar-component-set>`);
  }
  if (spec.kind === 'subscription') {
    props.push(`<CS:source><D:href>${escapeXml(spec.source)}</D:href></CS:source>`);
  }
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:mkcol ${XMLNS}><D:set><D:prop>${props.join('')}</D:prop></D:set></D:mkcol>`;
}

export function proppatchBody(spec: CollectionSpec): string {
  const { set, remove } = editableProps(spec);
  if (spec.kind === 'subscription')
    set.push(`<CS:source><D:href>${escapeXml(spec.source)}</D:href></CS:source>`);
  const parts = [
    set.length > 0 ? `<D:set><D:prop>${set.join('')}</D:prop></D:set>` : '',
    remove.length > 0 ? `<D:remove><D:prop>${remove.join('')}</D:prop></D:remove>` : '',
  ];
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate ${XMLNS}>${parts.join('')}</D:propertyupdate>`;
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

export function kindLabel(c: Pick<Collection, 'kind' | 'components'>): string {
  if (c.kind === 'addressbook') return 'Address book';
  if (c.kind === 'subscription') return 'Subscription';
  const names: Record<string, string> = { VEVENT: 'events', VTODO: 'tasks', VJOURNAL: 'journal' };
  const what = c.components.map((x) => names[x] ?? x.toLowerCase());
  if (what.length === 1 && what[0] === 'tasks') return 'Task list';
  if (what.length === 1 && what[0] === 'journal') return 'Journal';
  return what.length === 0 ? 'Calendar' : `Calendar (${what.join(', ')})`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i] ?? 'TB'}`;
}
