/**
 * The typed request that every DAV method handler receives, the response it returns, and the
 * extension points through which CalDAV and CardDAV plug into the WebDAV core.
 */
import type { Logger } from 'pino';
import type {
  CollectionInfo,
  CollectionTag,
  ItemDescription,
  ItemMeta,
  NewItems,
  Storage,
} from '../storage/types.js';
import type { BytesCache } from './derived-cache.js';
import type { DavSettings } from './settings.js';
import type { XmlElement, XmlNode } from './xml.js';
import type { ItemConditions } from './preconditions.js';

/** What a request path points at. */
export type Resource =
  | { readonly kind: 'collection'; readonly path: string; readonly info: CollectionInfo }
  | ItemResource
  | {
      readonly kind: 'missing';
      /** Path of the parent collection and the last segment. */
      readonly parentPath: string;
      readonly name: string;
      readonly parent: CollectionInfo | undefined;
    };

/** An item a request path points at. */
export interface ItemResource {
  readonly kind: 'item';
  /** The collection's path. */
  readonly path: string;
  readonly href: string;
  readonly meta: ItemMeta;
  readonly collection: CollectionInfo;
}

/** Permission checks for the current user (Radicale's rights letters behind them). */
export interface Access {
  /** Letters for a collection path. */
  letters(path: string): string;
  canRead(res: Resource): boolean;
  canWrite(res: Resource): boolean;
  /** DAV privileges of the user on the resource, for current-user-privilege-set. */
  privileges(res: Resource): string[];
  /** Only GET of the whole collection is allowed ('i'). */
  canExport(res: Resource): boolean;
  mayDeleteCollection(path: string): boolean;
  mayOverwriteCollection(path: string): boolean;
}

export interface DavRequest {
  readonly method: string;
  /** Decoded path segments of the request URL (after the proxy prefix). */
  readonly segments: readonly string[];
  readonly trailingSlash: boolean;
  /** Reverse-proxy prefix to put in front of every href we generate ('' or '/radicale'). */
  readonly prefix: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Logged-in user ('' = anonymous). */
  readonly user: string;
  readonly groups: ReadonlySet<string>;
  readonly access: Access;
  readonly storage: Storage;
  /**
   * What the core reads of the configuration, built once at start-up (see settings.ts). The plugins
   * have their own settings, given to them when they were built (`calDavPlugin(settings)`...).
   */
  readonly settings: DavSettings;
  readonly log: Logger;
  readonly plugins: DavPlugins;
  /** Cache of whole-collection exports; absent = exports are built on every GET. */
  readonly derivedCache?: BytesCache;
  /** Reads the request body (limited by max_content_length). */
  body(): Promise<Buffer>;
  /** Host as the client sees us (X-Forwarded-Host/-Proto/-Port when from a trusted proxy). */
  readonly origin: { readonly host: string; readonly proto: string };
  /** Header value as one string. */
  header(name: string): string | undefined;
}

export interface DavResponse {
  status: number;
  headers: Record<string, string>;
  /**
   * A whole body, or a stream of chunks (big multistatus answers are written as they are made; a cached
   * export is streamed from its file as bytes, with a Content-Length header).
   */
  body?: string | Buffer | AsyncIterable<string | Uint8Array>;
}

