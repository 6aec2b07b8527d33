/**
 * The storage interface. The protocol layers (src/dav, src/caldav, src/carddav) use only this; the
 * filesystem backend (Radicale-compatible) and later the PostgreSQL backend implement it.
 *
 * Paths are collection paths without leading or trailing slash, already sanitized and decoded:
 * '' is the root, 'alice' a principal, 'alice/work' a calendar. An href is the item's name inside
 * its collection (the last URL segment, decoded), e.g. 'standup.ics'. No filesystem path ever leaves
 * src/storage.
 */

import type { PushStore } from './push-store.js';

export type CollectionTag = '' | 'VCALENDAR' | 'VADDRESSBOOK' | 'VSUBSCRIBED';

/**
 * Collection properties exactly as Radicale keeps them in `.Radicale.props`: keys `D:displayname`,
 * `C:calendar-description`, `ICAL:calendar-color`, Clark `{ns}name` for other namespaces, and `tag`.
 * Values are strings.
 */
export type Props = Readonly<Record<string, string>>;

export interface CollectionInfo {
  readonly path: string;
  readonly tag: CollectionTag;
  readonly props: Props;
  /** Newest modification of the collection or any of its items. */
  readonly lastModified: Date;
  /**
   * Set by sharing's view on an address book served converted (a `bday` share): a read-only calendar
   * of generated items, with no sync token (never set by a storage backend).
   */
  readonly conversion?: 'bday';
  /**
   * Set by a request's share view (src/sharing/view.ts) on the root of a map share as its user sees it:
   * the share's record. Never stored; a backend leaves it unset.
   */
  readonly share?: SharedFrom;
}

/** The map share a collection stands for (see CollectionInfo.share). */
export interface SharedFrom {
  /** The owner's collection, `/alice/cal/`. */
  readonly pathMapped: string;
  readonly owner: string;
  /** The share's rights letters (`r`, `rw`). */
  readonly permissions: string;
}

/**
 * What the protocol layer learns from an item's text (computed by an ItemDescriber that the caldav /
 * carddav layers provide), stored in the index so that listings and filters need not parse items.
 */
export interface ItemDescription {
  /** UID of the object ('' if none). */
  readonly uid: string;
  /** Main component: VEVENT, VTODO, VJOURNAL, VFREEBUSY, VCARD, or '' when unknown. */
  readonly component: string;
  /**
   * Overall time range of the item in POSIX seconds (recurrences included), for time-range
   * pre-filtering. `end` is Number.MAX_SAFE_INTEGER for open-ended recurrences; both 0 when unknown
   * (then every time-range query must look at the item).
   */
  readonly start: number;
  readonly end: number;
}

export interface ItemMeta extends ItemDescription {
  readonly href: string;
  /** Quoted strong ETag: '"' + sha256 hex of the stored text + '"'. */
  readonly etag: string;
  /** Size of the stored text in bytes (UTF-8). */
  readonly size: number;
  /** Last modification, in milliseconds since the epoch (a number: 100,000 Date objects weigh 10 MB). */
  readonly lastModifiedMs: number;
}

export interface Item extends ItemMeta {
  /** The stored text, exactly as stored (CRLF line endings). */
  readonly text: string;
}

/** Parses an item's text to describe it. Throws when the text is not a valid item. */
export type ItemDescriber = (text: string, tag: CollectionTag) => ItemDescription;

/** Who asked for a change and why: used for the storage hook's placeholders and logs. */
export interface ChangeContext {
  /** Login of the user ('' for anonymous); through a share, the share's owner (the storage hook's %(user)s). */
  readonly user: string;
  /** Through a share: the logged-in user (the sharee) whose request it is, when `user` is the owner. */
  readonly actor?: string;
  /**
   * The request path, percent-decoded and without the proxy prefix (`/alice/cal/x.ics`, `/alice/cal/`);
   * '' for a change that is not one request's (principal creation). The storage hook's %(path)s is
   * this path inside the collection root.
   */
  readonly path: string;
  /** The destination path for MOVE/COPY, in the same form (for %(to_path)s). */
  readonly toPath?: string;
  /** HTTP method (for %(request)s); `NONE` when the change is not one request's, as in Radicale. */
  readonly request: string;
  /** True: do not run the storage hook for this call; the caller runs it once (`runHook`) for several. */
  readonly deferHook?: boolean;
  /** The request body, when change notifications report it (PROPPATCH of a collection). */
  readonly body?: string;
}

