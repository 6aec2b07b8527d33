/**
 * POST to a scheduling outbox (RFC 6638 §5, §6.1.4): a VFREEBUSY REQUEST answered at once, per
 * attendee, from their calendars, as one C:schedule-response. Other iTIP messages are left to implicit
 * scheduling (a client of a calendar-auto-schedule server sends none) and refused.
 */
import ICAL from 'ical.js';
import type { DavRequest, DavResponse, PostTarget } from '../../dav/context.js';
import { DavError, forbidden } from '../../dav/errors.js';
import { bodyText } from '../../dav/request-body.js';
import { NS, clark, el, elText, serializeDocument, type XmlOut } from '../../dav/xml.js';
import { FreeBusyCollector } from '../freebusy.js';
import { parseCalendar } from '../parse.js';
import { isUserAddress, localUserOf } from './addresses.js';
import { OUTBOX, TRANSP_KEY, isPlainCalendar } from './collections.js';
import { attendeeProps, partstat, readObject } from './itip.js';
import { SCHEDULING_CONDITIONS } from './preconditions.js';
import type { SchedulingSettings } from './settings.js';

const C = (l: string): string => clark(NS.C, l);
const D = (l: string): string => clark(NS.D, l);

/** Attendees one free-busy request may ask about. */
export const MAX_FREEBUSY_ATTENDEES = 100;
/** Items read at once while collecting one attendee's busy time. */
const BATCH = 256;

const invalid = (why: string): DavError => forbidden(why, SCHEDULING_CONDITIONS.validSchedulingMessage);

/** Busy time of a user in [start, end): their calendars that count (not transparent, not boxes). */
async function busyOf(
  settings: SchedulingSettings,
  req: DavRequest,
  user: string,
  range: { start: number; end: number },
  reply: { method: string; lines: readonly string[] },
): Promise<string> {
  const busy = new FreeBusyCollector(new Date(range.start * 1000), new Date(range.end * 1000), {
    maxOccurrences: settings.maxFreebusyOccurrence,
  });
  for (const cal of await req.storage.listCollections(user)) {
    if (!isPlainCalendar(cal) || cal.props[TRANSP_KEY] === 'transparent') continue;
    const metas = (await req.storage.listItemsInRange(cal.path, range)).filter(
      (m) => m.component === 'VEVENT' || m.component === 'VFREEBUSY' || m.component === '',
    );
    for (let i = 0; i < metas.length; i += BATCH) {
      const hrefs = metas.slice(i, i + BATCH).map((m) => m.href);
      for await (const item of req.storage.getItems(cal.path, hrefs)) {
        if (declined(settings, req, user, item.text)) continue;
        busy.add(item.text);
        await new Promise((r) => setImmediate(r));
      }
    }
  }
  return busy.render(reply);
}

/** An invitation the user declined takes none of their time. */
function declined(settings: SchedulingSettings, req: DavRequest, user: string, text: string): boolean {
  if (!/PARTSTAT=DECLINED/i.test(text)) return false;
  const obj = readObject(text);
  if (!obj) return false;
  const lines = obj.comps
    .flatMap(attendeeProps)
    .filter((p) => isUserAddress(settings.addresses, req.prefix, user, String(p.getFirstValue())));
  return lines.length > 0 && lines.every((p) => partstat(p) === 'DECLINED');
}

function response(recipient: string, status: string, data?: string): XmlOut {
  return el(
    C('response'),
    el(C('recipient'), elText(D('href'), recipient)),
    elText(C('request-status'), status),
    ...(data !== undefined ? [elText(C('calendar-data'), data)] : []),
  );
}

async function freeBusy(settings: SchedulingSettings, req: DavRequest): Promise<DavResponse> {
  const owner = req.segments[0] ?? '';
  if (req.user !== owner) throw forbidden('Only its owner may POST to a scheduling outbox');
  const type = (req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'text/calendar') {
    throw new DavError(
      415,
      'A scheduling message is text/calendar',
      SCHEDULING_CONDITIONS.supportedCalendarData,
    );
  }
  let vcal: ICAL.Component;
  try {
    vcal = parseCalendar(await bodyText(req));
  } catch (e) {
    throw forbidden(`invalid iCalendar data: ${String(e)}`, SCHEDULING_CONDITIONS.validCalendarData);
  }
  const method = String(vcal.getFirstPropertyValue('method') ?? '').toUpperCase();
  const fb = vcal.getAllSubcomponents('vfreebusy');
  const comp = fb[0];
  if (method !== 'REQUEST' || fb.length !== 1 || !comp) {
    throw invalid('Only a VFREEBUSY REQUEST is answered here (invitations are sent by PUT)');
  }
  const organizer = comp.getFirstProperty('organizer');
  if (
    !organizer ||
    !isUserAddress(settings.addresses, req.prefix, owner, String(organizer.getFirstValue()))
  ) {
    throw forbidden('The ORGANIZER must be one of your addresses', SCHEDULING_CONDITIONS.organizerAllowed);
  }
  const start = comp.getFirstPropertyValue('dtstart');
  const end = comp.getFirstPropertyValue('dtend');
  if (!(start instanceof ICAL.Time) || !(end instanceof ICAL.Time) || end.compare(start) <= 0) {
    throw invalid('A free-busy request needs DTSTART before DTEND');
  }
  const attendees = comp.getAllProperties('attendee');
  if (attendees.length === 0) throw invalid('A free-busy request needs an ATTENDEE');
  if (attendees.length > MAX_FREEBUSY_ATTENDEES) {
    throw forbidden(
      `At most ${MAX_FREEBUSY_ATTENDEES} attendees per free-busy request`,
      SCHEDULING_CONDITIONS.maxAttendeesPerInstance,
    );
  }
  const range = { start: start.toUnixTime(), end: end.toUnixTime() };
  const uid = comp.getFirstProperty('uid');
  const responses: XmlOut[] = [];
  for (const attendee of attendees) {
    const address = String(attendee.getFirstValue());
    const user = await localUserOf(settings.addresses, req.storage, req.prefix, address);
    if (user === undefined) {
      responses.push(response(address, '3.7;Invalid calendar user'));
      continue;
    }
    const lines = [organizer.toICALString(), attendee.toICALString(), ...(uid ? [uid.toICALString()] : [])];
    try {
      responses.push(
        response(
          address,
          '2.0;Success',
          await busyOf(settings, req, user, range, { method: 'REPLY', lines }),
        ),
      );
    } catch (err) {
      if (!(err instanceof DavError)) throw err;
      req.log.warn(`scheduling: free-busy of ${user}: ${err.message}`);
      responses.push(response(address, '5.3;No scheduling support for user'));
    }
  }
  return {
    status: 200,
    headers: { 'Content-Type': 'application/xml; charset=utf-8' },
    body: serializeDocument(el(C('schedule-response'), ...responses)),
  };
}

/** POST to a user's outbox, answered with the scheduling settings. */
export const outboxPost = (settings: SchedulingSettings): PostTarget => ({
  name: 'schedule-outbox',
  matches: (req) => req.segments.length === 2 && req.segments[1] === OUTBOX,
  handle: (req) => freeBusy(settings, req),
});
