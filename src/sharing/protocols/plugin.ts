/**
 * The standard sharing protocols as a DAV plugin, registered only while sharing by map is on:
 * calendarserver-sharing (POST CS:share to a calendar, CS:invite-reply to the sharee's home, CS:invite,
 * CS:shared-url, CS:allowed-sharing-modes, CS:shared-owner / CS:shared in DAV:resourcetype, the
 * notification collection of CS:notification-URL) and draft-pot-webdav-resource-sharing (POST
 * DAV:share-resource, DAV:invite, DAV:share-access, DAV:sharer-resource-uri, DAV:invite-reply to the
 * notification). Both go through one share service (invites.ts) that stores Radicale map shares.
 */
import type { DavPlugin, DavRequest, DavResponse, LiveProperty, Resource } from '../../dav/context.js';
import { AccessDenied, DavError } from '../../dav/errors.js';
import { core } from './core.js';
import { collectionHref, hrefToSegments, splitPath } from '../../dav/href.js';
import { xmlBody } from '../../dav/request-body.js';
import { NS, el, elText, serializeDocument } from '../../dav/xml.js';
import { calendarUserAddresses, localUserOf } from '../../caldav/scheduling/addresses.js';
import { boxOf } from '../../caldav/scheduling/collections.js';
import type { CollectionInfo } from '../../storage/types.js';
import { storagePath } from '../record.js';
import { Invites, NOTIFICATIONS, isNotificationCollection, userHref, type InviteDeps } from './invites.js';
import {
  CS,
  D,
  csOrganizer,
  csUser,
  davSharee,
  parseCsShare,
  parseDavShare,
  parseInviteReply,
  type Party,
} from './xml.js';
import { notificationTarget } from './notifications.js';

export const COMPLIANCE = ['calendarserver-sharing', 'resource-sharing'];

/** A calendar or an address book of its own (not a scheduling box, not the notification collection). */
export function isShareable(info: CollectionInfo): boolean {
  return (info.tag === 'VCALENDAR' || info.tag === 'VADDRESSBOOK') && boxOf(info) === undefined;
}

const tagged = (res: Resource): res is Resource & { kind: 'collection' } =>
  res.kind === 'collection' && splitPath(res.path).length >= 2 && isShareable(res.info);

