/**
 * What a storage backend implements: the files or the SQL, and nothing of the rules every backend
 * shares. checkedStorage (checked-storage.ts) makes a Storage (types.ts) of it: it checks names and
 * props, refuses what no backend may do (moving the root, a collection into itself, an item into the
 * root), names uploaded items, decides the rule of a moved item's own UID and runs the storage hook;
 * it hands the backend the checks below for the rules that need the state a write replaces.
 *
 * A backend runs each check under the lock (or in the transaction) of its write, on the state it is
 * about to change, so that the rule is decided atomically with the write; a check throws a
 * StorageError to refuse it, and then the backend writes nothing. Paths and hrefs reach a backend
 * already checked (pathSegments, checkName), except those of reads.
 */
import type { Logger } from 'pino';
import type { PushStore } from './push-store.js';
import type {
  CollectionInfo,
  CollectionTree,
  ItemDescriber,
  ItemMeta,
  ItemStore,
  NewItem,
  Props,
  PropsUpdate,
  SyncSource,
  WriteCheck,
} from './types.js';

/**
 * The collection an item write goes to (or a MOVE/COPY takes its item from), as the backend finds it
 * under its lock (undefined: there is none). Returns it, or throws: not found, or a collection that
 * cannot hold items (the root, a subscription).
 */
export type ItemCollectionCheck = (path: string, found: CollectionInfo | undefined) => CollectionInfo;

/**
 * The parent of the collection a write creates (or replaces) at a path, as the backend finds it under
 * its lock; throws when it is missing or cannot contain collections (a calendar, an address book).
 */
export type ParentCheck = (parent: CollectionInfo | undefined) => void;
/**
 * Under the lock of a props write, on the props about to be stored: refuses what the collection
 * cannot become (a calendar or address book that contains collections). `hasChildCollections` is
 * asked only when the answer matters.
 */
export type TagCheck = (
  path: string,
  props: Props,
  hasChildCollections: () => Promise<boolean>,
) => Promise<void>;

/**
 * A collection MOVE/COPY as the backend finds it under its lock: the source, the target's parent and
 * the target (undefined where there is none). Throws when the source is missing, the parent is not a
 * place for a collection, or the target exists and may not be overwritten.
 */
export type CollectionPairCheck = (
  source: CollectionInfo | undefined,
  targetParent: CollectionInfo | undefined,
  target: CollectionInfo | undefined,
) => void;

/** An item of a whole-collection upload, named (checkedStorage names those that came without href). */
export interface NamedItem extends NewItem {
  readonly href: string;
}

/** A whole-collection upload's named items: all at once, or in batches as they are made (NewItems). */
export type NamedItems = readonly NamedItem[] | AsyncIterable<readonly NamedItem[]>;

/** One item MOVE or COPY, as checkedStorage hands it on. */
export interface ItemTransfer {
  readonly from: { readonly path: string; readonly href: string };
  readonly to: { readonly path: string; readonly href: string };
  readonly move: boolean;
  /**
   * Left out, as `to.href` is, of the other holders of the UID the WriteCheck is given: the moved
   * item itself, for a MOVE within one collection.
   */
  readonly uidOwnHref: string | undefined;
}

/**
 * What follows a change: the storage hook (unless the caller deferred it). Every write takes one as its
 * last argument; a backend may await it before it lets the next writer of the collection in (the
 * filesystem backend does: the hook sees the collection as the write left it, as Radicale runs its hook
 * under its lock). When the backend has not called it, checkedStorage does once the write has
 * returned. Never throws; a second call does nothing.
 */
export type AfterChange = () => Promise<void>;

/** Where and how the storage hook runs for this backend (see hook.ts). */
export interface HookSite {
  /** The `[storage] hook` command; '' for none. */
  readonly command: string;
  /** Its working folder (%(cwd)s). */
  readonly cwd: string;
  /** The folder %(path)s is inside (`<folder>/collection-root`); '' when it is the request path itself. */
  readonly root: string;
  readonly log: Logger;
}

