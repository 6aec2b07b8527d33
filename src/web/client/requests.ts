/**
 * The pure part of the web client: collection model, DAV request bodies and display formatting.
 * No DOM here (so Node's unit tests can import it); the modules that touch the page are `*.mts`.
 */

export const NS = {
  D: 'DAV:',
  C: 'urn:ietf:params:xml:ns:caldav',
  CR: 'urn:ietf:params:xml:ns:carddav',
  CS: 'http://calendarserver.org/ns/',
  ICAL: 'http://apple.com/ns/ical/',
  INF: 'http://inf-it.com/ns/ab/',
  RADICALE: 'http://radicale.org/ns/',
} as const;

/** `xmlns:` declarations for every prefix in NS, for the root element of a request body. */
export const XMLNS = Object.entries(NS)
  .map(([p, uri]) => `xmlns:${p}="${uri}"`)
  .join(' ');

export const clark = (ns: string, local: string): string => `{${ns}}${local}`;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The DAV root for a page at `<prefix>/.web/...`: the prefix plus a slash, so it works behind a proxy path. */
export function davBaseFromPath(pathname: string): string {
  const i = pathname.indexOf('/.web');
  return (i < 0 ? '' : pathname.slice(0, i)) + '/';
}

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
  /** `#rrggbb`, or '' for none. */
  readonly color: string;
  readonly description: string;
  readonly source: string;
}

export const LIST_PROPS = [
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

export function propfindBody(props: readonly string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:propfind ${XMLNS}><D:prop>${props.join('')}</D:prop></D:propfind>`;
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

// Stored as plain text, the way Radicale keeps dead properties in `.Radicale.props`.
const sourceProp = (url: string): string => `<CS:source>${escapeXml(url)}</CS:source>`;

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
  if (spec.kind === 'subscription') props.push(sourceProp(spec.source));
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:mkcol ${XMLNS}><D:set><D:prop>${props.join('')}</D:prop></D:set></D:mkcol>`;
}

export function proppatchBody(spec: CollectionSpec): string {
  const { set, remove } = editableProps(spec);
  if (spec.kind === 'subscription') set.push(sourceProp(spec.source));
  return propertyUpdate(set, remove);
}

/** Sets just the display name (of a collection created by an upload). */
export function displaynameBody(name: string): string {
  return propertyUpdate([`<D:displayname>${escapeXml(name)}</D:displayname>`], []);
}

function propertyUpdate(set: readonly string[], remove: readonly string[]): string {
  const parts = [
    set.length > 0 ? `<D:set><D:prop>${set.join('')}</D:prop></D:set>` : '',
    remove.length > 0 ? `<D:remove><D:prop>${remove.join('')}</D:prop></D:remove>` : '',
  ];
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate ${XMLNS}>${parts.join('')}</D:propertyupdate>`;
}

/** `#rrggbb` from the `#rrggbb` / `#rrggbbaa` forms clients store. */
export function normalizeColor(value: string): string | null {
  const m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(value.trim());
  return m === null ? null : `#${(m[1] ?? '').toLowerCase()}`;
}

/** The last path segment of an href, decoded: the fallback name of a collection without displayname. */
export function lastSegment(href: string): string {
  const parts = href.split('/').filter((p) => p !== '');
  const last = parts[parts.length - 1] ?? href;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
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

/** A download name without characters that file systems refuse. */
export function safeFileName(name: string): string {
  const cleaned = Array.from(name, (ch) => (ch < ' ' || '\\/:*?"<>|'.includes(ch) ? '_' : ch)).join('');
  return cleaned.trim() || 'collection';
}
