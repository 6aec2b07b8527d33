/**
 * The two XML front-ends of the share service: Apple's calendarserver-sharing (caldav-sharing-03,
 * namespace http://calendarserver.org/ns/) and draft-pot-webdav-resource-sharing-04 (DAV:). Each turns
 * its request bodies into the same typed changes and renders the same invitations in its own elements.
 */
import { DavError } from '../../dav/errors.js';
import { NS, child, clark, el, elText, textContent, type XmlElement, type XmlOut } from '../../dav/xml.js';
import type { Invite, InviteStatus } from './invites.js';

export const CS = (l: string): string => clark(NS.CS, l);
export const D = (l: string): string => clark(NS.D, l);

/** One change of a sharee list: `href` as the client wrote it (mailto: or principal URL). */
export type ShareChange =
  | {
      readonly kind: 'set';
      readonly href: string;
      readonly write: boolean;
      readonly commonName?: string;
      readonly summary?: string;
    }
  | { readonly kind: 'remove'; readonly href: string };

export interface InviteReply {
  readonly accept: boolean;
  /** CS: the invitation's uid (CS:in-reply-to) and the shared calendar (CS:hosturl). */
  readonly inReplyTo?: string;
  readonly hostUrl?: string;
  readonly summary?: string;
}

const bad = (m: string): DavError => new DavError(400, m);

function text(e: XmlElement | undefined): string | undefined {
  if (e === undefined) return undefined;
  const t = textContent(e).trim();
  return t === '' ? undefined : t;
}

function hrefIn(e: XmlElement, what: string): string {
  const h = text(child(e, NS.D, 'href'));
  if (h === undefined) throw bad(`${what} needs a DAV:href`);
  return h;
}

/** CS:share: CS:set (DAV:href, CS:common-name?, CS:summary?, CS:read | CS:read-write) and CS:remove. */
export function parseCsShare(root: XmlElement): ShareChange[] {
  const out: ShareChange[] = [];
  for (const c of root.children) {
    if (c.ns !== NS.CS) continue;
    if (c.local === 'set') {
      const write = child(c, NS.CS, 'read-write') !== undefined;
      if (!write && child(c, NS.CS, 'read') === undefined) throw bad('CS:set needs CS:read or CS:read-write');
      const commonName = text(child(c, NS.CS, 'common-name'));
      const summary = text(child(c, NS.CS, 'summary'));
      out.push({
        kind: 'set',
        href: hrefIn(c, 'CS:set'),
        write,
        ...(commonName !== undefined ? { commonName } : {}),
        ...(summary !== undefined ? { summary } : {}),
      });
    } else if (c.local === 'remove') out.push({ kind: 'remove', href: hrefIn(c, 'CS:remove') });
  }
  if (out.length === 0) throw bad('CS:share needs CS:set or CS:remove');
  return out;
}

/**
 * DAV:share-resource: DAV:sharee (DAV:href, DAV:prop with DAV:displayname?, DAV:comment?,
 * DAV:share-access of read, read-write or no-access; no-access removes the sharee).
 */
export function parseDavShare(root: XmlElement): ShareChange[] {
  const out: ShareChange[] = [];
  for (const c of root.children) {
    if (c.ns !== NS.D || c.local !== 'sharee') continue;
    const href = hrefIn(c, 'DAV:sharee');
    const access = child(c, NS.D, 'share-access');
    if (access === undefined) throw bad('DAV:sharee needs DAV:share-access');
    if (child(access, NS.D, 'no-access')) {
      out.push({ kind: 'remove', href });
      continue;
    }
    const write = child(access, NS.D, 'read-write') !== undefined;
    if (!write && child(access, NS.D, 'read') === undefined)
      throw bad('DAV:share-access needs DAV:read, DAV:read-write or DAV:no-access');
    const prop = child(c, NS.D, 'prop');
    const commonName = prop ? text(child(prop, NS.D, 'displayname')) : undefined;
    const summary = text(child(c, NS.D, 'comment'));
    out.push({
      kind: 'set',
      href,
      write,
      ...(commonName !== undefined ? { commonName } : {}),
      ...(summary !== undefined ? { summary } : {}),
    });
  }
  if (out.length === 0) throw bad('DAV:share-resource needs DAV:sharee');
  return out;
}

/** CS:invite-reply (to the sharee's home) or DAV:invite-reply (to the notification). */
export function parseInviteReply(root: XmlElement): InviteReply {
  const ns = root.ns;
  const accepted = child(root, ns, 'invite-accepted') !== undefined;
  if (!accepted && child(root, ns, 'invite-declined') === undefined)
    throw bad('invite-reply needs invite-accepted or invite-declined');
  const hosturl = ns === NS.CS ? child(root, NS.CS, 'hosturl') : undefined;
  const hostUrl = hosturl ? text(child(hosturl, NS.D, 'href')) : undefined;
  const inReplyTo = ns === NS.CS ? text(child(root, NS.CS, 'in-reply-to')) : undefined;
  const summary = text(child(root, ns === NS.CS ? NS.CS : NS.D, ns === NS.CS ? 'summary' : 'comment'));
  return {
    accept: accepted,
    ...(inReplyTo !== undefined ? { inReplyTo } : {}),
    ...(hostUrl !== undefined ? { hostUrl } : {}),
    ...(summary !== undefined ? { summary } : {}),
  };
}