/** A property a server computes (not stored). */
export interface LiveProperty {
  /** Clark name. */
  readonly name: string;
  /** Included in allprop answers. */
  readonly allprop: boolean;
  /** Whether this resource has the property at all (absent → 404 in propstat, not listed by propname). */
  appliesTo(res: Resource, req: DavRequest): boolean;
  /**
   * Value as XML children (string = text). May be async. `requested` is the element as the client
   * asked for it (REPORTs pass e.g. C:calendar-data with its comp/expand selection).
   */
  get(res: Resource, req: DavRequest, requested?: XmlElement): XmlNode[] | Promise<XmlNode[]>;
  /**
   * For an item property whose value may be the item's stored text unchanged (calendar-data and
   * address-data asked for without a selection or conversion): whether `requested` asks for exactly
   * that. Listings and multigets then write the text into the answer without evaluating `get`.
   */
  readonly verbatimText?: (requested: XmlElement) => boolean;
  /**
   * For a property every item has whose value on an item depends on the item's metadata only (the
   * same for every user and request: getetag, getcontenttype...): that value as text ('' for an
   * empty element). `get` of an item answers the same; listings and multigets write it into the
   * answer without evaluating `get` (`item-responses.ts`).
   */
  readonly itemMetadata?: (res: ItemResource, req: DavRequest) => string;
  /** Whether PROPPATCH/MKCOL may set/remove it (stored like a dead property). Default: protected. */
  readonly writable?: boolean;
  /** How a written value is stored in the props (default: the element's text or XML). */
  storeAs?(prop: XmlElement): string;
}

export type ReportHandler = (req: DavRequest, res: Resource, body: XmlElement) => Promise<DavResponse>;

/** Answers one HTTP method. */
export type MethodHandler = (req: DavRequest) => Promise<DavResponse>;

/**
 * A method a plugin or feature serves. `handle.ts` first checks that the user has some right on the
 * path (403, or 401 for an anonymous client, before storage is looked at), unless `ownRightsCheck` is
 * set: then the handler decides alone (OPTIONS answers everyone; POST leaves it to its targets).
 */
export interface MethodRegistration {
  readonly handler: MethodHandler;
  readonly ownRightsCheck?: boolean;
}

/**
 * One use of POST (sharing's /.sharing API, a scheduling outbox, WebDAV-Push registration): the core
 * POST handler gives the request to the first registered target whose `matches` is true, and answers
 * 405 when none is. `matches` sees only the path and the headers (the body is read once, by the target
 * that takes it), and runs before rights and storage are looked at.
 */
export interface PostTarget {
  /** Short name, for logs and docs (`sharing`, `schedule-outbox`, `push-register`). */
  readonly name: string;
  matches(req: DavRequest): boolean;
  /**
   * Whether the target checks rights itself (an API of its own, such as /.sharing, which answers 404
   * when it is off, whoever asks). Otherwise the core first requires some right on the path, as for
   * every other method.
   */
  readonly ownRightsCheck?: boolean;
  /**
   * The Clark names of the XML body roots the target takes (sharing's `CS:share`): when set, the
   * body is parsed and the target is passed over for a body with another root (or none), so that
   * two features can share XML POSTs to one collection (sharing and WebDAV-Push registration).
   */
  readonly xmlRoots?: readonly string[];
  handle(req: DavRequest): Promise<DavResponse>;
}

/** A PUT or DELETE of one item, as plugins that act on writes (CalDAV scheduling) see it beforehand. */
export interface ItemWrite {
  readonly path: string;
  readonly href: string;
  readonly collection: CollectionInfo;
  /** The validated text to store (PUT); undefined for a DELETE. */
  readonly text?: string;
}

/**
 * What a plugin adds to an item write: another text to store (validated again by the kind), a check run
 * under the collection's write lock with the item as it is then (throw `StaleWrite` when the plan was
 * made from an older state: the write is planned again), and work after the write is stored, whose
 * headers go into the response. `after` must not throw: the write is done.
 */
export interface ItemWritePlan {
  readonly text?: string;
  readonly check?: (existing: ItemMeta | undefined) => void;
  readonly after?: (meta: ItemMeta | undefined) => Promise<Readonly<Record<string, string>>>;
}

/** An item MOVE or COPY about to be made, for the plugins to refuse (e.g. scheduling's rules). */
export interface ItemTransfer {
  readonly isMove: boolean;
  readonly from: ItemResource;
  /** The destination collection's path, the item's name there, and the collection. */
  readonly toPath: string;
  readonly toHref: string;
  readonly toCollection: CollectionInfo;
}

export type ItemTransferHook = (req: DavRequest, transfer: ItemTransfer) => Promise<void>;

export type ItemWriteHook = (req: DavRequest, write: ItemWrite) => Promise<ItemWritePlan | undefined>;