export function sharingProtocolsPlugin(deps: InviteDeps): DavPlugin {
  const invites = new Invites(deps);
  const party = (req: DavRequest, user: string): Party => ({
    href: userHref(deps.config, req.prefix, user),
    name: user,
  });

  /** The owner's view: the collection is the user's own (not a share's view). */
  const ownShared = (res: Resource & { kind: 'collection' }, req: DavRequest): boolean =>
    res.info.share === undefined && splitPath(res.path)[0] === req.user && req.user !== '';

  const inviteProp = (name: string, legacy: boolean): LiveProperty => ({
    name,
    allprop: false,
    appliesTo: tagged,
    get: async (res, req) => {
      if (res.kind !== 'collection') return [];
      if (res.info.share) {
        const mine = await invites.shareAt(req.user, res.path);
        const owner = party(req, res.info.share.owner);
        if (!mine) return [];
        const me = party(req, req.user);
        return legacy
          ? [csOrganizer(owner), csUser(mine, me)]
          : [
              el(
                D('sharee'),
                elText(D('href'), owner.href),
                el(D('prop'), elText(D('displayname'), owner.name)),
                el(D('share-access'), el(D('shared-owner'))),
                el(D('invite-accepted')),
              ),
              davSharee(mine, me),
            ];
      }
      if (!ownShared(res, req)) return [];
      const list = await invites.shareesOf(res.path);
      return list.map((i) =>
        legacy ? csUser(i, party(req, i.record.User)) : davSharee(i, party(req, i.record.User)),
      );
    },
  });

  const sharedUrl = (name: string): LiveProperty => ({
    name,
    allprop: false,
    appliesTo: (res) => res.kind === 'collection' && res.info.share !== undefined,
    get: (res, req) =>
      res.kind === 'collection' && res.info.share
        ? [elText(D('href'), collectionHref(req.prefix, storagePath(res.info.share.pathMapped)))]
        : [],
  });

  const notificationUrl = (name: string): LiveProperty => ({
    name,
    allprop: false,
    appliesTo: (res, req) => res.kind === 'collection' && res.path !== '' && res.path === req.user,
    get: async (res, req) => {
      if (res.kind !== 'collection') return [];
      const info = await invites.ensureNotifications(res.path, req.user);
      return info ? [elText(D('href'), collectionHref(req.prefix, info.path))] : [];
    },
  });

  const properties: LiveProperty[] = [
    inviteProp(CS('invite'), true),
    inviteProp(D('invite'), false),
    sharedUrl(CS('shared-url')),
    sharedUrl(D('sharer-resource-uri')),
    {
      name: CS('allowed-sharing-modes'),
      allprop: false,
      appliesTo: tagged,
      get: (res, req) => (res.kind === 'collection' && ownShared(res, req) ? [el(CS('can-be-shared'))] : []),
    },
    {
      name: D('share-access'),
      allprop: false,
      appliesTo: tagged,
      get: async (res, req) => {
        if (res.kind !== 'collection') return [];
        if (res.info.share) return [el(D(res.info.share.permissions.includes('w') ? 'read-write' : 'read'))];
        if (ownShared(res, req) && (await invites.isShared(res.path))) return [el(D('shared-owner'))];
        return [el(D('not-shared'))];
      },
    },
    notificationUrl(CS('notification-URL')),
    notificationUrl(D('notification-URL')),
  ];

  /** Who the request names by a DAV:href (mailto: or principal URL), or a 403. */
  const shareeOf = async (req: DavRequest, href: string): Promise<string> => {
    const user = await localUserOf(calendarUserAddresses(deps.config), deps.storage, req.prefix, href);
    if (user === undefined) throw new DavError(403, `Not a user of this server: ${href}`);
    return user;
  };

  /** POST CS:share or DAV:share-resource to the owner's calendar or address book. */
  const share = async (req: DavRequest): Promise<DavResponse> => {
    const path = req.segments.join('/');
    const body = await xmlBody(req);
    if (!body) throw new DavError(400, 'Missing body');
    const info = await deps.storage.getCollection(path);
    if (!info) {
      if (await req.storage.getCollection(path))
        throw new AccessDenied('A collection shared with you cannot be shared on');
      throw new DavError(404, 'Not Found');
    }
    if (req.segments[0] !== req.user) throw new AccessDenied('Only the owner shares a collection');
    if (!isShareable(info)) throw new DavError(403, 'Only calendars and address books can be shared');
    const legacy = body.ns === NS.CS;
    const changes = legacy ? parseCsShare(body) : parseDavShare(body);
    // Every sharee is known before anything changes.
    const resolved = [];
    for (const c of changes) resolved.push({ change: c, user: await shareeOf(req, c.href) });
    for (const { change, user } of resolved) {
      if (change.kind === 'remove') await invites.remove(req.user, path, user);
      else
        await invites.set({
          owner: req.user,
          groups: req.groups,
          mapped: path,
          sharee: user,
          write: change.write,
          protocol: legacy ? 'cs' : 'dav',
          ...(change.summary !== undefined ? { summary: change.summary } : {}),
          ...(change.commonName !== undefined ? { commonName: change.commonName } : {}),
        });
    }
    return { status: 200, headers: { 'Cache-Control': 'no-cache' } };
  };

  /** POST CS:invite-reply to the sharee's home. */
  const reply = async (req: DavRequest): Promise<DavResponse> => {
    if (req.segments[0] !== req.user) throw new AccessDenied('Replies go to your own home');
    const body = await xmlBody(req);
    if (!body) throw new DavError(400, 'Missing body');
    const r = parseInviteReply(body);
    const hosted = r.hostUrl !== undefined ? hrefToSegments(r.hostUrl, req.prefix) : undefined;
    const all = await invites.invitesFor(req.user);
    const invite =
      all.find((i) => r.inReplyTo !== undefined && i.uid === r.inReplyTo) ??
      all.find((i) => hosted !== undefined && storagePath(i.record.PathMapped) === hosted.segments.join('/'));
    if (!invite) throw new DavError(403, 'No such invitation');
    const record = await invites.reply(req.user, invite, r.accept, r.summary);
    if (!r.accept) return { status: 204, headers: {} };
    return {
      status: 200,
      headers: { 'Content-Type': 'application/xml; charset=utf-8', 'Cache-Control': 'no-cache' },
      body: serializeDocument(
        el(CS('shared-as'), elText(D('href'), collectionHref(req.prefix, storagePath(record.PathOrToken)))),
      ),
    };
  };

  const notifications = notificationTarget(invites, deps);

  return {
    properties,
    compliance: COMPLIANCE,
    resourceType: (info) => (isNotificationCollection(info) ? CS('notification') : undefined),
    extraResourceTypes: async (res, req) => {
      if (isNotificationCollection(res.info)) return [D('notifications')];
      if (!tagged(res)) return [];
      if (res.info.share) return [CS('shared')];
      if (ownShared(res, req) && (await invites.isShared(res.path))) return [CS('shared-owner')];
      return [];
    },
    postTargets: [
      {
        name: 'sharing-share',
        xmlRoots: [CS('share'), D('share-resource')],
        matches: (req) => req.segments.length >= 2 && req.segments[1] !== NOTIFICATIONS,
        handle: share,
      },
      {
        name: 'sharing-reply',
        xmlRoots: [CS('invite-reply')],
        matches: (req) => req.segments.length === 1,
        handle: reply,
      },
    ],
    pathTargets: [
      notifications,
      {
        // A sharee's DELETE of a shared collection removes it from their home: the share is declined
        // (caldav-sharing "Removing a Shared Calendar"); the owner's collection is untouched.
        name: 'sharing-unsubscribe',
        matches: (req) => req.method === 'DELETE' && req.segments.length === 2 && req.user !== '',
        handle: async (req) => {
          const invite = await invites.shareAt(req.user, req.segments.join('/'));
          // Only shares these protocols made: a share made through the Radicale API stays as it is.
          if (!invite || invite.note.protocol === undefined || invite.record.Owner === req.user)
            return core(req);
          await invites.reply(req.user, invite, false);
          return { status: 204, headers: {} };
        },
      },
    ],
  };
}
