/**
 * The one share service behind the standard sharing protocols (calendarserver-sharing and
 * draft-pot-webdav-resource-sharing, two XML front-ends in cs.ts and dav.ts): every share they make is
 * a Radicale map share record in the share database, so the Radicale API (`/.sharing/v1`), Radicale
 * itself and these protocols see the same shares.
 *
 * - An invitation is a map share of the owner's collection for one user, enabled by its owner and not
 *   yet by its user, at `/<sharee>/<owner>-<collection>/` (`-2`, `-3`... when that name is taken).
 * - Accepting sets EnabledByUser (and shows it: HiddenByUser False); declining clears EnabledByUser and
 *   is remembered as declined; removal by the owner deletes the record.
 * - What the share database has no field for (the invitation's summary, the common name the owner
 *   gave, which protocol made it, declined, a notification the sharee deleted) is kept in the props of
 *   the sharee's notification collection (notifications.ts), one JSON value.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Rights } from '../../rights/types.js';
import { StorageError, type ChangeContext, type CollectionInfo, type Storage } from '../../storage/types.js';
import { AccessDenied, DavError } from '../../dav/errors.js';
import { collectionHref } from '../../dav/href.js';
import { calendarUserAddresses, mailAddresses } from '../../caldav/scheduling/addresses.js';
import { radicaleTimestamp, storagePath, type ShareRecord } from '../record.js';
import type { ShareStore } from '../store.js';

export type InviteStatus = 'noresponse' | 'accepted' | 'declined';
export type Protocol = 'cs' | 'dav';

/** What the share record cannot hold, per share (keyed by PathOrToken in the sharee's notes). */
export interface InviteNote {
  readonly protocol?: Protocol;
  readonly summary?: string;
  readonly commonName?: string;
  readonly declined?: boolean;
  /** The sharee deleted the notification (the invitation stays open). */
  readonly dismissed?: boolean;
  /** The sharee answered through a protocol (the owner is told: a reply notification). */
  readonly answered?: boolean;
  /** What the sharee wrote with the answer (CS:summary, DAV:comment). */
  readonly replySummary?: string;
}

/** A sharee's answer as the owner's notification collection shows it. */
export interface Reply {
  readonly invite: Invite;
  /** The notification's identifier: one per answer. */
  readonly uid: string;
}

export interface Invite {
  readonly record: ShareRecord;
  readonly status: InviteStatus;
  readonly note: InviteNote;
  /** The notification's identifier (CS:uid, and the notification resource's name). */
  readonly uid: string;
}

/** The notification collection of a user, and the props key that marks it. */
export const NOTIFICATIONS = 'notifications';
export const NOTIFICATIONS_KEY = '{urn:x-almanac:sharing}role';
/** The props key of the invitation notes (JSON: PathOrToken → InviteNote). */
export const NOTES_KEY = '{urn:x-almanac:sharing}invites';
/** The props key of the reply notifications the owner deleted (JSON: a list of their uids). */
export const SEEN_KEY = '{urn:x-almanac:sharing}replies-seen';

export function notificationsPath(user: string): string {
  return `${user}/${NOTIFICATIONS}`;
}

export function isNotificationCollection(info: CollectionInfo): boolean {
  return info.props[NOTIFICATIONS_KEY] === NOTIFICATIONS;
}

/** The invitation's stable identifier: a new share (even at the same path) gets a new one. */
export function inviteUid(r: ShareRecord): string {
  return createHash('sha256')
    .update(`${r.PathOrToken}\n${r.PathMapped}\n${String(r.TimestampCreated)}`)
    .digest('hex')
    .slice(0, 32);
}

/** A user's address as the protocols show it: a mail address when one is known, else the principal. */
export function userHref(config: Config, prefix: string, user: string): string {
  const mail = mailAddresses(calendarUserAddresses(config), user)[0];
  return mail !== undefined ? `mailto:${mail}` : collectionHref(prefix, user);
}

function seenOf(text: string | undefined): string[] {
  if (text === undefined) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function parseNotes(text: string | undefined): Record<string, InviteNote> {
  if (text === undefined) return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, InviteNote>;
  } catch {
    // a damaged value counts as none
  }
  return {};
}

