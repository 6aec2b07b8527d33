/**
 * CalDAV (RFC 4791) plugged into the WebDAV core: the calendar collection kind, its properties and
 * its reports.
 */
import type {
  CollectionKind,
  DavPlugin,
  DavRequest,
  DavResponse,
  LiveProperty,
  Resource,
} from '../dav/context.js';
import { COLLATIONS } from '../dav/collation.js';
import { DavError, badRequest, conflict, forbidden } from '../dav/errors.js';
import { collectionHref, hrefOf } from '../dav/href.js';
import { createCollection, type CollectionCreation } from '../dav/methods/mkcol.js';
import { failedUpdateResponse } from '../dav/prop-updates.js';
import { multistatus, multistatusStream } from '../dav/multistatus.js';
import { propResponse, reportPropRequest, type PropRequest } from '../dav/prop-request.js';
import { multiget } from '../dav/reports/multiget.js';
import { itemText, loadTexts, withTexts } from '../dav/item-text.js';
import { yielder } from '../dav/yielder.js';
import { asksForStoredText } from '../dav/item-responses.js';
import { isPrincipal, makeLiveProperty as prop, ownCollectionHref } from '../dav/properties.js';
import { NS, child, childrenNamed, clark, elText, type XmlElement, type XmlNode } from '../dav/xml.js';
import type { ItemMeta } from '../storage/types.js';
import { parseCalendarDataRequest, renderCalendarData, type ExpandCount } from './calendar-data.js';
import {
  type CalendarFilter,
  filterComponent,
  filterTimeRange,
  matchCalendarFilter,
  parseCalendarFilter,
  parseTimeRange,
} from './filter.js';
import { FreeBusyCollector } from './freebusy.js';
import {
  describeCalendarItem,
  validateCalendarObject,
  verifyCalendarItem,
  type CalendarObjectInfo,
} from './item.js';
import { IN_PLACE_UP_TO, runInWorker } from '../dav/worker-task.js';
import { exportCalendarStream } from './export.js';
import { splitUpload } from './upload.js';
import { parseUtcDateTime } from './utc.js';
import type { TimeRange } from './time-range.js';
import { CALDAV_CONDITIONS, CALENDAR_ITEM_CONDITIONS } from './preconditions.js';
import { DAV_CONDITIONS } from '../dav/preconditions.js';
import { DEFAULT_COMPONENTS, supportedComponents } from './components.js';
import type { CalDavSettings } from './settings.js';

const C = (l: string): string => clark(NS.C, l);
const D = (l: string): string => clark(NS.D, l);

export { DEFAULT_COMPONENTS, supportedComponents };

const isCalendar = (res: Resource): boolean => res.kind === 'collection' && res.info.tag === 'VCALENDAR';
const isCalendarItem = (res: Resource): boolean => res.kind === 'item' && res.collection.tag === 'VCALENDAR';

/** C:expand instances per REPORT: `[reporting] max_expand_occurrence` limits the whole answer. */
const expandCounts = new WeakMap<DavRequest, ExpandCount>();

function expandCount(req: DavRequest): ExpandCount {
  let count = expandCounts.get(req);
  if (!count) expandCounts.set(req, (count = { instances: 0 }));
  return count;
}

/** The range of a C:expand the request asks for, if any. */
function expandRange(preq: PropRequest): TimeRange | undefined {
  if (preq.kind !== 'prop') return undefined;
  const data = preq.names.find((p) => p.ns === NS.C && p.local === 'calendar-data');
  return data === undefined ? undefined : parseCalendarDataRequest(data).expand;
}

/**
 * Whether an object has an instance in the range of a C:expand: one without any would be answered
 * with a VCALENDAR holding no component (invalid iCalendar, RFC 5545 §3.4), so a calendar-query
 * leaves it out, as Radicale 3.8 does.
 */
function hasInstanceIn(range: TimeRange, text: string): boolean {
  return DEFAULT_COMPONENTS.some((name) =>
    matchCalendarFilter(
      {
        root: {
          name: 'VCALENDAR',
          isNotDefined: false,
          propFilters: [],
          compFilters: [{ name, isNotDefined: false, timeRange: range, propFilters: [], compFilters: [] }],
        },
      },
      text,
    ),
  );
}

const calendarKind = (settings: CalDavSettings): CollectionKind => ({
  tag: 'VCALENDAR',
  preconditions: CALENDAR_ITEM_CONDITIONS,
  resourceType: C('calendar'),
  suffix: '.ics',
  exportContentType: 'text/calendar; charset=utf-8',
  mediaTypes: ['text/calendar'],
  itemContentType: () => 'text/calendar; charset=utf-8',
  itemContentTypeProperty: (meta: ItemMeta) =>
    meta.component
      ? `text/calendar;charset=utf-8;component=${meta.component}`
      : 'text/calendar;charset=utf-8',
  collectionContentTypeProperty: 'text/calendar',
  validateItem: (text, collection) => {
    const opts = {
      supportedComponents: supportedComponents(collection),
      maxOccurrences: settings.maxVeventRruleOccurrence,
    };
    // A big item (an event with a large attachment) is read in a worker: other users are served.
    if (text.length <= IN_PLACE_UP_TO) return validateCalendarObject(text, opts);
    return runInWorker<CalendarObjectInfo>(import.meta.url, './validate-worker', { text, opts });
  },
  describe: describeCalendarItem,
  verifyItem: verifyCalendarItem,
  splitUpload,
  exportCollection: (items, info) => {
    const props: { displayname?: string; description?: string } = {};
    const name = info.props['D:displayname'];
    const desc = info.props['C:calendar-description'];
    if (name !== undefined) props.displayname = name;
    if (desc !== undefined) props.description = desc;
    return exportCalendarStream(items, props);
  },
  sniff: (text) => /^\s*BEGIN:VCALENDAR/i.test(text),
});

