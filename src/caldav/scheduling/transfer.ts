/**
 * MOVE and COPY of calendar objects under RFC 6638. A MOVE between the calendars of one user is not a
 * scheduling operation (the calendar user still holds the object; nothing is sent). Refused with 403:
 * - anything into or out of a scheduling inbox or outbox (the server writes the boxes; their messages
 *   are not calendar objects);
 * - a MOVE of a scheduling object into another user's calendars: the organizer's or attendee's copy
 *   would leave its calendar user without a CANCEL or REPLY, and land where nobody schedules it;
 * - a COPY that would make a second scheduling object with the same UID in one user's calendars
 *   (CALDAV:unique-scheduling-object-resource, §3.2.4.1).
 */
import type { DavRequest, ItemTransfer } from '../../dav/context.js';
import { DavError, forbidden } from '../../dav/errors.js';
import { itemHref } from '../../dav/href.js';
import { boxOf, isPlainCalendar } from './collections.js';
import { findObject } from './deliver.js';
import { readObject } from './itip.js';
import { SCHEDULING_CONDITIONS } from './preconditions.js';

/** A scheduling object resource: an organizer and attendees (the text is not parsed for the test). */
export function isSchedulingText(text: string): boolean {
  return /^ORGANIZER[;:]/m.test(text) && /^ATTENDEE[;:]/m.test(text);
}

const ownerOf = (path: string): string => path.split('/')[0] ?? '';

export async function schedulingTransfer(req: DavRequest, t: ItemTransfer): Promise<void> {
  const method = t.isMove ? 'MOVE' : 'COPY';
  const box = boxOf(t.toCollection) ?? boxOf(t.from.collection);
  if (box !== undefined) throw forbidden(`The scheduling ${box} takes no ${method} of its items`);
  if (!isPlainCalendar(t.from.collection) || !isPlainCalendar(t.toCollection)) return;
  let text = '';
  for await (const item of req.storage.getItems(t.from.path, [t.from.href])) text = item.text;
  if (!isSchedulingText(text)) return;
  const fromOwner = ownerOf(t.from.path);
  const toOwner = ownerOf(t.toPath);
  if (t.isMove && fromOwner === toOwner) return;
  if (t.isMove) {
    throw forbidden(
      `A scheduling object can only be moved between ${fromOwner}'s own calendars; ` +
        "to hand it to another user, invite them (or PUT a copy without the organizer's attendees)",
    );
  }
  const uid = readObject(text)?.uid ?? '';
  const other = await findObject(req.storage, toOwner, uid, { path: t.toPath, href: t.toHref });
  if (other) {
    throw new DavError(
      403,
      `Another scheduling object in ${toOwner}'s calendars has UID ${uid}`,
      SCHEDULING_CONDITIONS.uniqueSchedulingObjectResource,
      [itemHref(req.prefix, other.path, other.meta.href)],
    );
  }
}