type Reads = Pick<CollectionTree, 'getCollection' | 'listCollections'> &
  Pick<
    ItemStore,
    | 'listItems'
    | 'listItemsInRange'
    | 'getItemMeta'
    | 'getItemMetas'
    | 'getItems'
    | 'findByUid'
    | 'getItemProps'
  >;

export interface StorageBackend extends Reads, SyncSource {
  readonly hookSite: HookSite;

  /** As StorageLifecycle.open: folders or schema, and what a crash left (not with `inspectOnly`). */
  open(options?: { readonly inspectOnly?: boolean }): Promise<void>;
  /** Releases what it holds (checkedStorage has waited for the hooks). */
  close(): Promise<void>;
  pushStore(): PushStore;
  verify(report: (problem: string) => void, describe?: ItemDescriber): Promise<boolean>;
  /** For `storage copy`, where the backend can: the sync tokens that stand for the current state. */
  currentSyncTokens?(path: string): Promise<string[]>;
  /** For `storage copy`, where the backend can: makes another storage's token stand for the current state. */
  aliasSyncToken?(path: string, token: string): Promise<boolean>;

  /**
   * Creates or replaces one item: `collection` on the collection, then `check` with the item it
   * replaces and another holder of the UID (not `href`), both under the collection's write lock.
   */
  putItem(
    path: string,
    href: string,
    item: Omit<NewItem, 'href'>,
    check: WriteCheck,
    collection: ItemCollectionCheck,
    after?: AfterChange,
  ): Promise<{ meta: ItemMeta; created: boolean }>;
  /** Deletes one item: `collection`, then `check` (undefined: the backend throws not-found after it). */
  deleteItem(
    path: string,
    href: string,
    check: WriteCheck,
    collection: ItemCollectionCheck,
    after?: AfterChange,
  ): Promise<void>;
  /**
   * Moves or copies an item with its dead properties: `collection` on the source's and the target's
   * collections, the source must exist (not-found), then `check` with the target it replaces and
   * another holder of the source's UID in the target (neither `to.href` nor `uidOwnHref`). An item
   * onto itself changes nothing (the source's meta, not created). A MOVE keeps the modification time.
   */
  transferItem(
    t: ItemTransfer,
    check: WriteCheck,
    collection: ItemCollectionCheck,
    after?: AfterChange,
  ): Promise<{ meta: ItemMeta; created: boolean }>;
  /** Replaces an item's dead properties: `collection`, then not-found for a missing item. */
  setItemProps(path: string, href: string, props: Props, collection: ItemCollectionCheck): Promise<void>;

  /** Creates an empty collection (never the root): `parent`, then 'exists' when there is one. */
  createCollection(
    path: string,
    props: Props,
    parent: ParentCheck,
    after?: AfterChange,
  ): Promise<CollectionInfo>;
  /**
   * Puts a new collection with these props and items at `path` (never the root), replacing any there
   * and all below it, atomically for readers; `parent` is checked under the lock of the swap.
   */
  replaceCollection(
    path: string,
    props: Props,
    items: NamedItems,
    parent: ParentCheck,
    after?: AfterChange,
  ): Promise<CollectionInfo>;
  /** Deletes a collection and all below it (not-found when missing); the root '' deletes every child. */
  deleteCollection(path: string, after?: AfterChange): Promise<void>;
  /**
   * Runs `update` on the stored props under the lock every writer takes; it returns the props to
   * store (already checked), or undefined to store nothing; then `tag` on them, under the same lock.
   * not-found when missing.
   */
  setProps(path: string, update: PropsUpdate, tag: TagCheck, after?: AfterChange): Promise<CollectionInfo>;
  /**
   * Moves a collection (its subtree, items, props and sync history) from `from` to `to`, replacing
   * the target when there is one; `check` first, under the lock of the move (and again wherever the
   * backend decides once more on fresher state). The paths are neither the root nor inside one another.
   */
  moveCollection(
    from: string,
    to: string,
    check: CollectionPairCheck,
    after?: AfterChange,
  ): Promise<{ created: boolean }>;
  /** Copies a collection (a new sync history) as moveCollection moves it. */
  copyCollection(
    from: string,
    to: string,
    check: CollectionPairCheck,
    after?: AfterChange,
  ): Promise<{ created: boolean }>;
}