export interface InviteDeps {
  readonly config: Config;
  /** The storage and rights without any share view. */
  readonly storage: Storage;
  readonly rights: Rights;
  readonly store: ShareStore;
  readonly log: Logger;
}

export class Invites {
  constructor(private readonly deps: InviteDeps) {}

  private ctx(user: string, path: string): ChangeContext {
    return { user, path: `/${path}/`, request: 'POST' };
  }

  /** The user's notification collection, created (with the principal) when missing; undefined if taken. */
  async ensureNotifications(user: string, by: string): Promise<CollectionInfo | undefined> {
    const { storage } = this.deps;
    const path = notificationsPath(user);
    let info = await storage.getCollection(path);
    if (!info) {
      if (!(await storage.getCollection(user))) await this.create(user, {}, by);
      info = await this.create(
        path,
        { 'D:displayname': 'Notifications', [NOTIFICATIONS_KEY]: NOTIFICATIONS },
        by,
      );
    }
    return info && isNotificationCollection(info) ? info : undefined;
  }

  private async create(
    path: string,
    props: Record<string, string>,
    by: string,
  ): Promise<CollectionInfo | undefined> {
    try {
      return await this.deps.storage.createCollection(path, props, this.ctx(by, path));
    } catch (err) {
      if (err instanceof StorageError && err.code === 'exists') return this.deps.storage.getCollection(path);
      throw err;
    }
  }

  async notesOf(user: string): Promise<Record<string, InviteNote>> {
    const info = await this.deps.storage.getCollection(notificationsPath(user));
    return info && isNotificationCollection(info) ? parseNotes(info.props[NOTES_KEY]) : {};
  }

  /** Changes the note of one share in the sharee's notes (undefined removes it). */
  private async setNote(
    user: string,
    key: string,
    change: (n: InviteNote | undefined) => InviteNote | undefined,
    by: string,
  ): Promise<void> {
    const info = await this.ensureNotifications(user, by);
    if (!info) return;
    await this.deps.storage.setProps(
      info.path,
      (props) => {
        const notes = parseNotes(props[NOTES_KEY]);
        const next = change(notes[key]);
        const kept = Object.entries(notes).filter(([k]) => k !== key);
        if (next !== undefined) kept.push([key, next]);
        return { ...props, [NOTES_KEY]: JSON.stringify(Object.fromEntries(kept)) };
      },
      this.ctx(by, info.path),
    );
  }

  private inviteOf(r: ShareRecord, note: InviteNote | undefined): Invite {
    const n = note ?? {};
    const status: InviteStatus = r.EnabledByUser ? 'accepted' : n.declined ? 'declined' : 'noresponse';
    return { record: r, status, note: n, uid: inviteUid(r) };
  }

  /** The map shares of the owner's collection (`alice/cal`) for single users, with their state. */
  async shareesOf(mapped: string): Promise<Invite[]> {
    const rows = (await this.deps.store.list()).filter(
      (r) =>
        r.ShareType === 'map' &&
        storagePath(r.PathMapped) === mapped &&
        r.Conversion === 'none' &&
        !/^[:@]/.test(r.User),
    );
    const out: Invite[] = [];
    for (const r of rows) out.push(this.inviteOf(r, (await this.notesOf(r.User))[r.PathOrToken]));
    return out;
  }

  /** Whether any map share (of any user, group or realm) stands for the owner's collection. */
  async isShared(mapped: string): Promise<boolean> {
    return (await this.deps.store.list()).some(
      (r) => r.ShareType === 'map' && storagePath(r.PathMapped) === mapped,
    );
  }

  /** The map share a user has at `key` (the sharee's path, `bob/alice-cal`), if any. */
  async shareAt(user: string, key: string): Promise<Invite | undefined> {
    const r = (await this.deps.store.list()).find(
      (x) => x.ShareType === 'map' && x.User === user && storagePath(x.PathOrToken) === key,
    );
    return r ? this.inviteOf(r, (await this.notesOf(user))[r.PathOrToken]) : undefined;
  }

  /** Every map share for the user (by name), with its state. */
  async invitesFor(user: string): Promise<Invite[]> {
    const notes = await this.notesOf(user);
    return (await this.deps.store.list())
      .filter((r) => r.ShareType === 'map' && r.User === user && r.Conversion === 'none')
      .map((r) => this.inviteOf(r, notes[r.PathOrToken]));
  }

