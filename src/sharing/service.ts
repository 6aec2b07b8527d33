/**
 * Sharing as Radicale 3.7/3.8 does it ([sharing]): the share database, which shares a request may use
 * (map shares of the logged-in user, by name, `:group` or `@realm`; token shares by their path), and the
 * per-request view (view.ts) that puts them at the sharee's paths. The dispatcher calls `viewFor` once
 * per request; the management API (api.ts) uses the same service.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Rights } from '../rights/types.js';
import type { Storage } from '../storage/types.js';
import type { DavPlugins } from '../dav/context.js';
import { TOKEN_PATH, storagePath, type ShareRecord } from './record.js';
import { PgShareStore } from './pg-store.js';
import { createShareStore, importFolderShares, type ShareStore } from './store.js';
import { createShareView, type ActiveShare, type ShareView } from './view.js';

/**
 * Whether a share's User names `user` (with `groups`): the user itself, a `:g1,g2` group list holding one
 * of the user's groups, or an `@realm` the user name ends with. Returns the share as that user sees it
 * (`{user}` in PathOrToken replaced), or undefined.
 */
export function shareForUser(
  r: ShareRecord,
  user: string,
  groups: ReadonlySet<string>,
): ShareRecord | undefined {
  if (user === '') return undefined;
  if (r.User === user) return r;
  let match = false;
  if (r.User.startsWith('@') && r.User.length > 1) match = user.endsWith(r.User);
  else if (r.User.startsWith(':') && r.User.length > 1)
    match = r.User.slice(1)
      .split(',')
      .some((g) => g !== '' && groups.has(g));
  if (!match) return undefined;
  return { ...r, PathOrToken: r.PathOrToken.split('{user}').join(user), User: user };
}

/** The conversions served: none, and bday (the address book as a calendar of birthdays). */
const SERVED: ReadonlySet<string> = new Set(['none', 'bday']);

export interface Sharing {
  readonly store: ShareStore;
  readonly byMap: boolean;
  readonly byToken: boolean;
  /** Closes the database (the PostgreSQL store's connections). */
  close(): Promise<void>;
  /** The shares `user` may use for this request (and the token share of a `/.token/` path), as a view. */
  viewFor(
    user: string,
    groups: ReadonlySet<string>,
    segments: readonly string[],
  ): Promise<ShareView | undefined>;
}

export interface SharingDeps {
  readonly config: Config;
  readonly storage: Storage;
  readonly rights: Rights;
  readonly plugins: DavPlugins;
  readonly log: Logger;
}

/**
 * Opens the database of `[sharing] type`. Sharing is off (undefined) when type is none or neither
 * collection_by_map nor collection_by_token is set; a database that cannot be loaded stops the start
 * (Radicale exits with 1).
 */
export async function createSharing(deps: SharingDeps): Promise<Sharing | undefined> {
  const { config, log } = deps;
  const s = config.sharing;
  log.info(`sharing.type                : ${s.type}`);
  log.info(`sharing.collection_by_map   : ${String(s.collection_by_map)}`);
  log.info(`sharing.collection_by_token : ${String(s.collection_by_token)}`);
  if (!s.collection_by_map && !s.collection_by_token) return undefined;
  const store = createShareStore(config, log);
  if (store === undefined) return undefined;
  try {
    await store.open();
    if (store instanceof PgShareStore) await importFolderShares(store, config, log);
  } catch (e) {
    await store.close();
    throw e;
  }
  log.info(`sharing database (${store.type}): ${store.location}`);
  return {
    store,
    close: () => store.close(),
    byMap: s.collection_by_map,
    byToken: s.collection_by_token,
    viewFor: async (user, groups, segments) => {
      const active: ActiveShare[] = [];
      /** PathOrTokens of the user's map shares in any state: no real collection may be made there. */
      const reserved = new Set<string>();
      const all = await store.list();
      if (s.collection_by_token && segments[0] === '.token') {
        const key = `/${segments.slice(0, 3).join('/')}/`;
        const r = TOKEN_PATH.test(key)
          ? all.find((x) => x.ShareType === 'token' && x.PathOrToken === key)
          : undefined;
        // The token resolver asks only EnabledByOwner (EnabledByUser is ignored for tokens).
        if (r?.EnabledByOwner && SERVED.has(r.Conversion)) active.push({ record: r, key: storagePath(key) });
      }
      if (s.collection_by_map && user !== '') {
        for (const row of all) {
          if (row.ShareType !== 'map') continue;
          const r = shareForUser(row, user, groups);
          if (r !== undefined) reserved.add(storagePath(r.PathOrToken));
          if (r === undefined || !r.EnabledByOwner || !r.EnabledByUser) continue;
          // A conversion Almanac does not know is kept in the database, not mapped.
          if (!SERVED.has(r.Conversion)) continue;
          const key = storagePath(r.PathOrToken);
          if (key === '' || key === storagePath(r.PathMapped)) continue;
          active.push({ record: r, key });
        }
      }
      const tokenPath = segments[0] === '.token';
      if (active.length === 0 && reserved.size === 0 && !tokenPath) return undefined;
      return createShareView({ ...deps, store, shares: active, reserved, user, groups });
    },
  };
}
