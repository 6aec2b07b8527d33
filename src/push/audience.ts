/**
 * Who hears of a change to a collection: the registrations made at its own path and, with
 * [sharing], those made at any share's path that maps to it (bob's `/bob/alice-cal/` for alice's
 * `alice/cal`, every member's `/<user>/team/` for a group share), each only while the user who
 * registered it may still read the collection at the path it registered at.
 *
 * Rights are checked at every push as a request of that user would be: the share view the user has
 * now (a share disabled by either side, deleted, or with letters that no longer read maps nothing, or
 * elsewhere), the rights as loaded at start-up, and the user's groups from `[group]`. A registration
 * that fails the check is skipped, not removed: it is pushed again once reading is allowed again
 * (a share enabled again), and runs out at its expiry otherwise.
 */
import type { Logger } from 'pino';
import { canRead } from '../rights/access.js';
import type { Rights } from '../rights/types.js';
import { storagePath } from '../sharing/record.js';
import type { Sharing } from '../sharing/service.js';
import type { ShareView } from '../sharing/view.js';
import { within, type PushStore, type PushSubscriptionRecord } from '../storage/push-store.js';
import type { Storage } from '../storage/types.js';

export interface AudienceDeps {
  readonly store: PushStore;
  /** The server's storage (not a share view): the collection's kind. */
  readonly storage: Storage;
  readonly rights: Rights;
  readonly sharing?: Pick<Sharing, 'store' | 'viewFor'>;
  /** The groups of a user now (for the rights and for group shares). */
  readonly groupsOf: (user: string) => Promise<ReadonlySet<string>>;
  readonly log: Logger;
}

const parentOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');

/** Paths of the shares that show `collection` (`{user}` left in for group and realm shares). */
async function sharePaths(sharing: AudienceDeps['sharing'], collection: string): Promise<string[]> {
  if (!sharing) return [];
  const out = new Set<string>();
  for (const r of await sharing.store.list()) {
    const mapped = storagePath(r.PathMapped);
    if (mapped === '' || !within(collection, mapped)) continue;
    const key = storagePath(r.PathOrToken);
    if (key !== '' && key !== mapped) out.add(key + collection.slice(mapped.length));
  }
  return [...out];
}

/**
 * The registrations to push for a change of `collection` (a storage path); `gone`: the collection was
 * deleted or moved away (its kind is not known any more: any read letter will do).
 */
export async function audience(
  deps: AudienceDeps,
  collection: string,
  now: number,
  gone: boolean,
): Promise<PushSubscriptionRecord[]> {
  const paths = [collection, ...(await sharePaths(deps.sharing, collection))];
  const candidates = await deps.store.forPaths(paths, now);
  if (candidates.length === 0) return [];
  const info = gone ? undefined : await deps.storage.getCollection(collection);
  if (!gone && !info) return [];
  const kind = info?.tag ? 'collection-tagged' : 'collection-plain';
  // Once per user and push.
  const users = new Map<string, Promise<ReadonlySet<string>>>();
  const groupsOf = (user: string): Promise<ReadonlySet<string>> => {
    let g = users.get(user);
    if (!g) users.set(user, (g = deps.groupsOf(user)));
    return g;
  };
  const out: PushSubscriptionRecord[] = [];
  for (const sub of candidates) {
    const groups = await groupsOf(sub.user);
    let view: ShareView | undefined;
    try {
      view = await deps.sharing?.viewFor(sub.user, groups, sub.collection.split('/'));
    } catch (err) {
      deps.log.warn({ err }, `WebDAV-Push: the shares of ${JSON.stringify(sub.user)} could not be read`);
      continue;
    }
    const real = view ? view.realPath(sub.collection) : sub.collection;
    const rights = view?.rights ?? deps.rights;
    const reads =
      real === collection &&
      (gone
        ? /[rR]/.test(rights.authorization(sub.user, groups, sub.collection))
        : canRead(rights, sub.user, groups, sub.collection, kind, parentOf(sub.collection)));
    if (reads) out.push(sub);
    else
      deps.log.debug(
        `WebDAV-Push: ${JSON.stringify(sub.user)} may not read /${sub.collection}/ (now /${real}/): ` +
          `registration ${sub.id} skipped`,
      );
  }
  return out;
}