/**
 * A path a feature owns outright, whatever the method (WebDAV-Push's registration URLs,
 * `/.push/<id>`, which a client DELETEs): `handle.ts` gives it every request whose `matches` is true,
 * after authentication, and the target checks rights itself (the rights files know nothing of it).
 * `matches` sees only the method, the path and the headers.
 */
export interface PathTarget {
  /** Short name, for logs and docs (`push-registration`). */
  readonly name: string;
  matches(req: DavRequest): boolean;
  handle(req: DavRequest): Promise<DavResponse>;
}

/**
 * A kind of collection (calendar, address book): how its items are validated, described, split,
 * exported, which properties and reports it adds.
 */
export interface CollectionKind {
  readonly tag: Exclude<CollectionTag, ''>;
  /** The DAV:error conditions of its items, in its namespace (max-resource-size, no-uid-conflict). */
  readonly preconditions: ItemConditions;
  /** Clark name of the resourcetype child (`{urn:ietf:params:xml:ns:caldav}calendar`). */
  readonly resourceType: string;
  /** Suffix used when naming uploaded items. */
  readonly suffix: string;
  /** Content type of the whole-collection export. */
  readonly exportContentType: string;
  /** MIME type of items, used to recognise whole-collection uploads. */
  readonly mediaTypes: readonly string[];
  /** Content-Type of an item's GET (Radicale's: `text/calendar; charset=utf-8`). */
  itemContentType(meta: ItemMeta): string;
  /**
   * DAV:getcontenttype of an item, as Radicale writes it (`text/calendar;charset=utf-8;component=VEVENT`):
   * clients compare it with what Radicale sent.
   */
  itemContentTypeProperty(meta: ItemMeta): string;
  /** DAV:getcontenttype of the collection itself (Radicale's: `text/calendar`). */
  readonly collectionContentTypeProperty: string;
  /**
   * Validates one item for PUT (a big one off the event loop), with the settings the kind was built
   * from (CalDAV's recurrence limit); throws (rejects with) DavError.
   */
  validateItem(text: string, collection: CollectionInfo): ItemDescription | Promise<ItemDescription>;
  /** Tolerant description for indexing. */
  describe(text: string): ItemDescription;
  /** For --verify-storage: throws, with the reason, when Radicale could not load this stored item. */
  verifyItem(text: string): void;
  /**
   * Splits a whole-collection upload into items and props derived from it. The items may come in
   * batches (made in a worker while the storage writes them); `release`, when given, stops what
   * makes them and is called once the upload is done or refused.
   */
  splitUpload(
    text: string,
  ): Promise<{ items: NewItems; props: Record<string, string>; release?: () => void }>;
  /** The whole-collection export (GET), streamed. */
  exportCollection(items: AsyncIterable<string>, info: CollectionInfo): AsyncIterable<string>;
  /** Does the text look like this kind (for whole-collection PUT on a new path)? */
  sniff(text: string): boolean;
}

/**
 * A collection tag a plugin knows that holds no items (CalendarServer's subscribed calendar, a
 * `CS:subscribed` resourcetype): made by MKCOL with that resourcetype, refused as a PUT target.
 */
export interface ItemlessKind {
  readonly tag: Exclude<CollectionTag, ''>;
  /** Clark name of the resourcetype child. */
  readonly resourceType: string;
  /** The 403 message of a PUT into it. */
  readonly putRefusal: string;
}

/**
 * The registered plugins taken together: their collection kinds, live properties, reports, methods,
 * POST and path targets, creation bodies and item-write hooks, looked up by what a request needs.
 */
