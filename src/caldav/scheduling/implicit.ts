/**
 * Implicit scheduling (RFC 6638 §3): a PUT or DELETE of a scheduling object resource in a calendar
 * makes the server send the iTIP messages it implies. An organizer's write sends REQUEST to the
 * attendees it invites or changes and CANCEL to those it removes or cancels; an attendee's change of
 * their PARTSTAT (or their DELETE) sends a REPLY to the organizer. Local users get the message in
 * their inbox and their copy updated (deliver.ts); others get it by mail (imip.ts).
 *
 * The organizer's (or attendee's) own write is stored first, as one atomic write whose plan is checked
 * under the collection's lock against the version the plan was made from; the messages follow it.
 */
import ICAL from 'ical.js';
import type { DavRequest, ItemWrite, ItemWriteHook, ItemWritePlan } from '../../dav/context.js';
import { DavError, StaleWrite, forbidden, preconditionFailed } from '../../dav/errors.js';
import { itemHref } from '../../dav/href.js';
import { addressKey, isUserAddress, localUserOf, mailOf } from './addresses.js';
import { boxOf, isPlainCalendar } from './collections.js';
import {
  deliverToAttendee,
  deliverToOrganizer,
  findObject,
  rewriteItem,
  type DeliveryEnv,
} from './deliver.js';
import type { Mailer } from './imip.js';
import type { SchedulingSettings } from './settings.js';
import {
  allAttendees,
  attendeeComponents,
  attendeeCopy,
  attendeeOf,
  attendeeProps,
  cancelledCopy,
  cancelledInstances,
  forceSend,
  mergeReply,
  organizerMessage,
  partstat,
  readObject,
  replyMessage,
  ridKey,
  scheduleAgent,
  scheduleTag,
  timing,
  viewChanged,
  type SchedObject,
} from './itip.js';
import { SCHEDULING_CONDITIONS } from './preconditions.js';

interface Message {
  readonly address: string;
  readonly key: string;
  readonly method: 'REQUEST' | 'CANCEL';
  /** Components of the message. */
  readonly comps: ICAL.Component[];
  /** The whole object is cancelled for this attendee (removed, or the object deleted). */
  readonly all: boolean;
  readonly user: string | undefined;
  readonly predicted: string;
  status: string;
}

async function readStored(
  req: DavRequest,
  write: ItemWrite,
): Promise<{ text: string; etag: string } | undefined> {
  for await (const item of req.storage.getItems(write.path, [write.href])) {
    return { text: item.text, etag: item.etag };
  }
  return undefined;
}

const isScheduling = (obj: SchedObject | undefined): obj is SchedObject =>
  obj !== undefined && obj.organizer !== undefined && obj.comps.some((c) => attendeeProps(c).length > 0);

function envOf(settings: SchedulingSettings, req: DavRequest): DeliveryEnv {
  return { storage: req.storage, settings, log: req.log, user: req.user, request: req.method };
}

export function schedulingHook(settings: SchedulingSettings, mailer: Mailer): ItemWriteHook {
  return async (req: DavRequest, write: ItemWrite): Promise<ItemWritePlan | undefined> => {
    const box = boxOf(write.collection);
    if (box !== undefined) {
      // RFC 6638 §2.2, §2.1: the server writes the boxes; a client may only delete from the inbox.
      if (write.text !== undefined) throw forbidden(`The scheduling ${box} takes no PUT`);
      if (box === 'outbox') throw forbidden('The scheduling outbox holds nothing to delete');
      return undefined;
    }
    if (!isPlainCalendar(write.collection)) return undefined;
    const owner = write.path.split('/')[0] ?? '';
    const stored = await readStored(req, write);
    const wanted = req.header('if-schedule-tag-match');
    if (wanted !== undefined && (!stored || scheduleTag(stored.text) !== wanted.trim())) {
      throw preconditionFailed('If-Schedule-Tag-Match: the Schedule-Tag has changed');
    }
    const before = stored ? readObject(stored.text) : undefined;
    const after = write.text !== undefined ? readObject(write.text, true) : undefined;
    const unchanged = (existing: { etag: string } | undefined): void => {
      if (existing?.etag !== stored?.etag) throw new StaleWrite();
    };
    const oldSched = isScheduling(before) ? before : undefined;
    const newSched = isScheduling(after) ? after : undefined;
    if (!oldSched && !newSched) {
      return wanted !== undefined ? { check: unchanged } : undefined;
    }
    const mine = (a: string): boolean => isUserAddress(settings.addresses, req.prefix, owner, a);
    const organizer = (newSched ?? oldSched)?.organizer ?? '';
    if (newSched && !stored) await uniqueObject(req, write, owner, newSched.uid);
    if (oldSched && newSched && mine(oldSched.organizer ?? '') && !mine(newSched.organizer ?? '')) {
      throw forbidden(
        'The organizer of a scheduling object cannot be changed',
        SCHEDULING_CONDITIONS.allowedOrganizerChange,
      );
    }
    if (mine(organizer))
      return organizerPlan(settings, req, write, mailer, oldSched, newSched, mine, unchanged);
    return attendeePlan(settings, req, mailer, oldSched, newSched, mine, unchanged);
  };
}

