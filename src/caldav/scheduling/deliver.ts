/**
 * Delivery of iTIP messages to local users (RFC 6638 §4): the message into the recipient's inbox and
 * their copy of the object updated in their calendar. Each copy is read, changed and written under
 * the collection's write lock with an ETag check (written again from a fresh read when it changed
 * meanwhile), so concurrent deliveries and the user's own writes are never lost.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { StaleWrite } from '../../dav/errors.js';
import type { ChangeContext, ItemMeta, Storage } from '../../storage/types.js';
import { describeCalendarItem } from '../item.js';
import { boxOf, defaultCalendar, ensureBox, isPlainCalendar } from './collections.js';
import { readObject, type SchedObject } from './itip.js';
import { addressKey } from './addresses.js';
import type { SchedulingSettings } from './settings.js';

export interface DeliveryEnv {
  readonly storage: Storage;
  readonly settings: SchedulingSettings;
  readonly log: Logger;
  /** The user whose write caused the delivery, and the request, for the storage hook. */
  readonly user: string;
  readonly request: string;
}

/** Where a user keeps an object: the first of their calendars (boxes left out) holding the UID. */
export async function findObject(
  storage: Storage,
  user: string,
  uid: string,
  except?: { path: string; href: string },
): Promise<{ path: string; meta: ItemMeta } | undefined> {
  if (uid === '') return undefined;
  const calendars = (await storage.listCollections(user)).filter(isPlainCalendar);
  calendars.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const cal of calendars) {
    const meta = await storage.findByUid(cal.path, uid);
    if (!meta) continue;
    if (except && except.path === cal.path && except.href === meta.href) continue;
    return { path: cal.path, meta };
  }
  return undefined;
}

async function readText(storage: Storage, path: string, href: string): Promise<Item | undefined> {
  for await (const item of storage.getItems(path, [href])) return { text: item.text, etag: item.etag };
  return undefined;
}

interface Item {
  readonly text: string;
  readonly etag: string;
}

const ctxFor = (env: DeliveryEnv, path: string, href?: string): ChangeContext => ({
  user: env.user,
  path: href === undefined ? `/${path}/` : `/${path}/${href}`,
  request: env.request,
});

/** An item name for a new copy: the UID when it is a plain name (as clients name them), else random. */
function copyHref(uid: string): string {
  return /^[A-Za-z0-9_.@~-]{1,200}$/.test(uid) && !uid.startsWith('.') ? `${uid}.ics` : `${randomUUID()}.ics`;
}

const ATTEMPTS = 5;

/**
 * Reads the item, computes its new text, writes it if nothing changed it meanwhile. `change` gets
 * the current text (undefined: none) and returns the new one, or undefined to leave it.
 */
export async function rewriteItem(
  env: DeliveryEnv,
  path: string,
  href: string,
  change: (current: string | undefined) => string | undefined,
): Promise<boolean> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const current = await readText(env.storage, path, href);
    const text = change(current?.text);
    if (text === undefined) return false;
    try {
      await env.storage.putItem(
        path,
        href,
        { text, description: describeCalendarItem(text) },
        (existing) => {
          if (existing?.etag !== current?.etag) throw new StaleWrite();
        },
        ctxFor(env, path, href),
      );
      return true;
    } catch (err) {
      if (!(err instanceof StaleWrite)) throw err;
    }
  }
  env.log.warn(`scheduling: /${path}/${href} kept changing, left as it was`);
  return false;
}

/** Puts a message into the user's inbox (a new item each time). */
export async function toInbox(env: DeliveryEnv, user: string, message: string): Promise<boolean> {
  const inbox = await ensureBox(env.storage, user, 'inbox', ctxFor(env, `${user}/schedule-inbox`));
  if (!inbox) {
    env.log.warn(`scheduling: /${user}/schedule-inbox/ is not an inbox, message not kept`);
    return false;
  }
  const href = `${randomUUID()}.ics`;
  await env.storage.putItem(
    inbox.path,
    href,
    { text: message, description: describeCalendarItem(message) },
    () => undefined,
    ctxFor(env, inbox.path, href),
  );
  return true;
}

export type CopyUpdate = (previous: SchedObject | undefined) => string | undefined;

/**
 * Delivers an organizer's message (REQUEST or CANCEL) to a local attendee: their copy updated as
 * `update` says (in the calendar that holds the UID, else their default calendar), then the message
 * into their inbox. Returns the SCHEDULE-STATUS: 1.2 delivered, 3.8 when they hold the UID from
 * another organizer (which is left alone), 5.1 when it could not be stored.
 */
export async function deliverToAttendee(
  env: DeliveryEnv,
  user: string,
  uid: string,
  component: string,
  organizer: string,
  message: string,
  update: CopyUpdate,
): Promise<string> {
  try {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const found = await findObject(env.storage, user, uid);
      const current = found ? await readText(env.storage, found.path, found.meta.href) : undefined;
      const previous = current ? readObject(current.text) : undefined;
      if (
        found &&
        previous?.organizer !== undefined &&
        addressKey(previous.organizer) !== addressKey(organizer)
      ) {
        env.log.warn(`scheduling: ${user} holds ${uid} from another organizer, ${organizer} refused`);
        return '3.8';
      }
      const text = update(previous);
      if (text === undefined) break;
      const target = found
        ? { path: found.path, href: found.meta.href }
        : {
            path: (
              await defaultCalendar(
                env.storage,
                user,
                component,
                env.settings.defaultCalendar,
                ctxFor(env, user),
              )
            ).path,
            href: copyHref(uid),
          };
      try {
        await env.storage.putItem(
          target.path,
          target.href,
          { text, description: describeCalendarItem(text) },
          (existing, _c, sameUid) => {
            if (existing?.etag !== current?.etag || sameUid) throw new StaleWrite();
          },
          ctxFor(env, target.path, target.href),
        );
        break;
      } catch (err) {
        if (!(err instanceof StaleWrite)) throw err;
        if (attempt === ATTEMPTS) return '5.1';
      }
    }
    await toInbox(env, user, message);
    return '1.2';
  } catch (err) {
    env.log.error(`scheduling: delivery of ${uid} to ${user} failed: ${String(err)}`);
    return '5.1';
  }
}

/**
 * Delivers an attendee's REPLY to a local organizer: `merge` applied to the organizer's copy, the
 * message into their inbox. Returns 2.0, or 5.1 when it could not be stored.
 */
export async function deliverToOrganizer(
  env: DeliveryEnv,
  user: string,
  uid: string,
  message: string,
  merge: (organizerCopy: SchedObject) => string | undefined,
): Promise<string> {
  try {
    const found = await findObject(env.storage, user, uid);
    if (found) {
      await rewriteItem(env, found.path, found.meta.href, (text) => {
        const obj = text === undefined ? undefined : readObject(text);
        return obj ? merge(obj) : undefined;
      });
    }
    await toInbox(env, user, message);
    return '2.0';
  } catch (err) {
    env.log.error(`scheduling: reply to ${user} for ${uid} failed: ${String(err)}`);
    return '5.1';
  }
}

export { boxOf };