export interface DavPlugins {
  byTag(tag: CollectionTag): CollectionKind | undefined;
  all(): readonly CollectionKind[];
  /** The tags that hold no items (see ItemlessKind). */
  itemless(): readonly ItemlessKind[];
  /** Clark names a client may search principals by (principal-search-property-set), core's first. */
  searchableProperties(): readonly string[];
  /** Live properties added by plugins. */
  properties(): readonly LiveProperty[];
  /** Reports by Clark name of the request's root element. */
  report(name: string): ReportHandler | undefined;
  /** Report names supported on a resource (for supported-report-set). */
  reportsFor(res: Resource): string[];
  /** Values for the DAV: header of OPTIONS. */
  compliance(): string[];
  /** The handler of a served method (upper case); undefined: not served. */
  method(name: string): MethodRegistration | undefined;
  /** The served methods, in registration order (OPTIONS' Allow header). POST counts once a target exists. */
  methods(): readonly string[];
  /** POST targets, in registration order. */
  postTargets(): readonly PostTarget[];
  /** Paths features own (see PathTarget), in registration order. */
  pathTargets(): readonly PathTarget[];
  /** Clark names of the bodies MKCOL (and a plugin's creating method) accept: DAV:mkcol and the plugins'. */
  createBodies(): readonly string[];
  /** Plugins' hooks on item PUT/DELETE, in registration order. */
  itemWriteHooks(): readonly ItemWriteHook[];
  /** Plugins' checks of an item MOVE/COPY, in registration order. */
  itemTransferHooks(): readonly ItemTransferHook[];
  /** Headers the plugins add to an item's GET/HEAD answer (Schedule-Tag), merged in registration order. */
  itemGetHeaders(res: ItemResource, text: string): Record<string, string>;
  /** Other hrefs that name `user` besides their principal URL (mailto: addresses), from the plugins. */
  principalAliases(req: DavRequest, user: string): string[];
  /**
   * The resourcetype child of a collection: a plugin's answer, else its kind's (or itemless kind's);
   * undefined for none.
   */
  resourceTypeOf(info: CollectionInfo): string | undefined;
  /** Further resourcetype children plugins add for this request (sharing's CS:shared-owner). */
  extraResourceTypes(res: Resource & { kind: 'collection' }, req: DavRequest): Promise<string[]>;
}

export interface DavPlugin {
  readonly kinds?: readonly CollectionKind[];
  /** Tags without items the plugin knows (see ItemlessKind). */
  readonly itemlessKinds?: readonly ItemlessKind[];
  /** Properties (Clark names) of principals a client may search by (principal-property-search). */
  readonly searchableProperties?: readonly string[];
  readonly properties?: readonly LiveProperty[];
  readonly reports?: Readonly<
    Record<string, { handler: ReportHandler; appliesTo: (res: Resource) => boolean }>
  >;
  readonly compliance?: readonly string[];
  /** Methods by name (upper case); a later plugin may not take a name an earlier one registered. */
  readonly methods?: Readonly<Record<string, MethodRegistration>>;
  /** Uses of POST (see PostTarget). */
  readonly postTargets?: readonly PostTarget[];
  /** Paths the plugin owns for every method (see PathTarget). */
  readonly pathTargets?: readonly PathTarget[];
  /** Root elements of bodies that create a collection with properties (C:mkcalendar), beside DAV:mkcol. */
  readonly createBodies?: readonly string[];
  /** Runs before each item PUT/DELETE (see ItemWritePlan). */
  readonly itemWrite?: ItemWriteHook;
  /** Names a collection's resourcetype child instead of its kind (a CalDAV scheduling inbox). */
  readonly resourceType?: (info: CollectionInfo) => string | undefined;
  /** Runs before an item MOVE or COPY (see ItemTransfer); throws a DavError to refuse it. */
  readonly itemTransfer?: ItemTransferHook;
  /** Headers of an item's GET/HEAD answer, from its stored text (RFC 6638's Schedule-Tag). */
  readonly itemGetHeaders?: (res: ItemResource, text: string) => Readonly<Record<string, string>>;
  /** Hrefs that also name a user (principal-match): CalDAV scheduling's calendar user addresses. */
  readonly principalAliases?: (req: DavRequest, user: string) => readonly string[];
  /**
   * Further resourcetype children of a collection as this request sees it, beside the kind's (CS:shared
   * on a sharee's view of a shared calendar, CS:shared-owner on the owner's).
   */
  readonly extraResourceTypes?: (
    res: Resource & { kind: 'collection' },
    req: DavRequest,
  ) => Promise<readonly string[]> | readonly string[];
}