/**
 * A check run under the collection's write lock with the current state of the target, so that
 * preconditions (If-Match, If-None-Match, UID uniqueness) are atomic with the write. It throws a
 * DavError to refuse the write. It may run more than once for one write (the filesystem backend
 * checks its own view first, then the folder under the cross-process lock), so it has no side effects.
 */
export type WriteCheck = (
  existing: ItemMeta | undefined,
  collection: CollectionInfo,
  /**
   * Another item of the target collection (different href) that already has the new item's UID,
   * for the CalDAV/CardDAV no-uid-conflict precondition; undefined for deletes or when none.
   */
  sameUid?: ItemMeta,
) => void;

export interface SyncResult {
  /** The new token (full URI, e.g. `http://radicale.org/ns/sync/<hex>`). */
  readonly token: string;
  /** Hrefs added or changed since the old token (all current hrefs when the old token was ''). */
  readonly changed: readonly string[];
  /** Hrefs deleted since the old token. */
  readonly deleted: readonly string[];
  /**
   * True when `limit` cut the answer: `token` then stands for the state after the changes returned, so
   * the client continues from it and gets the rest (RFC 6578 §3.6 paging).
   */
  readonly truncated?: boolean;
}

/**
 * The props to store given those stored now, or undefined to store nothing. Runs under the storage's
 * write lock: it must not wait for anything (no I/O); it may throw, and then nothing is written.
 */
export type PropsUpdate = (current: Props) => Props | undefined;

