/**
 * The typed request that every DAV method handler receives, the response it returns, and the
 * extension points through which CalDAV and CardDAV plug into the WebDAV core.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type {
  CollectionInfo,
  CollectionTag,
  ItemDescription,
  ItemMeta,
  NewItem,
  Storage,
} from '../storage/types.js';
import type { DerivedCache } from '../storage/derived-cache.js';
import type { XmlElement, XmlNode } from './xml.js';

/** What a request path points at. */
export type Resource =
  | { readonly kind: 'collection'; readonly path: string; readonly info: CollectionInfo }
  | {
      readonly kind: 'item';
      readonly path: string; // the collection's path
      readonly href: string;
      readonly meta: ItemMeta;
      readonly collection: CollectionInfo;
    }
  | {
      readonly kind: 'missing';
      /** Path of the parent collection and the last segment. */
      readonly parentPath: string;
      readonly name: string;
      readonly parent: CollectionInfo | undefined;
    };

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
  readonly config: Config;
  readonly log: Logger;
  readonly kinds: KindRegistry;
  /** Cache of whole-collection exports; absent = exports are built on every GET. */
  readonly derivedCache?: DerivedCache;
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
  /** Whether PROPPATCH/MKCOL may set/remove it (stored like a dead property). Default: protected. */
  readonly writable?: boolean;
  /** How a written value is stored in the props (default: the element's text or XML). */
  storeAs?(prop: XmlElement): string;
}

export type ReportHandler = (req: DavRequest, res: Resource, body: XmlElement) => Promise<DavResponse>;

/**
 * A kind of collection (calendar, address book): how its items are validated, described, split,
 * exported, which properties and reports it adds.
 */
export interface CollectionKind {
  readonly tag: Exclude<CollectionTag, ''>;
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
  /** Validates one item for PUT (a big one off the event loop); throws (rejects with) DavError. */
  validateItem(
    text: string,
    collection: CollectionInfo,
    config: Config,
  ): ItemDescription | Promise<ItemDescription>;
  /** Tolerant description for indexing. */
  describe(text: string): ItemDescription;
  /** For --verify-storage: throws, with the reason, when Radicale could not load this stored item. */
  verifyItem(text: string): void;
  /** Splits a whole-collection upload into items and props derived from it. */
  splitUpload(text: string): Promise<{ items: NewItem[]; props: Record<string, string> }>;
  /** The whole-collection export (GET), streamed. */
  exportCollection(items: AsyncIterable<string>, info: CollectionInfo): AsyncIterable<string>;
  /** Does the text look like this kind (for whole-collection PUT on a new path)? */
  sniff(text: string): boolean;
}

export interface KindRegistry {
  byTag(tag: CollectionTag): CollectionKind | undefined;
  all(): readonly CollectionKind[];
  /** Live properties added by plugins. */
  properties(): readonly LiveProperty[];
  /** Reports by Clark name of the request's root element. */
  report(name: string): ReportHandler | undefined;
  /** Report names supported on a resource (for supported-report-set). */
  reportsFor(res: Resource): string[];
  /** Values for the DAV: header of OPTIONS. */
  compliance(): string[];
}

export interface DavPlugin {
  readonly kinds?: readonly CollectionKind[];
  readonly properties?: readonly LiveProperty[];
  readonly reports?: Readonly<
    Record<string, { handler: ReportHandler; appliesTo: (res: Resource) => boolean }>
  >;
  readonly compliance?: readonly string[];
}

export function createKindRegistry(plugins: readonly DavPlugin[]): KindRegistry {
  const kinds = plugins.flatMap((p) => p.kinds ?? []);
  const props = plugins.flatMap((p) => p.properties ?? []);
  const reports = new Map<string, { handler: ReportHandler; appliesTo: (res: Resource) => boolean }>();
  for (const p of plugins) for (const [k, v] of Object.entries(p.reports ?? {})) reports.set(k, v);
  const compliance = plugins.flatMap((p) => p.compliance ?? []);
  return {
    byTag: (tag) => kinds.find((k) => k.tag === tag),
    all: () => kinds,
    properties: () => props,
    report: (name) => reports.get(name)?.handler,
    reportsFor: (res) => [...reports].filter(([, v]) => v.appliesTo(res)).map(([k]) => k),
    compliance: () => compliance,
  };
}
