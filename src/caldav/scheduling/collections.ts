/**
 * The scheduling collections of a principal (RFC 6638 §2.2, §2.1): inbox and outbox, created on demand,
 * and the default calendar that invitations go to.
 *
 * Both boxes are stored as ordinary calendar collections (`tag` VCALENDAR) with one extra props key
 * naming their role, so Radicale serving the same folder reads them as two calendars and nothing
 * breaks; Almanac presents them as C:schedule-inbox and C:schedule-outbox.
 */
import type { CollectionInfo, ChangeContext, Storage } from '../../storage/types.js';
import { StorageError } from '../../storage/types.js';
import { supportedComponents } from '../components.js';

export const INBOX = 'schedule-inbox';
export const OUTBOX = 'schedule-outbox';
/** The props key that marks a box: its value is 'inbox' or 'outbox'. */
export const BOX_KEY = '{urn:x-almanac:scheduling}box';
/** The props key of schedule-default-calendar-URL on the inbox (the calendar's path). */
export const DEFAULT_CALENDAR_KEY = 'C:schedule-default-calendar-URL';
/** The props key of schedule-calendar-transp on a calendar ('transparent' or 'opaque'). */
export const TRANSP_KEY = 'C:schedule-calendar-transp';

export type Box = 'inbox' | 'outbox';

export function boxOf(info: CollectionInfo): Box | undefined {
  const v = info.props[BOX_KEY];
  return v === 'inbox' || v === 'outbox' ? v : undefined;
}

/** A calendar that holds calendar objects (not a scheduling box). */
export function isPlainCalendar(info: CollectionInfo): boolean {
  return info.tag === 'VCALENDAR' && boxOf(info) === undefined;
}

export function boxPath(user: string, box: Box): string {
  return `${user}/${box === 'inbox' ? INBOX : OUTBOX}`;
}

/** Creates the collection unless it exists (a concurrent creation is not an error). */
async function create(
  storage: Storage,
  path: string,
  props: Record<string, string>,
  ctx: ChangeContext,
): Promise<CollectionInfo | undefined> {
  try {
    return await storage.createCollection(path, props, ctx);
  } catch (err) {
    if (err instanceof StorageError && err.code === 'exists') return storage.getCollection(path);
    throw err;
  }
}

async function ensurePrincipal(storage: Storage, user: string, ctx: ChangeContext): Promise<void> {
  if (!(await storage.getCollection(user))) await create(storage, user, {}, ctx);
}

/**
 * The user's inbox or outbox, created when missing. Undefined when the name is taken by a collection
 * that is not that box (a calendar the user called so): scheduling then leaves it alone.
 */
export async function ensureBox(
  storage: Storage,
  user: string,
  box: Box,
  ctx: ChangeContext,
): Promise<CollectionInfo | undefined> {
  const path = boxPath(user, box);
  let info = await storage.getCollection(path);
  if (!info) {
    await ensurePrincipal(storage, user, ctx);
    info = await create(
      storage,
      path,
      {
        tag: 'VCALENDAR',
        [BOX_KEY]: box,
        'D:displayname': box === 'inbox' ? 'Scheduling inbox' : 'Scheduling outbox',
      },
      ctx,
    );
  }
  return info && boxOf(info) === box ? info : undefined;
}

/**
 * Where invitations of a component type go for a user: the inbox's schedule-default-calendar-URL when
 * it names a calendar of theirs that takes the component, else their first such calendar by name, else
 * a new calendar `[scheduling] default_calendar`.
 */
export async function defaultCalendar(
  storage: Storage,
  user: string,
  component: string,
  name: string,
  ctx: ChangeContext,
): Promise<CollectionInfo> {
  const takes = (info: CollectionInfo | undefined): info is CollectionInfo =>
    info !== undefined && isPlainCalendar(info) && supportedComponents(info).includes(component);
  const inbox = await storage.getCollection(boxPath(user, 'inbox'));
  const chosen = inbox?.props[DEFAULT_CALENDAR_KEY];
  if (chosen !== undefined && chosen.split('/')[0] === user) {
    const info = await storage.getCollection(chosen);
    if (takes(info)) return info;
  }
  await ensurePrincipal(storage, user, ctx);
  const calendars = (await storage.listCollections(user))
    .filter(takes)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const first = calendars[0];
  if (first) return first;
  const path = `${user}/${name || 'calendar'}`;
  const made = await create(storage, path, { tag: 'VCALENDAR', 'D:displayname': 'Calendar' }, ctx);
  if (takes(made)) return made;
  throw new StorageError('conflict', `no calendar for invitations of ${user}: ${path} is taken`);
}
