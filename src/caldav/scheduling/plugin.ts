/**
 * CalDAV scheduling (RFC 6638) as a DAV plugin, registered only with `[scheduling] enabled = True`:
 * the principal's addresses and boxes, the inbox and outbox resource types, schedule-calendar-transp,
 * Schedule-Tag, implicit scheduling on item writes, and the calendar-auto-schedule compliance class.
 */
import { isSchedulingText, schedulingTransfer } from './transfer.js';
import type { DavPlugin, DavRequest, LiveProperty, Resource } from '../../dav/context.js';
import { collectionHref, hrefToSegments, splitPath } from '../../dav/href.js';
import { itemText } from '../../dav/item-text.js';
import { makeLiveProperty as prop } from '../../dav/properties.js';
import { NS, child, clark, el, elText, textContent, type XmlElement, type XmlNode } from '../../dav/xml.js';
import type { ChangeContext } from '../../storage/types.js';
import { userAddresses } from './addresses.js';
import {
  DEFAULT_CALENDAR_KEY,
  TRANSP_KEY,
  boxOf,
  boxPath,
  ensureBox,
  isPlainCalendar,
  type Box,
} from './collections.js';
import { schedulingHook } from './implicit.js';
import type { Mailer } from './imip.js';
import { scheduleTag } from './itip.js';
import { outboxPost } from './outbox.js';
import type { SchedulingSettings } from './settings.js';

const C = (l: string): string => clark(NS.C, l);
const D = (l: string): string => clark(NS.D, l);

const isPrincipal = (res: Resource): boolean =>
  res.kind === 'collection' && res.info.tag === '' && splitPath(res.path).length === 1;
const isInbox = (res: Resource): boolean => res.kind === 'collection' && boxOf(res.info) === 'inbox';
const isCalendar = (res: Resource): boolean => res.kind === 'collection' && isPlainCalendar(res.info);
const isCalendarItem = (res: Resource): boolean => res.kind === 'item' && isPlainCalendar(res.collection);

/** The href of a user's box; the box is created when the user asks for their own. */
async function boxHref(res: Resource, req: DavRequest, box: Box): Promise<XmlNode[]> {
  if (res.kind !== 'collection') return [];
  const user = res.path;
  const path = boxPath(user, box);
  if (req.user === user) {
    const ctx: ChangeContext = { user: req.user, path: `/${path}/`, request: req.method };
    if (!(await ensureBox(req.storage, user, box, ctx))) return [];
  }
  return [elText(D('href'), collectionHref(req.prefix, path))];
}

/** A user's default calendar as the inbox names it, else the first of their calendars. */
async function defaultCalendarHref(res: Resource, req: DavRequest): Promise<XmlNode[]> {
  if (res.kind !== 'collection') return [];
  const user = splitPath(res.path)[0] ?? '';
  const chosen = res.info.props[DEFAULT_CALENDAR_KEY];
  if (chosen !== undefined) return [elText(D('href'), collectionHref(req.prefix, chosen))];
  const first = (await req.storage.listCollections(user))
    .filter(isPlainCalendar)
    .map((c) => c.path)
    .sort()[0];
  return first === undefined ? [] : [elText(D('href'), collectionHref(req.prefix, first))];
}

const properties = (settings: SchedulingSettings): readonly LiveProperty[] => [
  prop(C('calendar-user-address-set'), isPrincipal, (res, req) =>
    res.kind === 'collection'
      ? userAddresses(settings.addresses, req.prefix, res.path).map((a) => elText(D('href'), a))
      : [],
  ),
  prop(C('calendar-user-type'), isPrincipal, () => ['INDIVIDUAL']),
  prop(C('schedule-inbox-URL'), isPrincipal, (res, req) => boxHref(res, req, 'inbox')),
  prop(C('schedule-outbox-URL'), isPrincipal, (res, req) => boxHref(res, req, 'outbox')),
  prop(C('schedule-default-calendar-URL'), isInbox, defaultCalendarHref, {
    writable: true,
    // Stored as the calendar's path (`alice/work`); an href that names none is stored as given.
    storeAs: (value: XmlElement) => {
      const href = textContent(child(value, NS.D, 'href') ?? value).trim();
      return hrefToSegments(href, '')?.segments.join('/') ?? href;
    },
  }),
  prop(
    C('schedule-calendar-transp'),
    isCalendar,
    (res) =>
      res.kind === 'collection' && res.info.props[TRANSP_KEY] === 'transparent'
        ? [el(C('transparent'))]
        : [el(C('opaque'))],
    {
      writable: true,
      storeAs: (value: XmlElement) => (child(value, NS.C, 'transparent') ? 'transparent' : 'opaque'),
    },
  ),
  prop(C('schedule-tag'), isCalendarItem, async (res, req) => [scheduleTag(await itemText(req, res))]),
];

/** The scheduling plugin, built once at start-up from its settings and the iMIP mailer. */
export function schedulingPlugin(settings: SchedulingSettings, mailer: Mailer): DavPlugin {
  return {
    properties: properties(settings),
    compliance: ['calendar-auto-schedule'],
    resourceType: (info) => {
      const box = boxOf(info);
      return box === undefined ? undefined : C(box === 'inbox' ? 'schedule-inbox' : 'schedule-outbox');
    },
    itemWrite: schedulingHook(settings, mailer),
    itemTransfer: schedulingTransfer,
    principalAliases: (req, user) => userAddresses(settings.addresses, req.prefix, user),
    // RFC 6638 §3.2.10: GET of a scheduling object resource (an organizer and attendees) carries its tag.
    itemGetHeaders: (res, text): Record<string, string> =>
      isCalendarItem(res) && isSchedulingText(text) ? { 'Schedule-Tag': scheduleTag(text) } : {},
    postTargets: [outboxPost(settings)],
  };
}