export function combinePlugins(plugins: readonly DavPlugin[]): DavPlugins {
  const kinds = plugins.flatMap((plugin) => plugin.kinds ?? []);
  const itemless = plugins.flatMap((plugin) => plugin.itemlessKinds ?? []);
  const searchable = [...new Set(plugins.flatMap((plugin) => plugin.searchableProperties ?? []))];
  const props = plugins.flatMap((plugin) => plugin.properties ?? []);
  const reports = new Map<string, { handler: ReportHandler; appliesTo: (res: Resource) => boolean }>();
  for (const plugin of plugins) for (const [k, v] of Object.entries(plugin.reports ?? {})) reports.set(k, v);
  const compliance = plugins.flatMap((plugin) => plugin.compliance ?? []);
  const methods = new Map<string, MethodRegistration>();
  for (const plugin of plugins) {
    for (const [name, registration] of Object.entries(plugin.methods ?? {})) {
      if (name !== name.toUpperCase()) throw new Error(`method names are upper case: ${name}`);
      if (methods.has(name)) throw new Error(`method ${name} is registered twice`);
      methods.set(name, registration);
    }
  }
  const postTargets = plugins.flatMap((plugin) => plugin.postTargets ?? []);
  const names = new Set<string>();
  for (const t of postTargets) {
    if (names.has(t.name)) throw new Error(`POST target ${t.name} is registered twice`);
    names.add(t.name);
  }
  // POST is served once some feature uses it; until then it stays a known method we refuse (405).
  if (postTargets.length === 0) methods.delete('POST');
  const served = [...methods.keys()];
  const createBodies = plugins.flatMap((plugin) => plugin.createBodies ?? []);
  const pathTargets = plugins.flatMap((plugin) => plugin.pathTargets ?? []);
  const writeHooks = plugins.flatMap((plugin) => (plugin.itemWrite ? [plugin.itemWrite] : []));
  const typeNamers = plugins.flatMap((plugin) => (plugin.resourceType ? [plugin.resourceType] : []));
  const transferHooks = plugins.flatMap((plugin) => (plugin.itemTransfer ? [plugin.itemTransfer] : []));
  const getHeaders = plugins.flatMap((plugin) => (plugin.itemGetHeaders ? [plugin.itemGetHeaders] : []));
  const aliases = plugins.flatMap((plugin) => (plugin.principalAliases ? [plugin.principalAliases] : []));
  const extraTypes = plugins.flatMap((plugin) =>
    plugin.extraResourceTypes ? [plugin.extraResourceTypes] : [],
  );
  return {
    byTag: (tag) => kinds.find((k) => k.tag === tag),
    all: () => kinds,
    itemless: () => itemless,
    searchableProperties: () => searchable,
    properties: () => props,
    report: (name) => reports.get(name)?.handler,
    reportsFor: (res) => [...reports].filter(([, v]) => v.appliesTo(res)).map(([k]) => k),
    compliance: () => compliance,
    method: (name) => methods.get(name),
    methods: () => served,
    postTargets: () => postTargets,
    pathTargets: () => pathTargets,
    createBodies: () => createBodies,
    itemWriteHooks: () => writeHooks,
    itemTransferHooks: () => transferHooks,
    principalAliases: (req, user) => aliases.flatMap((a) => [...a(req, user)]),
    itemGetHeaders: (res, text) =>
      Object.assign({}, ...getHeaders.map((h) => h(res, text))) as Record<string, string>,
    resourceTypeOf: (info) => {
      for (const name of typeNamers) {
        const t = name(info);
        if (t !== undefined) return t;
      }
      return (kinds.find((k) => k.tag === info.tag) ?? itemless.find((k) => k.tag === info.tag))
        ?.resourceType;
    },
    extraResourceTypes: async (res, req) => {
      const out: string[] = [];
      for (const f of extraTypes) out.push(...(await f(res, req)));
      return out;
    },
  };
}
