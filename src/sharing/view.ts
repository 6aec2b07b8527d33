/**
 * One request's view of the storage and the rights with its shares in place (Radicale's
 * sharing_collection_by_map_resolver and token resolver): a share's PathOrToken (`bob/alice-cal`) and
 * everything under it stand for the owner's PathMapped (`alice/cal`). The DAV layer works on the
 * sharee's paths unchanged, so every href it writes (responses, multiget answers, sync, Location) is the
 * sharee's, and every href it reads (multiget bodies, Destination) resolves through the same mapping.
 *
 * Rights inside a share are the owner's rights on PathMapped intersected with the share's Permissions
 * letters; nothing outside a share's PathOrToken maps anywhere, so a sharee reaches exactly the shared
 * collection and its items (and the sharee's own rights everywhere else).
 *
 * A share's own root cannot be created, deleted, replaced, moved or copied through the share: those
 * would act on the owner's collection itself (Radicale refuses MKCOL on a share path with 409).
 *
 * A share with Conversion=bday shows the owner's address book as a read-only calendar of birthdays
 * (bday-view.ts): its letters lose `w`, and every write through it is refused with 403.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Rights } from '../rights/types.js';
import {
  StorageError,
  type ChangeContext,
  type CollectionInfo,
  type Props,
  type PropsUpdate,
  type Storage,
} from '../storage/types.js';
import type { DavPlugins } from '../dav/context.js';
import { DavError } from '../dav/errors.js';
import { metasOneByOne } from '../storage/item-metas.js';
import type { ShareRecord } from './record.js';
import type { ShareStore } from './store.js';
import { OVERLAY_PROPERTIES, radicaleTimestamp, storagePath } from './record.js';
import { bdayCollection, bdayCollectionInfo, type BdayCollection } from './bday-view.js';
import { bdaySettings, globalBdaySettings } from './bday.js';

export interface ActiveShare {
  /** The share as this user sees it (`{user}` replaced). */
  readonly record: ShareRecord;
  /** Its PathOrToken as a storage path (`bob/alice-cal`, `.token/v1/<44>`). */
  readonly key: string;
}

export interface ShareView {
  readonly storage: Storage;
  readonly rights: Rights;
  /** The token share a `/.token/` request path names (enabled), if any. */
  readonly token: ActiveShare | undefined;
  /** The storage path a path of this view stands for (the owner's inside a share, itself elsewhere). */
  realPath(path: string): string;
}

interface Mapped {
  readonly path: string;
  readonly share?: ActiveShare;
}

function intersect(letters: string, filter: string): string {
  return Array.from(letters)
    .filter((c) => filter.includes(c))
    .join('');
}

