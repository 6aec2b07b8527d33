/**
 * The storage rules every backend shares, written once: checkedStorage(backend) is the Storage the
 * protocol layers use, around a backend (backend.ts) that only does files or SQL. Here: names and
 * props are checked before anything is read; the root cannot be moved, replaced or re-created, and
 * no collection goes into itself or over an ancestor; items live only in collections that may hold
 * them (not the root, not a subscription); a new collection's parent exists and is not a calendar or
 * address book; a collection MOVE/COPY refuses an existing target without overwrite; items of an
 * upload are named by Radicale's rules; a MOVE within a collection does not conflict with its own
 * UID; and the storage hook runs after each change, one at a time. The rules that depend on what is
 * stored are checks the backend runs under its write lock, so they are atomic with the write.
 */
import type {
  AfterChange,
  CollectionPairCheck,
  ItemCollectionCheck,
  NamedItems,
  ParentCheck,
  StorageBackend,
  TagCheck,
} from './backend.js';
import { runHook } from './hook.js';
import { checkName, isWithin, pathSegments, uploadName } from './names.js';
import { mapBatches } from './new-items.js';
import { checkProps } from './props.js';
import type { PushStore } from './push-store.js';
import {
  StorageError,
  type ChangeContext,
  type CollectionInfo,
  type ItemDescriber,
  type ItemMeta,
  type NewItem,
  type NewItems,
  type Props,
  type PropsUpdate,
  type Storage,
  type WriteCheck,
} from './types.js';

/** Calendars, address books and plain collections below the root hold items; not the root or a subscription. */
export const itemCollection: ItemCollectionCheck = (path, found) => {
  if (found === undefined) throw new StorageError('not-found', `collection ${path} not found`);
  if (path === '' || found.tag === 'VSUBSCRIBED') {
    throw new StorageError('conflict', `collection ${path} cannot hold items`);
  }
  return found;
};

/** The parent of a new collection at `path` (not the root) must exist and not be a calendar or address book. */
function parentFor(path: string): ParentCheck {
  return (parent) => {
    if (parent === undefined) throw new StorageError('not-found', `parent of ${path} not found`);
    if (parent.tag !== '') throw new StorageError('conflict', `${parent.path} cannot contain collections`);
  };
}

/** Source and target of a collection MOVE/COPY: neither the root, neither inside the other. */
function checkCollectionPair(from: string, to: string): void {
  pathSegments(from);
  pathSegments(to);
  if (from === '' || to === '') throw new StorageError('conflict', 'the root collection cannot be moved');
  if (isWithin(to, from) || isWithin(from, to)) {
    throw new StorageError('conflict', 'a collection cannot be moved into itself or over an ancestor');
  }
}

/** Under the backend's lock: a calendar or address book holds items only, no collections (Radicale's rule). */
export const tagCheck: TagCheck = async (path, props, hasChildCollections) => {
  const tag = props.tag;
  if (tag !== undefined && tag !== '' && (await hasChildCollections()))
    throw new StorageError('conflict', `${path} contains collections and cannot become a ${tag}`);
};

/** Under the backend's lock: the source exists, the target's parent takes it, an existing target only with overwrite. */
function pairCheck(from: string, to: string, overwrite: boolean): CollectionPairCheck {
  const parent = parentFor(to);
  return (source, targetParent, target) => {
    if (source === undefined) throw new StorageError('not-found', `collection ${from} not found`);
    parent(targetParent);
    if (target !== undefined && !overwrite) throw new StorageError('exists', `${to} exists`);
  };
}

/** Names the items of a whole-collection upload in upload order: given hrefs checked, the others by Radicale's rules. */
export function nameUpload(props: Props, items: NewItems): NamedItems {
  const suffix = props.tag === 'VADDRESSBOOK' ? '.vcf' : '.ics';
  const taken = new Set<string>();
  // Batch by batch for a streamed upload (one `taken` for all: never one name twice): a refusal
  // comes from the batches, and the backend then changes nothing (NewItems).
  return mapBatches(items, (batch) =>
    batch.map((item) => {
      const href = item.href ?? uploadName(item.description.uid, suffix, taken);
      checkName(href);
      taken.add(href);
      return { ...item, href };
    }),
  );
}

