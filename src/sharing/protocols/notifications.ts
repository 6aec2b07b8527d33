/**
 * The sharee's notification collection (CS:notification-URL, DAV:notification-URL):
 * `/<user>/notifications/`, created on demand as an ordinary collection without a tag, marked by one
 * props key (Radicale serves it as an empty plain collection). Its members are not stored: each open
 * invitation of the share database is one notification resource, `<uid>.xml`, rendered on request:
 * a CS:notification with CS:invite-notification for an invitation made by CS:share (and one made by the
 * Radicale API), a DAV:notification with DAV:sharer-invite-notification for one made by
 * DAV:share-resource or asked for with `Accept: application/davsharing+xml`.
 *
 * The owner of a share these protocols made finds the sharee's answer there too, as a CS:notification with
 * CS:invite-reply (caldav-sharing: the server SHOULD tell the sharer).
 *
 * PROPFIND, GET and HEAD read them, DELETE removes one from the listing (an invitation stays open),
 * POST of DAV:invite-reply (or CS:invite-reply) to an invitation answers it.
 */
import { createHash } from 'node:crypto';
import type { DavRequest, DavResponse, PathTarget, Resource } from '../../dav/context.js';
import { DavError, notFound } from '../../dav/errors.js';
import { collectionHref, itemHref, splitPath } from '../../dav/href.js';
import { multistatus, responseWithPropstats, type PropEntry } from '../../dav/multistatus.js';
import { parsePropfindBody, propResponse, type PropRequest } from '../../dav/prop-request.js';
import { depthHeader, xmlBody } from '../../dav/request-body.js';
import { NS, clark, el, nameOf, serializeDocument, type XmlNode } from '../../dav/xml.js';
import { supportedComponents } from '../../caldav/components.js';
import { storagePath } from '../record.js';
import { Invites, NOTIFICATIONS, isNotificationCollection, type Invite, type InviteDeps } from './invites.js';
import {
  CS,
  D,
  csInviteNotification,
  csReplyNotification,
  davInviteNotification,
  parseInviteReply,
  sharedTypeOf,
  type Party,
  type SharedCollection,
} from './xml.js';
import { userHref } from './invites.js';
import { core } from './core.js';
import { requireSomeRight } from '../../dav/handle.js';

export type { Party };

interface Rendered {
  readonly text: string;
  /** CS shared-type: calendar or addressbook. */
  readonly sharedType: string;
  readonly etag: string;
  readonly type: string;
  readonly stamp: Date;
  readonly kind: 'invite' | 'reply';
}

/** Radicale's timestamps count local time as if it were UTC (record.ts): back to a Date. */
function dateOf(radicaleSeconds: number): Date {
  const guess = new Date(radicaleSeconds * 1000);
  return new Date((radicaleSeconds + guess.getTimezoneOffset() * 60) * 1000);
}

const ITEM_PROPS = [
  D('getetag'),
  D('getcontenttype'),
  D('getcontentlength'),
  D('getlastmodified'),
  D('resourcetype'),
  CS('notificationtype'),
  D('notificationtype'),
];
const ITEM_ALLPROP = ITEM_PROPS.slice(0, 5);