function overlayOf(r: ShareRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of OVERLAY_PROPERTIES) {
    const v = r.Properties?.[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export function createShareView(deps: {
  readonly config: Config;
  readonly storage: Storage;
  readonly rights: Rights;
  readonly plugins: DavPlugins;
  readonly log: Logger;
  readonly store: ShareStore;
  readonly shares: readonly ActiveShare[];
  /** Paths of the user's map shares whatever their state (MKCOL there is a conflict, as in Radicale). */
  readonly reserved: ReadonlySet<string>;
  readonly user: string;
  readonly groups: ReadonlySet<string>;
}): ShareView {
  const { storage: base, rights } = deps;
  // Longest key first: a share inside another share's path is the more specific one.
  const shares = [...deps.shares].sort((a, b) => b.key.length - a.key.length);
  const none: ReadonlySet<string> = new Set();

  const toReal = (path: string): Mapped => {
    for (const s of shares) {
      if (path === s.key || path.startsWith(`${s.key}/`))
        return { path: storagePath(s.record.PathMapped) + path.slice(s.key.length), share: s };
    }
    return { path };
  };
  /** An item named by collection and href (a MOVE's or COPY's source or target), in the real tree. */
  const realItem = (item: { path: string; href: string }): { path: string; href: string } => ({
    path: toReal(item.path).path,
    href: item.href,
  });
  const toVirtual = (realPath: string, s: ActiveShare): string =>
    s.key + realPath.slice(storagePath(s.record.PathMapped).length);

  const isBday = (s: ActiveShare): boolean => s.record.Conversion === 'bday';
  const shareLetters = (s: ActiveShare, realPath: string): string => {
    const letters = intersect(rights.authorization(s.record.Owner, none, realPath), s.record.Permissions);
    return isBday(s) ? letters.replace(/[wW]/g, '') : letters;
  };

  /** The bday calendar at a path (the root of a bday share), made once per request and share. */
  const bdays = new Map<ActiveShare, BdayCollection>();
  const bdayAt = (path: string): BdayCollection | undefined => {
    const m = toReal(path);
    if (!m.share || !isBday(m.share) || m.path !== storagePath(m.share.record.PathMapped)) return undefined;
    let b = bdays.get(m.share);
    if (b === undefined) {
      const calendar = deps.plugins.byTag('VCALENDAR');
      b = bdayCollection({
        base,
        path: m.path,
        settings: bdaySettings(globalBdaySettings(deps.config.sharing), m.share.record.Actions),
        describe: (text) =>
          calendar ? calendar.describe(text) : { uid: '', component: 'VEVENT', start: 0, end: 0 },
      });
      bdays.set(m.share, b);
    }
    return b;
  };
  /** Writes through a bday share (anything under its path) are refused. */
  const refuseBday = (...paths: string[]): void => {
    for (const path of paths) {
      const s = toReal(storagePath(path)).share;
      if (s && isBday(s)) throw new DavError(403, 'A birthday calendar (bday share) is read-only');
    }
  };

  const viewRights: Rights = {
    authorization: (user, groups, path) => {
      const m = toReal(storagePath(path));
      return m.share ? shareLetters(m.share, m.path) : rights.authorization(user, groups, path);
    },
    // Inside a share (a collection below its root) D/d and O/o are the share's letters intersected
    // with the owner's, against permit_delete_collection / permit_overwrite_collection as anywhere
    // (Radicale's check with the share's permissions filter). The share's own root: never (see
    // docs/compatibility.md).
    mayDeleteCollection: (user, groups, path) => {
      const m = toReal(storagePath(path));
      if (!m.share) return rights.mayDeleteCollection(user, groups, path);
      if (m.path === storagePath(m.share.record.PathMapped)) return false;
      const l = shareLetters(m.share, m.path);
      return (
        l.includes('w') && (deps.config.rights.permit_delete_collection ? !l.includes('d') : l.includes('D'))
      );
    },
    mayOverwriteCollection: (user, groups, path) => {
      const m = toReal(storagePath(path));
      if (!m.share) return rights.mayOverwriteCollection(user, groups, path);
      if (m.path === storagePath(m.share.record.PathMapped)) return false;
      const l = shareLetters(m.share, m.path);
      return (
        l.includes('w') &&
        (deps.config.rights.permit_overwrite_collection ? !l.includes('o') : l.includes('O'))
      );
    },
  };

  const isRoot = (path: string): ActiveShare | undefined => {
    const m = toReal(path);
    return m.share && m.path === storagePath(m.share.record.PathMapped) ? m.share : undefined;
  };
  const refuseRoot = (path: string, what: string): void => {
    const s = isRoot(path);
    if (s)
      throw new DavError(
        s.record.ShareType === 'map' && what === 'create' ? 409 : 403,
        `${what} of the shared collection itself is not allowed through the share`,
      );
  };

  const ctxOf = (ctx: ChangeContext): ChangeContext => {
    const real = (path: string): string => {
      const m = toReal(storagePath(path));
      return m.share ? `/${m.path}${path.endsWith('/') ? '/' : ''}` : path;
    };
    const owner = toReal(storagePath(ctx.path)).share?.record.Owner;
    return {
      ...ctx,
      // The storage hook runs as the owner (Radicale's user becomes Owner); the sharee stays the actor.
      ...(owner !== undefined ? { user: owner, actor: ctx.actor ?? ctx.user } : {}),
      path: ctx.path === '' ? '' : real(ctx.path),
      ...(ctx.toPath !== undefined ? { toPath: real(ctx.toPath) } : {}),
    };
  };

  const virtualInfo = (info: CollectionInfo, s: ActiveShare): CollectionInfo => {
    const root = isRootReal(info.path, s);
    const overlay = root ? overlayOf(s.record) : {};
    const shown = root && isBday(s) ? bdayCollectionInfo(info) : info;
    const share = root
      ? { pathMapped: s.record.PathMapped, owner: s.record.Owner, permissions: s.record.Permissions }
      : undefined;
    return {
      ...shown,
      path: toVirtual(info.path, s),
      props: { ...shown.props, ...overlay },
      ...(share && s.record.ShareType === 'map' ? { share } : {}),
    };
  };
  const isRootReal = (realPath: string, s: ActiveShare): boolean =>
    realPath === storagePath(s.record.PathMapped);

  /** Shares listed in a Depth 1 listing of `parent`: usable, not hidden, and readable. */
  const listedShares = (parent: string): ActiveShare[] =>
    shares.filter((s) => {
      if (s.record.ShareType !== 'map' || s.record.HiddenByOwner || s.record.HiddenByUser) return false;
      const at = s.key.lastIndexOf('/');
      if ((at < 0 ? '' : s.key.slice(0, at)) !== parent) return false;
      return shareLetters(s, storagePath(s.record.PathMapped)).includes('r');
    });

  /** PROPPATCH on a share root: the overlay (Radicale's enforce_properties_overlay) or the real collection. */
  const setShareProps = async (
    s: ActiveShare,
    change: Props | PropsUpdate,
    ctx: ChangeContext,
  ): Promise<CollectionInfo> => {
    const realPath = storagePath(s.record.PathMapped);
    const perms = s.record.Permissions;
    const ownerRights = rights.authorization(s.record.Owner, none, realPath);
    if (perms.includes('p') || (ownerRights.includes('p') && !perms.includes('P')))
      throw new DavError(403, 'The share does not allow changing properties');
    const enforce =
      perms.includes('E') ||
      (deps.config.sharing.enforce_properties_overlay && !perms.includes('e') && !ownerRights.includes('e'));
    if (!enforce) {
      refuseBday(s.key);
      return virtualInfo(await base.setProps(realPath, change, ctxOf(ctx)), s);
    }
    const real = await base.getCollection(realPath);
    if (real === undefined) throw new StorageError('not-found', 'the shared collection is gone');
    const props = typeof change === 'function' ? change({ ...real.props, ...overlayOf(s.record) }) : change;
    if (props === undefined) return virtualInfo(real, s);
    const overlay: Record<string, string> = {};
    for (const k of OVERLAY_PROPERTIES) {
      const v = props[k];
      if (v !== undefined && v !== real.props[k]) overlay[k] = v;
    }
    const result = await deps.store.update(s.record.ShareType, storedKey(s), (r) => ({
      ...r,
      Properties: overlay,
      TimestampUpdated: radicaleTimestamp(),
    }));
    if (result !== 'ok') throw new StorageError('not-found', 'the share is gone');
    deps.log.info(`sharing: properties overlay of ${s.record.PathOrToken} set by ${deps.user}`);
    return { ...real, path: s.key, props: { ...real.props, ...overlay } };
  };

  const storedKey = (s: ActiveShare): string => s.record.PathOrToken;

  const view: Storage = {
    open: (options) => base.open(options),
    close: () => base.close(),
    getCollection: async (path) => {
      const m = toReal(path);
      // `/.token/` and `/.token/v1/` are no collections (and no storable names).
      if (!m.share && (path === '.token' || path.startsWith('.token/'))) return undefined;
      const info = await base.getCollection(m.path);
      return info && m.share ? virtualInfo(info, m.share) : info;
    },
    listCollections: async (path) => {
      const m = toReal(path);
      const list = await base.listCollections(m.path);
      const out = m.share ? list.map((i) => virtualInfo(i, m.share as ActiveShare)) : list;
      if (m.share) return out;
      const extra: CollectionInfo[] = [];
      for (const s of listedShares(path)) {
        const info = await base.getCollection(storagePath(s.record.PathMapped));
        if (info) extra.push(virtualInfo(info, s));
      }
      const taken = new Set(extra.map((i) => i.path));
      return [...out.filter((i) => !taken.has(i.path)), ...extra];
    },
    listItems: (path) => bdayAt(path)?.listItems() ?? base.listItems(toReal(path).path),
    listItemsInRange: async (path, range, component) => {
      const b = bdayAt(path);
      if (!b) return base.listItemsInRange(toReal(path).path, range, component);
      return (await b.listItems()).filter(
        (m) =>
          (!component || !m.component || m.component === component) &&
          ((m.start === 0 && m.end === 0) || (m.start <= range.end && m.end >= range.start)),
      );
    },
    getItemMeta: (path, href) => bdayAt(path)?.getItemMeta(href) ?? base.getItemMeta(toReal(path).path, href),
    getItemMetas: (path, hrefs) => {
      const b = bdayAt(path);
      return b
        ? metasOneByOne((_, h) => b.getItemMeta(h), path, hrefs)
        : base.getItemMetas(toReal(path).path, hrefs);
    },
    getItems: (path, hrefs) => bdayAt(path)?.getItems(hrefs) ?? base.getItems(toReal(path).path, hrefs),
    findByUid: async (path, uid) => {
      const b = bdayAt(path);
      if (!b) return base.findByUid(toReal(path).path, uid);
      return (await b.listItems()).find((m) => m.uid === uid);
    },
    putItem: (path, href, item, check, ctx) => {
      refuseBday(path);
      return base.putItem(toReal(path).path, href, item, (e, c, u) => check(e, c, u), ctxOf(ctx));
    },
    deleteItem: (path, href, check, ctx) => {
      refuseBday(path);
      return base.deleteItem(toReal(path).path, href, check, ctxOf(ctx));
    },
    createCollection: async (path, props, ctx) => {
      if (deps.reserved.has(path))
        throw new DavError(409, 'A share has this path: no collection may be made here');
      refuseRoot(path, 'create');
      refuseBday(path);
      const m = toReal(path);
      const info = await base.createCollection(m.path, props, ctxOf(ctx));
      return m.share ? virtualInfo(info, m.share) : info;
    },
    replaceCollection: async (path, props, items, ctx) => {
      refuseRoot(path, 'replacing');
      refuseBday(path);
      const m = toReal(path);
      const info = await base.replaceCollection(m.path, props, items, ctxOf(ctx));
      return m.share ? virtualInfo(info, m.share) : info;
    },
    deleteCollection: (path, ctx) => {
      refuseRoot(path, 'deletion');
      refuseBday(path);
      return base.deleteCollection(toReal(path).path, ctxOf(ctx));
    },
    setProps: async (path, props, ctx) => {
      const m = toReal(path);
      const root = isRoot(path);
      if (root) return setShareProps(root, props, ctx);
      refuseBday(path);
      const info = await base.setProps(m.path, props, ctxOf(ctx));
      return m.share ? virtualInfo(info, m.share) : info;
    },
    runHook: (ctx) => base.runHook(ctxOf(ctx)),
    pushStore: () => base.pushStore(),
    getItemProps: async (path, href) => (bdayAt(path) ? {} : base.getItemProps(toReal(path).path, href)),
    setItemProps: (path, href, props) => {
      refuseBday(path);
      return base.setItemProps(toReal(path).path, href, props);
    },
    moveItem: (from, to, check, ctx) => {
      refuseBday(from.path, to.path);
      return base.moveItem(realItem(from), realItem(to), check, ctxOf(ctx));
    },
    copyItem: (from, to, check, ctx) => {
      refuseBday(from.path, to.path);
      return base.copyItem(realItem(from), realItem(to), check, ctxOf(ctx));
    },
    moveCollection: (from, to, overwrite, ctx) => {
      refuseRoot(from, 'moving');
      refuseRoot(to, 'replacing');
      refuseBday(from, to);
      return base.moveCollection(toReal(from).path, toReal(to).path, overwrite, ctxOf(ctx));
    },
    copyCollection: (from, to, overwrite, ctx) => {
      refuseRoot(to, 'replacing');
      refuseBday(from, to);
      return base.copyCollection(toReal(from).path, toReal(to).path, overwrite, ctxOf(ctx));
    },
    getEtag: (path) => bdayAt(path)?.getEtag() ?? base.getEtag(toReal(path).path),
    // A bday calendar has no sync token (Radicale's neither): the DAV layer does not offer one there.
    getSyncToken: async (path) => {
      const b = bdayAt(path);
      if (!b) return base.getSyncToken(toReal(path).path);
      return `http://radicale.org/ns/sync/${(await b.getEtag()).replace(/"/g, '')}`;
    },
    sync: async (path, oldToken, limit) => {
      if (bdayAt(path))
        throw new StorageError('invalid-sync-token', 'a birthday calendar (bday share) cannot be synced');
      return base.sync(toReal(path).path, oldToken, limit);
    },
    verify: (report, describe) => base.verify(report, describe),
  };
  const tokenShare = shares.find((s) => s.record.ShareType === 'token');
  return { storage: view, rights: viewRights, token: tokenShare, realPath: (path) => toReal(path).path };
}