export class CheckedStorage<B extends StorageBackend = StorageBackend> implements Storage {
  /** Hooks run one at a time (they often commit the whole folder with git). */
  private hookQueue: Promise<void> = Promise.resolve();
  /** For `storage copy` (postgres/copy.ts): the backend's tokens for the current state, where it has them. */
  readonly currentSyncTokens?: (path: string) => Promise<string[]>;
  /** For `storage copy`: makes another storage's token stand for the current state, where the backend can. */
  readonly aliasSyncToken?: (path: string, token: string) => Promise<boolean>;

  constructor(readonly backend: B) {
    if (backend.currentSyncTokens) this.currentSyncTokens = backend.currentSyncTokens.bind(backend);
    if (backend.aliasSyncToken) this.aliasSyncToken = backend.aliasSyncToken.bind(backend);
  }

  // ---------------------------------------------------------------- lifecycle

  open(options?: { readonly inspectOnly?: boolean }): Promise<void> {
    return this.backend.open(options);
  }

  async close(): Promise<void> {
    await this.hookQueue;
    await this.backend.close();
  }

  /** Runs the storage hook once, after the hooks queued before it; never throws. */
  runHook(ctx: ChangeContext): Promise<void> {
    const { command, cwd, root, log } = this.backend.hookSite;
    if (command === '') return Promise.resolve();
    const run = this.hookQueue.then(() => runHook(command, ctx, { cwd, root }, log));
    this.hookQueue = run;
    return run;
  }

  /**
   * Runs a write, handing the backend its AfterChange: the hook, unless the caller runs it once for
   * several (`deferHook`) or `wrote` says nothing was written; when the backend calls it (under its
   * lock), else once the write has returned. Not when the write fails.
   */
  private async write<T>(
    ctx: ChangeContext,
    run: (after: AfterChange) => Promise<T>,
    wrote: () => boolean = () => true,
  ): Promise<T> {
    let done = false;
    const after: AfterChange = async () => {
      if (done) return;
      done = true;
      if (ctx.deferHook !== true && wrote()) await this.runHook(ctx);
    };
    const out = await run(after);
    await after();
    return out;
  }

  pushStore(): PushStore {
    return this.backend.pushStore();
  }

  verify(report: (problem: string) => void, describe?: ItemDescriber): Promise<boolean> {
    return this.backend.verify(report, describe);
  }

  // ---------------------------------------------------------------- reads

  readonly getCollection: Storage['getCollection'] = (...a) => this.backend.getCollection(...a);
  readonly listCollections: Storage['listCollections'] = (...a) => this.backend.listCollections(...a);
  readonly listItems: Storage['listItems'] = (...a) => this.backend.listItems(...a);
  readonly listItemsInRange: Storage['listItemsInRange'] = (...a) => this.backend.listItemsInRange(...a);
  readonly getItemMeta: Storage['getItemMeta'] = (...a) => this.backend.getItemMeta(...a);
  readonly getItemMetas: Storage['getItemMetas'] = (...a) => this.backend.getItemMetas(...a);
  readonly getItems: Storage['getItems'] = (...a) => this.backend.getItems(...a);
  readonly findByUid: Storage['findByUid'] = (...a) => this.backend.findByUid(...a);
  readonly getItemProps: Storage['getItemProps'] = (...a) => this.backend.getItemProps(...a);
  readonly getEtag: Storage['getEtag'] = (...a) => this.backend.getEtag(...a);
  readonly getSyncToken: Storage['getSyncToken'] = (...a) => this.backend.getSyncToken(...a);
  readonly sync: Storage['sync'] = (...a) => this.backend.sync(...a);

  // ---------------------------------------------------------------- items (write)