const STATUS_ELEMENT: Readonly<Record<InviteStatus, string>> = {
  noresponse: 'invite-noresponse',
  accepted: 'invite-accepted',
  declined: 'invite-declined',
};

const accessOf = (i: Invite): string => (i.record.Permissions.includes('w') ? 'read-write' : 'read');

/** Who a CS:user / DAV:sharee is, as the answers name them. */
export interface Party {
  readonly href: string;
  readonly name: string;
}

/** CS:user of one sharee (CS:invite). */
export function csUser(i: Invite, who: Party): XmlOut {
  return el(
    CS('user'),
    elText(D('href'), who.href),
    elText(CS('common-name'), i.note.commonName ?? who.name),
    el(CS(STATUS_ELEMENT[i.status])),
    el(CS('access'), el(CS(accessOf(i)))),
    i.note.summary !== undefined && elText(CS('summary'), i.note.summary),
  );
}

export function csOrganizer(owner: Party): XmlOut {
  return el(CS('organizer'), elText(D('href'), owner.href), elText(CS('common-name'), owner.name));
}

/** DAV:sharee of one sharee (DAV:invite). */
export function davSharee(i: Invite, who: Party): XmlOut {
  return el(
    D('sharee'),
    elText(D('href'), who.href),
    el(D('prop'), elText(D('displayname'), i.note.commonName ?? who.name)),
    i.note.summary !== undefined && elText(D('comment'), i.note.summary),
    el(D('share-access'), el(D(accessOf(i)))),
    el(D(STATUS_ELEMENT[i.status])),
  );
}

/** What a notification tells about the shared collection. */
export interface SharedCollection {
  /** The owner's collection (`/alice/cal/`). */
  readonly href: string;
  readonly displayname: string;
  /** Its resourcetype children (Clark names) besides DAV:collection. */
  readonly types: readonly string[];
  /** C:supported-calendar-component-set of a calendar, as XML. */
  readonly components?: XmlOut;
}

/** Calendar Server's date-time stamp (Calendar.app wants no separators): 20261204T010203Z. */
function csStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

/** A CS:notification holding the CS:invite-notification of an invitation. */
export function csInviteNotification(
  i: Invite,
  sharee: Party,
  owner: Party,
  shared: SharedCollection,
  stamp: Date,
): XmlOut {
  return el(CS('notification'), elText(CS('dtstamp'), csStamp(stamp)), {
    name: CS('invite-notification'),
    attrs: { 'shared-type': sharedTypeOf(shared) },
    children: [
      elText(CS('uid'), i.uid),
      elText(D('href'), sharee.href),
      el(CS(STATUS_ELEMENT[i.status])),
      el(CS('access'), el(CS(accessOf(i)))),
      el(CS('hosturl'), elText(D('href'), shared.href)),
      csOrganizer(owner),
      elText(CS('summary'), i.note.summary ?? shared.displayname),
      ...(shared.components ? [shared.components] : []),
    ],
  });
}

/** A DAV:notification holding the DAV:sharer-invite-notification of an invitation. */
export function davInviteNotification(
  i: Invite,
  owner: Party,
  shared: SharedCollection,
  stamp: Date,
): XmlOut {
  return el(
    D('notification'),
    elText(D('dtstamp'), stamp.toISOString().replace(/\.\d+/, '')),
    el(
      D('sharer-invite-notification'),
      el(D('sharer-resource-uri'), elText(D('href'), shared.href)),
      el(D('principal'), elText(D('href'), owner.href), el(D('prop'), elText(D('displayname'), owner.name))),
      el(D('share-access'), el(D(accessOf(i)))),
      el(D(STATUS_ELEMENT[i.status])),
      el(
        D('prop'),
        elText(D('displayname'), shared.displayname),
        el(D('resourcetype'), el(D('collection')), ...shared.types.map((t) => el(t))),
        ...(shared.components ? [shared.components] : []),
      ),
      i.note.summary !== undefined && elText(D('comment'), i.note.summary),
    ),
  );
}

/** A CS:notification holding the CS:invite-reply that tells the owner a sharee's answer. */
export function csReplyNotification(i: Invite, sharee: Party, shared: SharedCollection, stamp: Date): XmlOut {
  return el(CS('notification'), elText(CS('dtstamp'), csStamp(stamp)), {
    name: CS('invite-reply'),
    attrs: { 'shared-type': sharedTypeOf(shared) },
    children: [
      elText(D('href'), sharee.href),
      el(CS(STATUS_ELEMENT[i.status])),
      el(CS('hosturl'), elText(D('href'), shared.href)),
      elText(CS('in-reply-to'), i.uid),
      ...(i.note.replySummary !== undefined ? [elText(CS('summary'), i.note.replySummary)] : []),
    ],
  });
}

/** CS's shared-type attribute: calendar or addressbook. */
export function sharedTypeOf(shared: SharedCollection): string {
  return shared.types.includes(clark(NS.CR, 'addressbook')) ? 'addressbook' : 'calendar';
}