/** RFC 6638 §3.2.4.1: one scheduling object per UID in a user's calendars. */
async function uniqueObject(req: DavRequest, write: ItemWrite, owner: string, uid: string): Promise<void> {
  const other = await findObject(req.storage, owner, uid, { path: write.path, href: write.href });
  if (other && other.path !== write.path) {
    throw new DavError(
      403,
      `Another scheduling object in ${owner}'s calendars has UID ${uid}`,
      SCHEDULING_CONDITIONS.uniqueSchedulingObjectResource,
      [itemHref(req.prefix, other.path, other.meta.href)],
    );
  }
}

/**
 * Status predicted before delivery (RFC 6638 §3.2.9): 1.2 delivered, 1.1 sent by mail, 5.1 cannot be.
 * The mailer's answer (1.0 pending, 5.1, 5.3 over the rate limit) replaces a 1.1 afterwards.
 */
function predict(user: string | undefined, address: string, mailer: Mailer): string {
  if (user !== undefined) return '1.2';
  return mailOf(address) !== undefined && mailer.configured ? '1.1' : '5.1';
}

function setStatus(obj: SchedObject, key: string, status: string): void {
  for (const comp of obj.comps) attendeeOf(comp, key)?.setParameter('schedule-status', status);
}

/** The object's own VCALENDAR (its components changed in place) as stored text. */
function serialize(obj: SchedObject): string {
  return obj.vcal.toString().replace(/\r?\n/g, '\r\n') + '\r\n';
}

function tagHeader(text: string | undefined): Record<string, string> {
  return text !== undefined ? { 'Schedule-Tag': scheduleTag(text) } : {};
}