function userAddresses(res: Resource, req: DavRequest): XmlNode[] {
  if (res.kind !== 'collection') return [];
  const user = res.path;
  const out: XmlNode[] = [];
  if (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(user)) out.push(elText(D('href'), `mailto:${user}`));
  out.push(elText(D('href'), collectionHref(req.prefix, res.path)));
  return out;
}

const properties = (settings: CalDavSettings): readonly LiveProperty[] => [
  prop(C('calendar-home-set'), isPrincipal, ownCollectionHref),
  prop(C('calendar-user-address-set'), isPrincipal, userAddresses),
  prop(
    C('supported-calendar-component-set'),
    isCalendar,
    (res) =>
      res.kind === 'collection'
        ? supportedComponents(res.info).map((c) => ({ name: C('comp'), attrs: { name: c } }))
        : [],
    {
      allprop: true,
      writable: true,
      storeAs: (value: XmlElement) =>
        childrenNamed(value, NS.C, 'comp')
          .map((c) => (c.attrs.name ?? '').toUpperCase())
          .filter(Boolean)
          .join(','),
    },
  ),
  prop(C('supported-calendar-data'), isCalendar, () => [
    { name: C('calendar-data'), attrs: { 'content-type': 'text/calendar', version: '2.0' } },
  ]),
  prop(C('max-resource-size'), isCalendar, () => [String(settings.maxResourceSize)]),
  prop(C('supported-collation-set'), isCalendar, () =>
    COLLATIONS.map((c) => elText(C('supported-collation'), c)),
  ),
  prop(
    C('calendar-data'),
    isCalendarItem,
    async (res, req, requested) => {
      const text = await itemText(req, res);
      const dataReq = parseCalendarDataRequest(requested);
      const maxExpand = settings.maxExpandOccurrence;
      return [renderCalendarData(text, dataReq, { maxExpand, count: expandCount(req) })];
    },
    { verbatimText: asksForStoredText },
  ),
];

/** A C:time-range whose end is not after its start: no instance of anything overlaps it. */
function isEmptyTimeRange(el: XmlElement): boolean {
  if (el.ns !== NS.C || el.local !== 'time-range') return false;
  const s = el.attrs['start'];
  const e = el.attrs['end'];
  const start = s === undefined ? undefined : parseUtcDateTime(s);
  const end = e === undefined ? undefined : parseUtcDateTime(e);
  return start !== undefined && end !== undefined && end <= start;
}

function withoutEmptyTimeRanges(el: XmlElement): { el: XmlElement; found: boolean } {
  let found = false;
  const children: XmlElement[] = [];
  for (const c of el.children) {
    if (isEmptyTimeRange(c)) {
      found = true;
      continue;
    }
    const inner = withoutEmptyTimeRanges(c);
    found ||= inner.found;
    children.push(inner.el);
  }
  return { el: { ...el, children }, found };
}

const MATCH_ALL: XmlElement = {
  ns: NS.C,
  local: 'filter',
  attrs: {},
  text: '',
  children: [{ ns: NS.C, local: 'comp-filter', attrs: { name: 'VCALENDAR' }, children: [], text: '' }],
};

/**
 * The filter of a calendar-query, read as leniently as Radicale where the intent is clear: no
 * C:filter, or one without a comp-filter, matches every object; a time range whose end is not after
 * its start matches none (undefined). Anything else malformed is still 403 valid-filter.
 */
function queryFilter(body: XmlElement): CalendarFilter | undefined {
  const filterEl = child(body, NS.C, 'filter');
  if (!filterEl || childrenNamed(filterEl, NS.C, 'comp-filter').length === 0) {
    return parseCalendarFilter(MATCH_ALL);
  }
  const { el, found } = withoutEmptyTimeRanges(filterEl);
  const filter = parseCalendarFilter(el);
  return found ? undefined : filter;
}