export function notificationTarget(invites: Invites, deps: InviteDeps): PathTarget {
  const party = (req: DavRequest, user: string): Party => ({
    href: userHref(deps.config, req.prefix, user),
    name: user,
  });

  const sharedOf = async (req: DavRequest, i: Invite): Promise<SharedCollection> => {
    const path = storagePath(i.record.PathMapped);
    const info = await deps.storage.getCollection(path);
    const type = info ? req.plugins.resourceTypeOf(info) : undefined;
    // A calendar's components, so that a client knows what the calendar holds before accepting it.
    const components =
      info?.tag === 'VCALENDAR'
        ? el(
            clark(NS.C, 'supported-calendar-component-set'),
            ...supportedComponents(info).map((name) => ({ name: clark(NS.C, 'comp'), attrs: { name } })),
          )
        : undefined;
    return {
      href: collectionHref(req.prefix, path),
      displayname: info?.props['D:displayname'] ?? splitPath(path).at(-1) ?? path,
      types: type !== undefined ? [type] : [],
      ...(components ? { components } : {}),
    };
  };

  /** One notification: an invitation to the user, or a sharee's answer to the user's invitation. */
  type Entry =
    | { readonly kind: 'invite'; readonly invite: Invite; readonly uid: string }
    | { readonly kind: 'reply'; readonly invite: Invite; readonly uid: string };

  const entriesOf = async (user: string): Promise<Entry[]> => [
    ...(await invites.pendingFor(user)).map((i): Entry => ({ kind: 'invite', invite: i, uid: i.uid })),
    ...(await invites.repliesFor(user)).map((r): Entry => ({ kind: 'reply', invite: r.invite, uid: r.uid })),
  ];

  const render = async (req: DavRequest, e: Entry): Promise<Rendered> => {
    const i = e.invite;
    const stamp = dateOf(i.record.TimestampUpdated);
    const shared = await sharedOf(req, i);
    const owner = party(req, i.record.Owner);
    // Replies are told in Calendar Server's form only (the draft defines no reply notification).
    const davFormat = e.kind === 'invite' && wantsDav(req, i);
    const doc =
      e.kind === 'reply'
        ? csReplyNotification(i, party(req, i.record.User), shared, stamp)
        : davFormat
          ? davInviteNotification(i, owner, shared, stamp)
          : csInviteNotification(i, party(req, req.user), owner, shared, stamp);
    const text = serializeDocument(doc);
    const etag = `"${createHash('sha256').update(text, 'utf8').digest('hex')}"`;
    const type = davFormat
      ? 'application/davnotification+xml; charset=utf-8'
      : 'application/xml; charset=utf-8';
    return { text, etag, type, stamp, sharedType: sharedTypeOf(shared), kind: e.kind };
  };

  const wantsDav = (req: DavRequest, i: Invite): boolean =>
    /application\/davsharing\+xml|application\/davnotification\+xml/i.test(req.header('accept') ?? '') ||
    i.note.protocol === 'dav';

  const itemValue = (name: string, r: Rendered): XmlNode[] | undefined => {
    switch (name) {
      case D('getetag'):
        return [r.etag];
      case D('getcontenttype'):
        return [r.type];
      case D('getcontentlength'):
        return [String(Buffer.byteLength(r.text, 'utf8'))];
      case D('getlastmodified'):
        return [r.stamp.toUTCString()];
      case D('resourcetype'):
        return [];
      case CS('notificationtype'):
        return [
          {
            name: CS(r.kind === 'reply' ? 'invite-reply' : 'invite-notification'),
            attrs: { 'shared-type': r.sharedType },
          },
        ];
      case D('notificationtype'):
        return r.kind === 'invite' ? [el(D('sharer-invite-notification'))] : undefined;
      default:
        return undefined;
    }
  };

  const itemResponse = async (
    req: DavRequest,
    home: string,
    e: Entry,
    preq: PropRequest,
  ): Promise<XmlNode> => {
    const r = await render(req, e);
    const href = itemHref(req.prefix, `${home}/${NOTIFICATIONS}`, `${e.uid}.xml`);
    const names =
      preq.kind === 'prop' ? preq.names.map(nameOf) : preq.kind === 'propname' ? ITEM_PROPS : ITEM_ALLPROP;
    const ok: PropEntry[] = [];
    const missing: PropEntry[] = [];
    for (const n of names) {
      if (preq.kind === 'propname') {
        ok.push({ name: n });
        continue;
      }
      const v = itemValue(n, r);
      if (v === undefined) missing.push({ name: n });
      else ok.push({ name: n, value: v });
    }
    return responseWithPropstats(
      href,
      new Map([
        [200, ok],
        [404, missing],
      ]),
    );
  };

  const handleItem = async (req: DavRequest, user: string, name: string): Promise<DavResponse> => {
    if (
      req.method === 'PUT' ||
      req.method === 'PROPPATCH' ||
      req.method === 'MKCOL' ||
      req.method === 'MKCALENDAR'
    )
      throw new DavError(403, 'Notifications are made by the server');
    const e = (await entriesOf(user)).find((x) => `${x.uid}.xml` === name);
    if (!e) throw notFound();
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const r = await render(req, e);
        return {
          status: 200,
          headers: { 'Content-Type': r.type, ETag: r.etag, 'Last-Modified': r.stamp.toUTCString() },
          ...(req.method === 'GET' ? { body: r.text } : {}),
        };
      }
      case 'PROPFIND': {
        const preq = parsePropfindBody(await xmlBody(req));
        return multistatus([await itemResponse(req, user, e, preq)]);
      }
      case 'DELETE':
        if (e.kind === 'invite') await invites.dismiss(user, e.invite);
        else await invites.dismissReply(user, { invite: e.invite, uid: e.uid });
        return { status: 204, headers: {} };
      case 'POST': {
        if (e.kind !== 'invite') throw new DavError(403, 'Only an invitation is answered');
        const body = await xmlBody(req);
        if (!body || body.local !== 'invite-reply' || (body.ns !== NS.D && body.ns !== NS.CS))
          throw new DavError(400, 'Expected DAV:invite-reply');
        const reply = parseInviteReply(body);
        const record = await invites.reply(user, e.invite, reply.accept, reply.summary);
        if (!reply.accept) return { status: 204, headers: {} };
        return {
          status: 201,
          headers: { Location: collectionHref(req.prefix, storagePath(record.PathOrToken)) },
        };
      }
      default:
        throw new DavError(405, `${req.method} is not allowed on a notification`);
    }
  };

  const listing = async (req: DavRequest, user: string): Promise<DavResponse> => {
    const path = `${user}/${NOTIFICATIONS}`;
    const info = await req.storage.getCollection(path);
    if (!info) throw notFound();
    const preq = parsePropfindBody(await xmlBody(req));
    const depth = depthHeader(req, '0');
    if (depth === 'infinity') throw new DavError(403, 'Depth: infinity is not supported');
    const res: Resource = { kind: 'collection', path, info };
    const out: XmlNode[] = [await propResponse(req, res, preq)];
    if (depth === '1')
      for (const e of await entriesOf(user)) out.push(await itemResponse(req, user, e, preq));
    return multistatus(out);
  };

  return {
    name: 'sharing-notifications',
    matches: (req) =>
      req.method !== 'OPTIONS' &&
      req.segments[1] === NOTIFICATIONS &&
      (req.segments.length === 3 || (req.segments.length === 2 && req.method === 'PROPFIND')),
    handle: async (req) => {
      const user = req.segments[0] ?? '';
      const info = await deps.storage.getCollection(`${user}/${NOTIFICATIONS}`);
      // Someone else's notifications, or a collection of that name that is no notification collection.
      if (user !== req.user || !info || !isNotificationCollection(info)) {
        return core(req);
      }
      // The user's own, served whatever its (plain) collection's letters say for reading, but not against
      // rights that give the user nothing there.
      requireSomeRight(req);
      const name = req.segments[2];
      return name === undefined ? listing(req, user) : handleItem(req, user, name);
    },
  };
}
