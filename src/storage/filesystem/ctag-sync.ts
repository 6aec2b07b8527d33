/**
 * The collection ETag (CTag) and sync tokens: Almanac's change log, and Radicale's tokens and
 * history for the tokens Radicale issued.
 */
import { ChangeLog, isOwnTokenName } from './change-log.js';
import { type CollectionInfo, type ItemMeta, StorageError, type SyncResult } from '../types.js';
import { History, sha256hex, stateName } from './history.js';
import { TOKEN_PREFIX } from '../sync-token.js';
import type { Listing } from './item-index.js';
import { pythonJson } from '../../compat/python/json.js';
import type { StoreContext } from './context.js';
import { listing } from './items-read.js';

/**
 * The collection's ETag (CTag): sha256 over the change log's id and head and the props as JSON, so
 * it changes with every change of an item (whoever made it) and of the props, at the cost of the
 * change (Radicale's formula, a hash over every item in directory order, needed a relisting of the
 * folder after each addition).
 */
export async function getEtag(store: StoreContext, path: string): Promise<string> {
  return withLog(store, path, (_list, log, info) =>
    Promise.resolve(`"${sha256hex(`${log.version}/${pythonJson(info.props)}`)}"`),
  );
}

export async function getSyncToken(store: StoreContext, path: string): Promise<string> {
  return withLog(store, path, (_list, log) => Promise.resolve(TOKEN_PREFIX + log.token()));
}

/**
 * Changes since `oldToken`. Tokens are positions in Almanac's change log; a token Radicale issued
 * (64 hex digits, its state in `.Radicale.cache/sync-token/`) is diffed against its saved state,
 * as Radicale does, and answered with a token of the log.
 */
export async function sync(
  store: StoreContext,
  path: string,
  oldToken: string,
  limit?: number,
): Promise<SyncResult> {
  if (oldToken !== '' && !oldToken.startsWith(TOKEN_PREFIX))
    throw new StorageError('invalid-sync-token', 'malformed sync token');
  const oldName = oldToken.slice(TOKEN_PREFIX.length);
  if (oldToken !== '' && !isOwnTokenName(oldName)) {
    if (!/^[0-9a-f]{64}$/.test(oldName)) throw new StorageError('invalid-sync-token', 'malformed sync token');
    return syncFromRadicale(store, path, oldName, limit);
  }
  return withLog(store, path, (list, log) => {
    const from = oldToken === '' ? undefined : log.position(oldName);
    const r = log.changesAfter(from, limit);
    const token = TOKEN_PREFIX + log.token(r.to);
    // An item the listing leaves out (over max_resource_size, unreadable) is not there for a client:
    // not listed by a first sync, deleted for a client that had it, as Radicale's sync answers.
    const hidden = r.changed.filter((h) => !list.byHref.has(h));
    const changed = hidden.length === 0 ? r.changed : r.changed.filter((h) => list.byHref.has(h));
    const deleted = from === undefined || hidden.length === 0 ? r.deleted : [...r.deleted, ...hidden];
    return Promise.resolve({
      token,
      changed,
      deleted,
      ...(r.truncated ? { truncated: true } : {}),
    });
  });
}

/**
 * Runs `fn` with the collection's listing and its change log brought up to date with it (changes
 * made by others appended), under the collection's read lock.
 */
async function withLog<T>(
  store: StoreContext,
  path: string,
  fn: (list: Listing, log: ChangeLog, info: CollectionInfo) => Promise<T>,
): Promise<T> {
  return store.withLock([{ path, mode: 'read' }], async () => {
    // One reconciliation of a collection's log at a time in this process.
    const releaseLog = await store.historyLocks.acquireAll(new Map([[path, 'write']]));
    try {
      const releaseShared = await store.global.shared();
      let list: Listing;
      let info: CollectionInfo;
      try {
        ({ info, list } = await listing(store, path));
      } finally {
        releaseShared();
      }
      const index = store.index(path);
      const log = store.changeLog(path);
      await log.reconcile(
        list,
        (since) => index.changesSince(since),
        () => store.global.exclusive(),
      );
      return await fn(list, log, info);
    } finally {
      releaseLog();
    }
  });
}