async function calendarQuery(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  const parsed = queryFilter(body);
  const preq = reportPropRequest(body);
  if (parsed === undefined) return multistatusStream([]);
  const filter: CalendarFilter = parsed;
  const targets: (Resource & { kind: 'item' })[] = [];
  if (res.kind === 'item') targets.push(res);
  else if (res.kind === 'collection' && res.info.tag === 'VCALENDAR') {
    const comp = filterComponent(filter);
    const range = filterTimeRange(filter);
    // Candidates from the storage's index (time range and component); the filter decides exactly.
    const candidates = range
      ? await req.storage.listItemsInRange(res.path, range, comp)
      : (await req.storage.listItems(res.path)).filter((m) => !comp || !m.component || m.component === comp);
    for (const meta of candidates) {
      targets.push({ kind: 'item', path: res.path, href: meta.href, meta, collection: res.info });
    }
  } else
    throw new DavError(
      403,
      'calendar-query needs a calendar',
      CALDAV_CONDITIONS.calendarCollectionLocationOk,
    );
  // In batches (withTexts): a query over a huge calendar never holds every candidate's text at once.
  const expand = expandRange(preq);
  async function* matches(): AsyncIterable<XmlNode> {
    for await (const { item, text } of withTexts(req, targets)) {
      if (!matchCalendarFilter(filter, text)) continue;
      if (expand && !hasInstanceIn(expand, text)) continue;
      yield await propResponse(req, item, preq);
    }
  }
  // Expanded answers are limited as a whole (max_expand_occurrence): computed before the first byte,
  // so that going past the limit is a complete 400, not a multistatus cut short. The limit bounds
  // what is held meanwhile.
  if (expand) {
    const all: XmlNode[] = [];
    for await (const r of matches()) all.push(r);
    return multistatus(all);
  }
  return multistatusStream(matches());
}

async function freeBusyQuery(
  settings: CalDavSettings,
  req: DavRequest,
  res: Resource,
  body: XmlElement,
): Promise<DavResponse> {
  if (res.kind !== 'collection' || res.info.tag !== 'VCALENDAR')
    throw badRequest('free-busy-query needs a calendar');
  const tr = child(body, NS.C, 'time-range');
  if (!tr) throw badRequest('free-busy-query needs a time-range');
  const range = parseTimeRange(tr);
  if (!Number.isFinite(range.start) || !Number.isFinite(range.end))
    throw badRequest('time-range needs start and end');
  const targets: (Resource & { kind: 'item' })[] = [];
  for (const meta of await req.storage.listItemsInRange(res.path, range)) {
    if (meta.component !== 'VEVENT' && meta.component !== 'VFREEBUSY') continue;
    targets.push({ kind: 'item', path: res.path, href: meta.href, meta, collection: res.info });
  }
  await loadTexts(req, targets);
  const busy = new FreeBusyCollector(new Date(range.start * 1000), new Date(range.end * 1000), {
    maxOccurrences: settings.maxFreebusyOccurrence,
  });
  const pause = yielder();
  for (const t of targets) {
    await pause();
    busy.add(await itemText(req, t));
  }
  return { status: 200, headers: { 'Content-Type': 'text/calendar; charset=utf-8' }, body: busy.render() };
}

/** MKCALENDAR (RFC 4791 §5.3.1): MKCOL's creation, answered as RFC 4791 says. */
const MKCALENDAR: CollectionCreation = {
  tag: 'VCALENDAR',
  refuseBody: (message) => badRequest(message),
  refuseNonXml: false,
  // RFC 4791 §5.3.1.1 leaves 403 or 409; Radicale answers 409, so do we.
  exists: () => conflict('A resource already exists there', DAV_CONDITIONS.resourceMustBeNull),
  nested: () =>
    forbidden(
      'Collections cannot be created inside a calendar or address book',
      CALDAV_CONDITIONS.calendarCollectionLocationOk,
    ),
  // RFC 4791 §5.3.1.1: a property that cannot be set fails the request with a 207 Multi-Status.
  failed: (req, result) =>
    multistatus([failedUpdateResponse(hrefOf(req.prefix, req.segments, true), result)]),
};

/** The CalDAV plugin, built once at start-up from its settings. */
export const calDavPlugin = (settings: CalDavSettings): DavPlugin => ({
  methods: { MKCALENDAR: { handler: (req) => createCollection(req, MKCALENDAR) } },
  createBodies: [C('mkcalendar')],
  kinds: [calendarKind(settings)],
  // CalendarServer's subscribed calendars (Radicale's VSUBSCRIBED): a URL to a calendar elsewhere.
  itemlessKinds: [
    {
      tag: 'VSUBSCRIBED',
      resourceType: clark(NS.CS, 'subscribed'),
      putRefusal: 'Subscriptions have no items',
    },
  ],
  // RFC 6638 §2.4.1: clients look attendees up by address (the property is CalDAV's whatever scheduling is).
  searchableProperties: [C('calendar-user-address-set')],
  properties: properties(settings),
  compliance: ['calendar-access'],
  reports: {
    [C('calendar-multiget')]: { handler: multiget, appliesTo: (r) => isCalendar(r) },
    [C('calendar-query')]: { handler: calendarQuery, appliesTo: (r) => isCalendar(r) || isCalendarItem(r) },
    [C('free-busy-query')]: {
      handler: (req, res, body) => freeBusyQuery(settings, req, res, body),
      appliesTo: isCalendar,
    },
  },
});