  /** The invitations the user's notification collection shows: offered, not answered, not deleted. */
  async pendingFor(user: string): Promise<Invite[]> {
    return (await this.invitesFor(user)).filter(
      (i) => i.record.EnabledByOwner && i.status === 'noresponse' && !i.note.dismissed,
    );
  }

  private mayShare(owner: string, groups: ReadonlySet<string>, mapped: string): boolean {
    const letters = this.deps.rights.authorization(owner, groups, mapped);
    if (!letters.includes('r')) return false;
    const s = this.deps.config.sharing;
    // As the API's create (Radicale's code and tests): permit_create_map, refined by m / M.
    return s.permit_create_map ? !letters.includes('M') : letters.includes('m');
  }

  /** A free sharee path for the owner's collection: `/bob/alice-cal/`, else `-2`, `-3`... */
  private async freePath(sharee: string, owner: string, mapped: string): Promise<string> {
    const taken = new Set(
      (await this.deps.store.list()).filter((r) => r.ShareType === 'map').map((r) => r.PathOrToken),
    );
    const name = `${owner}-${mapped.split('/').slice(1).join('-')}`.replace(/[^A-Za-z0-9._@+-]/g, '_');
    for (let n = 1; n < 1000; n++) {
      const key = `/${sharee}/${n === 1 ? name : `${name}-${String(n)}`}/`;
      if (taken.has(key)) continue;
      if (await this.deps.storage.getCollection(storagePath(key))) continue;
      return key;
    }
    throw new DavError(409, 'No free path for the share in the sharee\u2019s home');
  }

  /**
   * Invites `sharee` to the owner's collection (`mapped`, `alice/cal`) with read or read-write access,
   * or changes the access of an existing share. A share that was declined or whose notification was
   * deleted is offered again.
   */
  async set(opts: {
    readonly owner: string;
    readonly groups: ReadonlySet<string>;
    readonly mapped: string;
    readonly sharee: string;
    readonly write: boolean;
    readonly protocol: Protocol;
    readonly summary?: string;
    readonly commonName?: string;
  }): Promise<Invite> {
    const { owner, mapped, sharee } = opts;
    const { store, rights, log } = this.deps;
    if (sharee === owner) throw new DavError(403, 'A collection cannot be shared with its owner');
    if (!this.mayShare(owner, opts.groups, mapped))
      throw new AccessDenied(`${owner} may not share /${mapped}/`);
    const perms = opts.write ? 'rw' : 'r';
    const now = radicaleTimestamp();
    const existing = (await store.list()).find(
      (r) =>
        r.ShareType === 'map' &&
        storagePath(r.PathMapped) === mapped &&
        r.User === sharee &&
        r.Conversion === 'none',
    );
    let key: string;
    if (existing) {
      if (existing.Owner !== owner) throw new AccessDenied('Another user owns this share');
      key = existing.PathOrToken;
      const result = await store.update('map', key, (r) => ({
        ...r,
        Permissions: perms,
        EnabledByOwner: true,
        HiddenByOwner: false,
        TimestampUpdated: now,
      }));
      if (result !== 'ok') throw new DavError(409, 'The share changed meanwhile');
    } else {
      key = await this.freePath(sharee, owner, mapped);
      if (!/[rR]/.test(rights.authorization(sharee, new Set(), storagePath(key))))
        throw new AccessDenied(`${sharee} has no read rights on ${key}`);
      const record: ShareRecord = {
        ShareType: 'map',
        PathOrToken: key,
        PathMapped: `/${mapped}/`,
        Conversion: 'none',
        Owner: owner,
        User: sharee,
        Permissions: perms,
        EnabledByOwner: true,
        EnabledByUser: false,
        HiddenByOwner: false,
        HiddenByUser: false,
        TimestampCreated: now,
        TimestampUpdated: now,
        Properties: null,
        Actions: null,
      };
      if ((await store.create(record)) !== 'ok') throw new DavError(409, 'Share exists');
      log.info(`sharing: ${owner} invited ${sharee} to /${mapped}/ at ${key} (${perms}, ${opts.protocol})`);
    }
    await this.setNote(
      sharee,
      key,
      (n) => ({
        ...(n ?? {}),
        protocol: opts.protocol,
        ...(opts.summary !== undefined ? { summary: opts.summary } : {}),
        ...(opts.commonName !== undefined ? { commonName: opts.commonName } : {}),
        declined: false,
        dismissed: false,
      }),
      owner,
    );
    const r = await store.get('map', key);
    if (!r) throw new DavError(409, 'The share was removed meanwhile');
    return this.inviteOf(r, (await this.notesOf(sharee))[key]);
  }