export class StorageError extends Error {
  constructor(
    readonly code:
      | 'not-found' // target or its parent does not exist
      | 'exists' // target already exists
      | 'conflict' // e.g. parent is not a collection, or a collection inside a calendar
      | 'invalid-sync-token'
      | 'invalid-name' // name not storable (dot-file, `~`, ...)
      | 'unencodable' // text with a character [encoding] stock cannot store
      | 'no-space'
      | 'not-permitted', // the filesystem refuses the server (permissions, read-only, immutable)
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export interface NewItem {
  /** Wanted href; when absent, the storage names it with Radicale's upload naming rules. */
  readonly href?: string;
  readonly text: string;
  readonly description: ItemDescription;
}

/**
 * The items of a whole-collection upload: all at once, or in batches as they are made (a big import,
 * so that no one holds all of them). An error thrown by the batches aborts the upload: nothing changes.
 */
export type NewItems = readonly NewItem[] | AsyncIterable<readonly NewItem[]>;

/**
 * The tree of collections: what exists where, its props, and the operations that create, replace,
 * move, copy or delete a collection as a whole. Guarantees: the root '' always exists; a collection's
 * parent exists and is not a calendar or address book; replaceCollection is atomic for readers (they
 * see the old collection or the new one, never half); a PropsUpdate runs under the lock every writer
 * takes, so a concurrent change is never lost.
 */
export interface CollectionTree {
  /** The collection at `path`, or undefined. The root '' always exists. */
  getCollection(path: string): Promise<CollectionInfo | undefined>;
  /** Direct child collections of `path` (for Depth 1 on the root or a principal). */
  listCollections(path: string): Promise<CollectionInfo[]>;
  /** Creates a collection; its parent must exist and not be a calendar/address book. */
  createCollection(path: string, props: Props, ctx: ChangeContext): Promise<CollectionInfo>;
  /**
   * Creates or replaces a whole collection with these props and items, atomically: readers see the
   * old or the new collection, never half of it. Items without href are named by the upload rules.
   */
  replaceCollection(path: string, props: Props, items: NewItems, ctx: ChangeContext): Promise<CollectionInfo>;
  /** Deletes a collection with everything inside (the root '' deletes every child). */
  deleteCollection(path: string, ctx: ChangeContext): Promise<void>;
  /**
   * Replaces a collection's props: with the props to store, or with a PropsUpdate that merges a change
   * into the stored props under the lock other processes (a second Almanac, Radicale) and instances
   * take too, so that a concurrent change is never lost.
   */
  setProps(path: string, props: Props | PropsUpdate, ctx: ChangeContext): Promise<CollectionInfo>;
  /** Moves or renames a collection (with `overwrite`, an existing target is replaced). */
  moveCollection(
    from: string,
    to: string,
    overwrite: boolean,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }>;
  /** Copies a collection with its items and props. */
  copyCollection(
    from: string,
    to: string,
    overwrite: boolean,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }>;
}

/**
 * The items of one collection: their metadata, text and dead properties, and the writes on a single
 * item. Guarantees: listings are in a stable order; every write runs its WriteCheck with the item it
 * would replace under the collection's write lock, and writes nothing when the check throws; an
 * item's dead properties stay across PUT, follow MOVE and COPY and go with DELETE.
 */
export interface ItemStore {
  /** Metadata of every item in a collection, in a stable order. */
  listItems(path: string): Promise<ItemMeta[]>;
  /**
   * Items that may have an instance in [start, end] (POSIX seconds, inclusive): those whose indexed
   * span overlaps it and those whose span is unknown (start = end = 0); with `component`, only items
   * of that component (or unknown). In listing order. Backends answer from their index.
   */
  listItemsInRange(
    path: string,
    range: { start: number; end: number },
    component?: string,
  ): Promise<ItemMeta[]>;
  /** One item's metadata, or undefined. */
  getItemMeta(path: string, href: string): Promise<ItemMeta | undefined>;
  /**
   * Metadata of several items (multiget, sync), in the order asked; missing ones and names no item
   * can have are left out. A backend answers in one read where it can.
   */
  getItemMetas(path: string, hrefs: readonly string[]): Promise<ItemMeta[]>;
  /** Items with their text; the named hrefs only (missing ones are left out), or all when undefined. */
  getItems(path: string, hrefs?: readonly string[]): AsyncIterable<Item>;
  /** Metadata of the item with this UID in the collection, if any (for UID uniqueness). */
  findByUid(path: string, uid: string): Promise<ItemMeta | undefined>;
  /** Creates or replaces one item. Returns the new metadata and whether it was created. */
  putItem(
    path: string,
    href: string,
    item: Omit<NewItem, 'href'>,
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }>;
  /** Deletes one item; `check` sees the existing item (undefined → it throws not found itself). */
  deleteItem(path: string, href: string, check: WriteCheck, ctx: ChangeContext): Promise<void>;
  /**
   * Dead properties of an item (WebDAV PROPPATCH on items; same key format as collection props).
   * Kept across PUT, carried by moveItem/copyItem, dropped by deleteItem; empty when none.
   */
  getItemProps(path: string, href: string): Promise<Props>;
  /** Replaces an item's dead properties (the caller merges); not-found when the item is missing. */
  setItemProps(path: string, href: string, props: Props): Promise<void>;
  /** Moves an item between (or within) collections; `check` sees the existing target. */
  moveItem(
    from: { path: string; href: string },
    to: { path: string; href: string },
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }>;
  /** Copies an item; `check` sees the existing target. */
  copyItem(
    from: { path: string; href: string },
    to: { path: string; href: string },
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }>;
}

/**
 * What a client needs to notice changes: the collection ETag (CS:getctag) and the RFC 6578 sync
 * token, and the changes since a token. Guarantees: the ETag and the sync token follow every write
 * to a collection's items; an old token is answered with the changes since it or refused with
 * StorageError('invalid-sync-token') (unknown or expired).
 */
export interface SyncSource {
  /** Radicale's collection ETag (also CS:getctag), quoted. */
  getEtag(path: string): Promise<string>;
  /** Current sync token of a collection (full URI). */
  getSyncToken(path: string): Promise<string>;
  /**
   * Changes since `oldToken` ('' = initial sync), at most `limit` of them (changed + deleted) when given.
   * Throws StorageError('invalid-sync-token') for a token that is unknown or expired.
   */
  sync(path: string, oldToken: string, limit?: number): Promise<SyncResult>;
}

/**
 * Start, stop and upkeep of a backend: opening (and repairing what a crash left), closing, the
 * storage hook, the WebDAV-Push store and the offline check. Guarantees: open is called once before
 * anything else and close once at the end (the caller's part); runHook never throws.
 */
export interface StorageLifecycle {
  /**
   * Creates folders, checks the configuration, puts right what a crash interrupted. Called once at
   * start-up; `inspectOnly` (for `--verify-storage`) changes nothing a crash left, so it can be reported.
   */
  open(options?: { readonly inspectOnly?: boolean }): Promise<void>;
  /** Releases file handles, timers, connections. */
  close(): Promise<void>;
  /** Runs the storage hook once for changes made with `deferHook` (never throws). */
  runHook(ctx: ChangeContext): Promise<void>;
  /** Where WebDAV-Push keeps its registrations and keys (the backend's own folder or tables). */
  pushStore(): PushStore;
  /**
   * Checks every collection and item; used by `almanac --verify-storage`. `describe` replaces the
   * storage's describer for the items (one that also throws for what Radicale could not load).
   */
  verify(report: (problem: string) => void, describe?: ItemDescriber): Promise<boolean>;
}

/**
 * A storage backend (filesystem or PostgreSQL): all four concerns together. Callers take a Storage;
 * a helper that needs one concern only may take that interface instead.
 */
export interface Storage extends CollectionTree, ItemStore, SyncSource, StorageLifecycle {}