async function organizerPlan(
  settings: SchedulingSettings,
  req: DavRequest,
  write: ItemWrite,
  mailer: Mailer,
  before: SchedObject | undefined,
  after: SchedObject | undefined,
  mine: (a: string) => boolean,
  unchanged: (existing: { etag: string } | undefined) => void,
): Promise<ItemWritePlan> {
  const obj = (after ?? before) as SchedObject;
  const oldByRid = new Map((before?.comps ?? []).map((c) => [ridKey(c), c]));
  let rewritten = false;
  if (after) {
    // A rescheduled instance asks its attendees again (unless the client set their PARTSTAT itself).
    for (const comp of after.comps) {
      const old = oldByRid.get(ridKey(comp));
      const moved = old !== undefined && timing(old) !== timing(comp);
      for (const attendee of attendeeProps(comp)) {
        if (forceSend(attendee) !== undefined) {
          attendee.removeParameter('schedule-force-send');
          rewritten = true;
        }
        if (!moved || mine(String(attendee.getFirstValue())) || scheduleAgent(attendee) !== 'SERVER')
          continue;
        const was = old ? attendeeOf(old, addressKey(String(attendee.getFirstValue()))) : undefined;
        if (partstat(attendee) !== 'NEEDS-ACTION' && partstat(attendee) === partstat(was)) {
          attendee.setParameter('partstat', 'NEEDS-ACTION');
          attendee.setParameter('rsvp', 'TRUE');
          rewritten = true;
        }
      }
    }
  }
  const forced = new Set<string>();
  for (const comp of write.text !== undefined ? (readObject(write.text)?.comps ?? []) : []) {
    for (const attendee of attendeeProps(comp)) {
      if (forceSend(attendee) === 'REQUEST') forced.add(addressKey(String(attendee.getFirstValue())));
    }
  }
  const messages: Message[] = [];
  for (const address of allAttendees(after, mine).concat(allAttendees(before, mine))) {
    const key = addressKey(address);
    if (messages.some((m) => m.key === key)) continue;
    const line = [...(after?.comps ?? []), ...(before?.comps ?? [])]
      .map((c) => attendeeOf(c, key))
      .find((p) => p !== undefined);
    if (!line || scheduleAgent(line) !== 'SERVER') continue;
    const nowIn = after ? attendeeComponents(after, key) : [];
    const wasIn = before ? attendeeComponents(before, key) : [];
    const user = await localUserOf(settings.addresses, req.storage, req.prefix, address);
    const predicted = predict(user, address, mailer);
    const base = { address, key, user, predicted, status: predicted };
    if (nowIn.length === 0) {
      if (wasIn.length > 0) messages.push({ ...base, method: 'CANCEL', comps: wasIn, all: true });
      continue;
    }
    const cancelled = after ? cancelledInstances(before, after, key) : [];
    if (cancelled.length > 0 && !forced.has(key)) {
      messages.push({ ...base, method: 'CANCEL', comps: cancelled, all: false });
    } else if (forced.has(key) || (after && viewChanged(before, after, key))) {
      messages.push({ ...base, method: 'REQUEST', comps: nowIn, all: false });
    }
  }
  if (after) {
    for (const m of messages) if (m.method === 'REQUEST' || !m.all) setStatus(after, m.key, m.status);
    if (messages.length > 0) rewritten = true;
  }
  const text = after && rewritten ? serialize(after) : undefined;
  const finalText = text ?? write.text;
  return {
    ...(text !== undefined ? { text } : {}),
    check: unchanged,
    after: async (meta) => {
      const env = envOf(settings, req);
      const organizer = obj.organizer ?? '';
      const final = finalText !== undefined ? readObject(finalText) : undefined;
      // Mails go out side by side (each bounded by the mailer's timeout), local deliveries in turn.
      const mails: Promise<void>[] = [];
      for (const m of messages) {
        const message = organizerMessage(obj, m.comps, m.method);
        if (m.user !== undefined) {
          m.status = await deliverToAttendee(
            env,
            m.user,
            obj.uid,
            obj.component,
            organizer,
            message,
            (prev) => {
              if (m.all) return prev ? cancelledCopy(prev) : undefined;
              return final ? attendeeCopy(final, m.key, prev) : undefined;
            },
          );
        } else {
          const mail = {
            from: organizer,
            to: m.address,
            method: m.method,
            text: message,
            predicted: m.status,
          };
          mails.push(
            mailer.send(req, mail).then((status) => {
              m.status = status;
            }),
          );
        }
      }
      await Promise.all(mails);
      // A delivery that went otherwise than predicted (refused, failed) is written into the
      // organizer's copy (a server change: its Schedule-Tag stays).
      const wrong = messages.filter((m) => (m.method === 'REQUEST' || !m.all) && m.status !== m.predicted);
      if (finalText !== undefined && meta && wrong.length > 0) {
        await rewriteItem(env, write.path, write.href, (current) => {
          const latest = current === undefined ? undefined : readObject(current);
          if (!latest) return undefined;
          for (const m of wrong) setStatus(latest, m.key, m.status);
          return serialize(latest);
        }).catch((err: unknown) => req.log.warn(`scheduling: status not recorded: ${String(err)}`));
      }
      return tagHeader(finalText);
    },
  };
}