  /** Removes the owner's share of `mapped` for `sharee`; false when there is none. */
  async remove(owner: string, mapped: string, sharee: string): Promise<boolean> {
    const r = (await this.deps.store.list()).find(
      (x) =>
        x.ShareType === 'map' &&
        storagePath(x.PathMapped) === mapped &&
        x.User === sharee &&
        x.Conversion === 'none',
    );
    if (!r) return false;
    if (r.Owner !== owner) throw new AccessDenied('Another user owns this share');
    await this.deps.store.delete('map', r.PathOrToken);
    await this.setNote(sharee, r.PathOrToken, () => undefined, owner);
    this.deps.log.info(`sharing: ${owner} removed the share ${r.PathOrToken} of ${r.PathMapped}`);
    return true;
  }

  /**
   * The answers of sharees to the owner's invitations made by these protocols, newest state only, less
   * those the owner deleted: the owner's reply notifications.
   */
  async repliesFor(owner: string): Promise<Reply[]> {
    const info = await this.deps.storage.getCollection(notificationsPath(owner));
    const seen = new Set(seenOf(info?.props[SEEN_KEY]));
    const out: Reply[] = [];
    const rows = (await this.deps.store.list()).filter(
      (r) => r.ShareType === 'map' && r.Owner === owner && r.Conversion === 'none' && !/^[:@]/.test(r.User),
    );
    for (const r of rows) {
      const i = this.inviteOf(r, (await this.notesOf(r.User))[r.PathOrToken]);
      if (!i.note.answered || i.note.protocol === undefined || i.status === 'noresponse') continue;
      const uid = createHash('sha256').update(`${i.uid}\n${i.status}`).digest('hex').slice(0, 32);
      if (!seen.has(uid)) out.push({ invite: i, uid });
    }
    return out;
  }

  /** The owner deleted a reply notification. */
  async dismissReply(owner: string, reply: Reply): Promise<void> {
    const info = await this.ensureNotifications(owner, owner);
    if (!info) return;
    const live = new Set((await this.repliesFor(owner)).map((r) => r.uid));
    await this.deps.storage.setProps(
      info.path,
      (props) => {
        // Only uids of replies still listed are kept, so the list does not grow for ever.
        const kept = seenOf(props[SEEN_KEY]).filter((u) => live.has(u));
        return { ...props, [SEEN_KEY]: JSON.stringify([...kept, reply.uid]) };
      },
      this.ctx(owner, info.path),
    );
  }

  /** The sharee's answer: accepted enables the share for them, declined disables it. */
  async reply(user: string, invite: Invite, accept: boolean, summary?: string): Promise<ShareRecord> {
    const key = invite.record.PathOrToken;
    const result = await this.deps.store.update('map', key, (r) => ({
      ...r,
      EnabledByUser: accept,
      HiddenByUser: !accept,
      TimestampUpdated: radicaleTimestamp(),
    }));
    if (result !== 'ok') throw new DavError(404, 'The share is gone');
    await this.setNote(
      user,
      key,
      (n) => ({
        ...(n ?? {}),
        declined: !accept,
        dismissed: false,
        answered: true,
        ...(summary !== undefined ? { replySummary: summary } : {}),
      }),
      user,
    );
    // The owner's notification collection tells the answer (repliesFor): it exists from now on.
    if (invite.note.protocol !== undefined) await this.ensureNotifications(invite.record.Owner, user);
    this.deps.log.info(`sharing: ${user} ${accept ? 'accepted' : 'declined'} the share ${key}`);
    const r = await this.deps.store.get('map', key);
    if (!r) throw new DavError(404, 'The share is gone');
    return r;
  }

  /** The sharee deleted the notification: it is no longer listed; the invitation stays open. */
  async dismiss(user: string, invite: Invite): Promise<void> {
    await this.setNote(user, invite.record.PathOrToken, (n) => ({ ...(n ?? {}), dismissed: true }), user);
  }
}