  async putItem(
    path: string,
    href: string,
    item: Omit<NewItem, 'href'>,
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    checkName(href);
    pathSegments(path);
    return this.write(ctx, (after) => this.backend.putItem(path, href, item, check, itemCollection, after));
  }

  async deleteItem(path: string, href: string, check: WriteCheck, ctx: ChangeContext): Promise<void> {
    checkName(href);
    pathSegments(path);
    await this.write(ctx, (after) => this.backend.deleteItem(path, href, check, itemCollection, after));
  }

  readonly moveItem: Storage['moveItem'] = (from, to, check, ctx) =>
    this.transfer(from, to, check, ctx, true);
  readonly copyItem: Storage['copyItem'] = (from, to, check, ctx) =>
    this.transfer(from, to, check, ctx, false);

  private async transfer(
    from: { path: string; href: string },
    to: { path: string; href: string },
    check: WriteCheck,
    ctx: ChangeContext,
    move: boolean,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    checkName(from.href);
    checkName(to.href);
    pathSegments(from.path);
    pathSegments(to.path);
    // A MOVE within one collection takes the UID along: the item itself is no other holder of it.
    const uidOwnHref = move && from.path === to.path ? from.href : undefined;
    const t = { from, to, move, uidOwnHref };
    return this.write(ctx, (after) => this.backend.transferItem(t, check, itemCollection, after));
  }

  async setItemProps(path: string, href: string, props: Props): Promise<void> {
    checkName(href);
    checkProps(props);
    pathSegments(path);
    await this.backend.setItemProps(path, href, props, itemCollection);
  }

  // ---------------------------------------------------------------- collections (write)

  async createCollection(path: string, props: Props, ctx: ChangeContext): Promise<CollectionInfo> {
    checkProps(props);
    pathSegments(path);
    if (path === '') throw new StorageError('exists', 'the root collection always exists');
    return this.write(ctx, (after) => this.backend.createCollection(path, props, parentFor(path), after));
  }

  async replaceCollection(
    path: string,
    props: Props,
    items: NewItems,
    ctx: ChangeContext,
  ): Promise<CollectionInfo> {
    checkProps(props);
    pathSegments(path);
    if (path === '') throw new StorageError('conflict', 'the root collection cannot be replaced');
    const named = nameUpload(props, items);
    return this.write(ctx, (after) =>
      this.backend.replaceCollection(path, props, named, parentFor(path), after),
    );
  }

  async deleteCollection(path: string, ctx: ChangeContext): Promise<void> {
    pathSegments(path);
    await this.write(ctx, (after) => this.backend.deleteCollection(path, after));
  }

  async setProps(path: string, change: Props | PropsUpdate, ctx: ChangeContext): Promise<CollectionInfo> {
    if (typeof change !== 'function') checkProps(change);
    pathSegments(path);
    let written = false;
    const update: PropsUpdate = (current) => {
      const props = typeof change === 'function' ? change(current) : change;
      written = props !== undefined;
      if (props !== undefined) checkProps(props);
      return props;
    };
    return this.write(
      ctx,
      (after) => this.backend.setProps(path, update, tagCheck, after),
      () => written,
    );
  }

  readonly moveCollection: Storage['moveCollection'] = (from, to, overwrite, ctx) =>
    this.collectionTransfer(true, from, to, overwrite, ctx);
  readonly copyCollection: Storage['copyCollection'] = (from, to, overwrite, ctx) =>
    this.collectionTransfer(false, from, to, overwrite, ctx);

  private async collectionTransfer(
    move: boolean,
    from: string,
    to: string,
    overwrite: boolean,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }> {
    checkCollectionPair(from, to);
    const check = pairCheck(from, to, overwrite);
    return this.write(ctx, (after) =>
      move
        ? this.backend.moveCollection(from, to, check, after)
        : this.backend.copyCollection(from, to, check, after),
    );
  }
}

/** The Storage of a backend: the shared rules around its files or SQL (see the top of this file). */
export function checkedStorage<B extends StorageBackend>(backend: B): CheckedStorage<B> {
  return new CheckedStorage(backend);
}