/**
 * A sync from a token Radicale issued: Radicale's current state is computed (history etag of every
 * item, in proportion to the collection, as Radicale does) and compared with the token's saved
 * state; the answer carries a token of Almanac's log for the same listing.
 */
async function syncFromRadicale(
  store: StoreContext,
  path: string,
  oldName: string,
  limit?: number,
): Promise<SyncResult> {
  return withCurrentToken(store, path, async (list, history, name) => {
    const log = store.changeLog(path);
    const index = store.index(path);
    await log.reconcile(
      list,
      (since) => index.changesSince(since),
      () => store.global.exclusive(),
    );
    const token = TOKEN_PREFIX + log.token();
    if (oldName === name) return { token, changed: [], deleted: [] };
    const diff = splitChanges(await history.changedSince(oldName), list.byHref);
    if (limit === undefined || diff.changed.length + diff.deleted.length <= limit) return { token, ...diff };
    // Paging (RFC 6578 §3.6): a Radicale state with only the first `limit` changes applied, saved
    // like the states Radicale saves, so the next request continues from it.
    const changed = diff.changed.slice(0, limit);
    const deleted = diff.deleted.slice(0, Math.max(0, limit - changed.length));
    const partial = new Map(await history.stateOf(oldName));
    const state = history.currentState();
    for (const href of [...changed, ...deleted]) {
      const he = state.get(href);
      if (he === undefined) partial.delete(href);
      else partial.set(href, he);
    }
    const partialName = stateName(partial);
    history.saveState(partialName, list.files, partial);
    return { token: TOKEN_PREFIX + partialName, changed, deleted, truncated: true };
  });
}

/**
 * The tokens that stand for the current state: the log's, and Radicale's (its formula over the
 * folder in directory order), so that `storage copy` carries both (clients of Radicale too).
 */
export async function currentSyncTokens(store: StoreContext, path: string): Promise<string[]> {
  const own = await getSyncToken(store, path);
  const radicale = await withCurrentToken(store, path, (_list, _history, name) =>
    Promise.resolve(TOKEN_PREFIX + name),
  );
  return own === (await getSyncToken(store, path)) ? [own, radicale] : [own];
}

/** Runs `fn` with the listing in Radicale's order, Radicale's history and its current token name. */
async function withCurrentToken<T>(
  store: StoreContext,
  path: string,
  fn: (list: Listing, history: History, name: string) => Promise<T>,
): Promise<T> {
  return store.withLock([{ path, mode: 'read' }], async () => {
    const releaseHistory = await store.historyLocks.acquireAll(new Map([[path, 'write']]));
    try {
      const history = store.history(path);
      const releaseGlobal = await store.global.shared();
      let list: Listing;
      let name: string;
      try {
        list = (await listing(store, path, undefined, true)).list;
        const index = store.index(path);
        name = await history.tokenFor(list, (since) => index.changesSince(since));
      } finally {
        releaseGlobal();
      }
      return await fn(list, history, name);
    } finally {
      releaseHistory();
    }
  });
}

/**
 * Makes a sync token of another storage stand for this collection's current state (`storage copy`,
 * once the collection holds exactly what the token described): its state is saved under the token's
 * name in `.Radicale.cache/sync-token/`, so Almanac and Radicale serving the folder both go on from
 * it. Only tokens in Radicale's form (64 hex digits) can be kept; returns whether this one was.
 */
export async function aliasSyncToken(store: StoreContext, path: string, token: string): Promise<boolean> {
  const foreign = token.startsWith(TOKEN_PREFIX) ? token.slice(TOKEN_PREFIX.length) : '';
  if (!/^[0-9a-f]{64}$/.test(foreign)) return false;
  return withCurrentToken(store, path, async (_list, history, name) => {
    if (foreign !== name) await history.adopt(foreign);
    return true;
  });
}

/** Changed hrefs split into items that exist now and items that are gone. */
function splitChanges(
  hrefs: Iterable<string>,
  current: ReadonlyMap<string, ItemMeta>,
): { changed: string[]; deleted: string[] } {
  const changed: string[] = [];
  const deleted: string[] = [];
  for (const href of hrefs) (current.has(href) ? changed : deleted).push(href);
  return { changed, deleted };
}