function attendeePlan(
  settings: SchedulingSettings,
  req: DavRequest,
  mailer: Mailer,
  before: SchedObject | undefined,
  after: SchedObject | undefined,
  mine: (a: string) => boolean,
  unchanged: (existing: { etag: string } | undefined) => void,
): ItemWritePlan | undefined {
  const obj = (after ?? before) as SchedObject;
  const myLine = obj.comps.flatMap(attendeeProps).find((p) => mine(String(p.getFirstValue())));
  if (!myLine) {
    // Neither organizer nor attendee: someone's object kept as it is (no scheduling from here).
    return { check: unchanged };
  }
  const key = addressKey(String(myLine.getFirstValue()));
  if (before && after) {
    if (addressKey(before.organizer ?? '') !== addressKey(after.organizer ?? '')) {
      throw forbidden(
        'An attendee cannot change the organizer of a scheduling object',
        SCHEDULING_CONDITIONS.allowedAttendeeChange,
      );
    }
    const others = (version: SchedObject): string =>
      allAttendees(version, (a) => addressKey(a) === key)
        .map(addressKey)
        .sort()
        .join(' ');
    if (others(before) !== others(after)) {
      throw forbidden(
        'An attendee cannot add or remove other attendees',
        SCHEDULING_CONDITIONS.allowedAttendeeChange,
      );
    }
  }
  const organizerLine = obj.comps.map((c) => c.getFirstProperty('organizer')).find((p) => p !== null);
  const agent = organizerLine ? scheduleAgent(organizerLine) : 'SERVER';
  const rids = new Set<string>();
  let declineAll = false;
  if (after) {
    const oldByRid = new Map((before?.comps ?? []).map((c) => [ridKey(c), c]));
    const oldMaster = oldByRid.get('');
    for (const comp of after.comps) {
      const line = attendeeOf(comp, key);
      if (!line) continue;
      const old = oldByRid.get(ridKey(comp)) ?? oldMaster;
      const was = old ? attendeeOf(old, key) : undefined;
      if (!before || partstat(line) !== partstat(was) || forceSend(line) === 'REPLY') rids.add(ridKey(comp));
    }
    // A new copy the attendee stores with NEEDS-ACTION (a client saving the invitation) says nothing yet.
    if (!before && after.comps.every((c) => partstat(attendeeOf(c, key)) === 'NEEDS-ACTION')) rids.clear();
  } else if (before) {
    const cancelled = before.comps.every(
      (c) => String(c.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED',
    );
    if (!cancelled) {
      for (const c of before.comps) if (attendeeOf(c, key)) rids.add(ridKey(c));
      declineAll = true;
    }
  }
  let text: string | undefined;
  if (
    after &&
    after.comps.some(
      (c) =>
        (c.getFirstProperty('organizer') && forceSend(c.getFirstProperty('organizer') as ICAL.Property)) ||
        (attendeeOf(c, key) && forceSend(attendeeOf(c, key) as ICAL.Property)),
    )
  ) {
    for (const c of after.comps) {
      c.getFirstProperty('organizer')?.removeParameter('schedule-force-send');
      attendeeOf(c, key)?.removeParameter('schedule-force-send');
    }
    text = serialize(after);
  }
  const finalText = text ?? (after ? serialize(after) : undefined);
  return {
    ...(text !== undefined ? { text } : {}),
    check: unchanged,
    after: async () => {
      if (agent === 'SERVER' && rids.size > 0 && obj.organizer !== undefined) {
        const source = declineAll ? (before as SchedObject) : obj;
        const message = replyMessage(source, key, rids, declineAll);
        const reply = readObject(message);
        const user = await localUserOf(settings.addresses, req.storage, req.prefix, obj.organizer);
        if (user !== undefined && reply) {
          await deliverToOrganizer(envOf(settings, req), user, obj.uid, message, (copy) =>
            mergeReply(copy, reply, key),
          );
        } else if (user === undefined) {
          await mailer.send(req, {
            from: String(myLine.getFirstValue()),
            to: obj.organizer,
            method: 'REPLY',
            text: message,
            predicted: '1.1',
          });
        }
      }
      return tagHeader(finalText);
    },
  };
}
