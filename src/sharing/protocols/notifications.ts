/**
 * The sharee's notification collection (CS:notification-URL, DAV:notification-URL):
 * `/<user>/notifications/`, created on demand as an ordinary collection without a tag, marked by one
 * props key (Radicale serves it as an empty plain collection). Its members are not stored: each open
 * invitation of the share database is one notification resource, `<uid>.xml`, rendered on request:
 * a CS:notification with CS:invite-notification for an invitation made by CS:share (and one made by the
 * Radicale API), a DAV:notification with DAV:sharer-invite-notification for one made by
 * DAV:share-resource or asked for with `Accept: application/davsharing+xml`.
 *
 * PROPFIND, GET and HEAD read them, DELETE removes one from the listing (the invitation stays open),
 * POST of DAV:invite-reply (or CS:invite-reply) to one answers it.
 */
import { createHash } from 'node:crypto';
import type { DavRequest, DavResponse, PathTarget, Resource } from '../../dav/context.js';
import { DavError, notFound } from '../../dav/errors.js';
import { collectionHref, itemHref, splitPath } from '../../dav/href.js';
import { multistatus, responseWithPropstats, type PropEntry } from '../../dav/multistatus.js';
import { parsePropfindBody, propResponse, type PropRequest } from '../../dav/prop-request.js';
import { depthHeader, xmlBody } from '../../dav/request-body.js';
import { NS, clark, el, nameOf, serializeDocument, type XmlNode } from '../../dav/xml.js';
import { storagePath } from '../record.js';
import { Invites, NOTIFICATIONS, isNotificationCollection, type Invite, type InviteDeps } from './invites.js';
import {
  CS,
  D,
  csInviteNotification,
  davInviteNotification,
  parseInviteReply,
  type Party,
  type SharedCollection,
} from './xml.js';
import { userHref } from './invites.js';
import { core } from './core.js';

export type { Party };

interface Rendered {
  readonly text: string;
  /** CS shared-type: calendar or addressbook. */
  readonly sharedType: string;
  readonly etag: string;
  readonly type: string;
  readonly stamp: Date;
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
    const type = info ? req.kinds.resourceTypeOf(info) : undefined;
    return {
      href: collectionHref(req.prefix, path),
      displayname: info?.props['D:displayname'] ?? splitPath(path).at(-1) ?? path,
      types: type !== undefined ? [type] : [],
    };
  };

  const render = async (req: DavRequest, i: Invite, davFormat: boolean): Promise<Rendered> => {
    const stamp = dateOf(i.record.TimestampUpdated);
    const shared = await sharedOf(req, i);
    const owner = party(req, i.record.Owner);
    const doc = davFormat
      ? davInviteNotification(i, owner, shared, stamp)
      : csInviteNotification(i, party(req, req.user), owner, shared, stamp);
    const text = serializeDocument(doc);
    const etag = `"${createHash('sha256').update(text, 'utf8').digest('hex')}"`;
    const type = davFormat
      ? 'application/davnotification+xml; charset=utf-8'
      : 'application/xml; charset=utf-8';
    const sharedType = shared.types.includes(clark(NS.CR, 'addressbook')) ? 'addressbook' : 'calendar';
    return { text, etag, type, stamp, sharedType };
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
        return [{ name: CS('invite-notification'), attrs: { 'shared-type': r.sharedType } }];
      case D('notificationtype'):
        return [el(D('sharer-invite-notification'))];
      default:
        return undefined;
    }
  };

  const itemResponse = async (
    req: DavRequest,
    home: string,
    i: Invite,
    preq: PropRequest,
  ): Promise<XmlNode> => {
    const r = await render(req, i, wantsDav(req, i));
    const href = itemHref(req.prefix, `${home}/${NOTIFICATIONS}`, `${i.uid}.xml`);
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

  const find = async (user: string, name: string): Promise<Invite | undefined> =>
    (await invites.pendingFor(user)).find((i) => `${i.uid}.xml` === name);

  const handleItem = async (req: DavRequest, user: string, name: string): Promise<DavResponse> => {
    const i = await find(user, name);
    if (
      req.method === 'PUT' ||
      req.method === 'PROPPATCH' ||
      req.method === 'MKCOL' ||
      req.method === 'MKCALENDAR'
    )
      throw new DavError(403, 'Notifications are made by the server');
    if (!i) throw notFound();
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const r = await render(req, i, wantsDav(req, i));
        return {
          status: 200,
          headers: { 'Content-Type': r.type, ETag: r.etag, 'Last-Modified': r.stamp.toUTCString() },
          ...(req.method === 'GET' ? { body: r.text } : {}),
        };
      }
      case 'PROPFIND': {
        const preq = parsePropfindBody(await xmlBody(req));
        return multistatus([await itemResponse(req, user, i, preq)]);
      }
      case 'DELETE':
        await invites.dismiss(user, i);
        return { status: 204, headers: {} };
      case 'POST': {
        const body = await xmlBody(req);
        if (!body || body.local !== 'invite-reply' || (body.ns !== NS.D && body.ns !== NS.CS))
          throw new DavError(400, 'Expected DAV:invite-reply');
        const reply = parseInviteReply(body);
        const record = await invites.reply(user, i, reply.accept);
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
      for (const i of await invites.pendingFor(user)) out.push(await itemResponse(req, user, i, preq));
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
      const name = req.segments[2];
      return name === undefined ? listing(req, user) : handleItem(req, user, name);
    },
  };
}
