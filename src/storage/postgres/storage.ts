/**
 * `[storage] type = postgresql`: the Storage interface on PostgreSQL, for several Almanac instances
 * sharing one database. What the process keeps (listings and texts, listing-cache.ts; collection rows
 * for one request) is checked against the collection's row before each use, so every answer is the
 * database's state. Every write locks its collection row (`SELECT … FOR UPDATE`) inside one transaction, so
 * the caller's WriteCheck (If-Match, If-None-Match, UID) sees the state the write replaces, whichever
 * instance races it; the change log position is taken under that lock, so positions of a collection
 * commit in order and a sync token never skips a change. A StorageBackend: checkedStorage
 * (../checked-storage.ts) adds the rules every backend shares (its checks run in these transactions)
 * and the storage hook.
 */
import type { Logger } from 'pino';
import {
  StorageError,
  type CollectionInfo,
  type Item,
  type ItemDescriber,
  type ItemMeta,
  type NewItem,
  type Props,
  type PropsUpdate,
  type SyncResult,
  type WriteCheck,
} from '../types.js';
import type {
  CollectionPairCheck,
  HookSite,
  ItemCollectionCheck,
  ItemTransfer,
  NamedItem,
  NamedItems,
  ParentCheck,
  StorageBackend,
  TagCheck,
} from '../backend.js';
import { checkName, parentPath, pathSegments } from '../names.js';
import { PgPushStore } from './push-store.js';
import type { PushStore } from '../push-store.js';
import { Db, q, type Client } from './db.js';
import { migrate } from './schema.js';
import {
  COLLECTION_COLS,
  ITEM_COLS,
  META_COLS,
  collectionEtag,
  isOwnToken,
  syncToken,
  tagOf,
  textEtag,
  toCollectionInfo,
  metaWith,
  toMeta,
  tokenPosition,
  type CollectionRow,
  type ItemMetaRow,
  type ItemRow,
} from './rows.js';
import { verifyDatabase } from './verify.js';
import { requestMemo, takeCollectionHint } from '../request-scope.js';
import { allItems } from '../new-items.js';
import { ListingCache, applyChanges, byHref, findHref, type Listing } from './listing-cache.js';
import { prefetched } from './prefetch.js';
import { SHARES_VERSION_COL, rememberSharesVersion } from './shares-version.js';

/** A collection row read with the share table's version beside it (shares-version.ts). */
interface SharesVersioned {
  readonly shares_version?: string | null;
}

/** A meta row as the listing cache reads it (modification time in milliseconds). */
interface CachedMetaRow extends Omit<ItemMetaRow, 'modified'> {
  readonly modified_ms: number;
}

/** A path pathSegments accepts (a hinted path may be anything a client sent). */
function isStorablePath(p: string): boolean {
  try {
    pathSegments(p);
    return true;
  } catch {
    return false;
  }
}

function cachedMeta(r: CachedMetaRow): ItemMeta {
  return metaWith(r, r.modified_ms);
}

export interface PostgresStorageOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly hook: string;
  /** Working folder of the hook command. */
  readonly hookCwd: string;
  readonly describe: ItemDescriber;
  readonly log: Logger;
  /**
   * Seconds a deletion stays in the change log ([storage] max_sync_token_age); a token older than the
   * oldest deletion pruned is then refused (the client does a full sync). Default 30 days.
   */
  readonly maxSyncTokenAge?: number;
  /** Run pending migrations in open() (default true). */
  readonly migrate?: boolean;
  /**
   * `[server] max_resource_size` (bytes): a stored item larger than this is not served, as the
   * filesystem backend and Radicale skip such a file: not listed, not found, deleted for a sync.
   * Default: no limit (`storage copy`).
   */
  readonly maxResourceSize?: number;
}

type LockMode = 'UPDATE' | 'SHARE';

/** Items read per round trip when streaming a whole collection. */
const BATCH = 500;

/** An import of this many items refreshes the planner's statistics (db.ts, analyze). */
const ANALYZE_AFTER = 2000;

/** SQL condition: `path` is $n or lies below it. */
const SUBTREE = (n: number): string => `(path = $${n} OR starts_with(path, $${n} || '/'))`;

export class PostgresBackend implements StorageBackend {
  readonly db: Db;
  /** No collection folder here: %(path)s is the request path itself. */
  readonly hookSite: HookSite;
  /** SQL condition on `items`: the item is within max_resource_size (served). */
  private readonly shown: string;
  /** Listings and texts, each checked against the collection's change-log position before use. */
  private readonly cache = new ListingCache(200_000, 32 * 1024 * 1024);

  constructor(private readonly options: PostgresStorageOptions) {
    this.db = new Db({ url: options.url, poolSize: options.poolSize, log: options.log });
    // An integer literal (checked), so that every query keeps its parameters.
    const max = Math.floor(Math.min(options.maxResourceSize ?? 2 ** 31 - 1, 2 ** 31 - 1));
    if (!Number.isSafeInteger(max) || max < 0)
      throw new Error(`bad maxResourceSize ${options.maxResourceSize}`);
    this.shown = `size <= ${max}`;
    this.hookSite = { command: options.hook, cwd: options.hookCwd, root: '', log: options.log };
  }

  async open(): Promise<void> {
    if (this.options.migrate === false) return;
    const applied = await migrate(this.db.pool);
    if (applied.length > 0) this.options.log.info({ applied }, 'PostgreSQL schema migrated');
  }

  async close(): Promise<void> {
    await this.db.end();
  }

  // ---------------------------------------------------------------- collection rows

  private async collectionRow(
    c: Client | Db,
    path: string,
    lock?: LockMode,
  ): Promise<CollectionRow | undefined> {
    pathSegments(path);
    const sql = `SELECT ${COLLECTION_COLS} FROM collections WHERE path = $1${lock ? ` FOR ${lock}` : ''}`;
    if (!(c instanceof Db)) return (await q<CollectionRow>(c, sql, [path]))[0];
    // Outside a transaction, within one request: read once (the layers above ask several times).
    const memo = requestMemo();
    const key = `pg-collection:${path}`;
    const known = memo?.get(key) as Promise<CollectionRow | undefined> | undefined;
    if (known !== undefined) return known;
    // The first lookup of a request reads the paths it will probably ask for next in the same trip.
    const hint = takeCollectionHint()?.filter((p) => p !== path && isStorablePath(p));
    if (memo === undefined || hint === undefined || hint.length === 0) {
      const read = c
        .query<CollectionRow & SharesVersioned>(
          `SELECT ${COLLECTION_COLS}, ${SHARES_VERSION_COL} FROM collections WHERE path = $1`,
          [path],
          'almanac-collection',
        )
        .then((rows) => {
          rememberSharesVersion(rows[0]?.shares_version);
          return rows[0];
        });
      memo?.set(key, read);
      read.catch(() => memo?.delete(key));
      return read;
    }
    const paths = [path, ...hint];
    const all = c
      .query<CollectionRow & SharesVersioned>(
        `SELECT ${COLLECTION_COLS}, ${SHARES_VERSION_COL} FROM collections WHERE path = ANY($1::text[])`,
        [paths],
        'almanac-collections',
      )
      .then((rows) => {
        rememberSharesVersion(rows[0]?.shares_version);
        return rows;
      });
    for (const p of paths) {
      const k = `pg-collection:${p}`;
      const one = all.then((rows) => rows.find((r) => r.path === p));
      memo.set(k, one);
      one.catch(() => memo.delete(k));
    }
    return memo.get(key) as Promise<CollectionRow | undefined>;
  }

  private async requireRow(c: Client | Db, path: string, lock?: LockMode): Promise<CollectionRow> {
    const row = await this.collectionRow(c, path, lock);
    if (row === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    return row;
  }

  /** The row of the collection at `path` (locked) if `check` lets items be written to it. */
  private async requireItemRow(
    c: Client,
    path: string,
    check: ItemCollectionCheck,
    lock: LockMode,
  ): Promise<CollectionRow> {
    const row = await this.collectionRow(c, path, lock);
    check(path, row && toCollectionInfo(row));
    if (row === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    return row;
  }

  /** Runs `check` on the parent of a collection about to be created at `path` (kept locked). */
  private async checkParent(c: Client, path: string, check: ParentCheck): Promise<void> {
    const parent = await this.collectionRow(c, parentPath(path), 'SHARE');
    check(parent && toCollectionInfo(parent));
  }

  /** Appends a change of `href` to the collection's log (the collection row is locked by the caller). */
  private async logChange(c: Client, collectionId: string, href: string, deleted: boolean): Promise<void> {
    // One round trip: the new position and its log entry.
    await q(
      c,
      `WITH pos AS (
         UPDATE collections SET seq = seq + 1, modified = clock_timestamp() WHERE id = $1 RETURNING seq)
       INSERT INTO changes (collection_id, href, seq, deleted) SELECT $1, $2, pos.seq, $3 FROM pos
       ON CONFLICT (collection_id, href) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted,
         changed_at = clock_timestamp()`,
      [collectionId, href, deleted],
    );
    if (deleted) await this.pruneLog(c, collectionId);
  }

  /**
   * Forgets deletions older than max_sync_token_age and raises the floor below which tokens are
   * refused, so the log of a collection stays as large as its items plus its recent deletions.
   */
  private async pruneLog(c: Client, collectionId: string): Promise<void> {
    const age = this.options.maxSyncTokenAge ?? 2592000;
    await q(
      c,
      `WITH gone AS (
         DELETE FROM changes WHERE collection_id = $1 AND deleted
           AND changed_at < clock_timestamp() - make_interval(secs => $2)
         RETURNING seq)
       UPDATE collections SET log_floor = GREATEST(log_floor, (SELECT max(seq) FROM gone))
       WHERE id = $1 AND EXISTS (SELECT 1 FROM gone)`,
      [collectionId, age],
    );
  }

  // ---------------------------------------------------------------- collections (read)

  async getCollection(path: string): Promise<CollectionInfo | undefined> {
    const row = await this.collectionRow(this.db, path);
    return row && toCollectionInfo(row);
  }

  async listCollections(path: string): Promise<CollectionInfo[]> {
    pathSegments(path);
    const rows = await this.db.query<CollectionRow>(
      `SELECT ${COLLECTION_COLS} FROM collections WHERE parent = $1 ORDER BY path`,
      [path],
    );
    return rows.map(toCollectionInfo);
  }

  // ---------------------------------------------------------------- items (read)

  /**
   * The collection's listing at the position of `col` (or later): from the cache when it is at that
   * position, brought up to date from the change log when it is behind, else loaded whole.
   */
  private async listing(col: CollectionRow): Promise<Listing> {
    return (await this.cachedListing(col)) ?? (await this.loadListing(col.id));
  }

  /** The listing when the cache has it or can bring it up to date without reading it whole. */
  private async cachedListing(col: CollectionRow): Promise<Listing | undefined> {
    const cached = this.cache.get(col.id);
    if (cached === undefined || cached.identity !== `${col.id}/${col.sync_key}`) return undefined;
    if (cached.seq >= Number(col.seq)) return cached;
    // Deletions after the cached position may have been pruned from the log: then reload.
    if (cached.seq < Number(col.log_floor)) return undefined;
    return this.updateListing(col.id, cached);
  }

  /** Meta columns with the modification time in milliseconds (no Date parsed per row). */
  private metaCols(t: string): string {
    return `${t}.href, ${t}.etag, ${t}.uid, ${t}.component, ${t}.start_time, ${t}.end_time, ${t}.size,
      floor(extract(epoch FROM ${t}.modified) * 1000)::float8 AS modified_ms`;
  }

  /** One statement, so one snapshot: the position and the items at it. */
  private async loadListing(id: string): Promise<Listing> {
    const rows = await this.db.query<{ seq: string; sync_key: string } & Partial<CachedMetaRow>>(
      `SELECT c.seq, c.sync_key, ${this.metaCols('i')} FROM collections c
       LEFT JOIN items i ON i.collection_id = c.id AND i.${this.shown} WHERE c.id = $1`,
      [id],
    );
    const first = rows[0];
    if (first === undefined) throw new StorageError('not-found', 'collection not found');
    const items: ItemMeta[] = [];
    for (const r of rows) if (r.href != null) items.push(cachedMeta(r as CachedMetaRow));
    items.sort(byHref);
    const l: Listing = { identity: `${id}/${first.sync_key}`, seq: Number(first.seq), items };
    this.cache.set(id, l);
    return l;
  }

  /** Applies the changes logged after the cached position (one statement); undefined: reload. */
  private async updateListing(id: string, cached: Listing): Promise<Listing | undefined> {
    const rows = await this.db.query<
      { seq: string; sync_key: string; log_floor: string; ch_href: string | null } & Partial<CachedMetaRow>
    >(
      `SELECT c.seq, c.sync_key, c.log_floor, ch.href AS ch_href, ${this.metaCols('i')}
       FROM collections c
       LEFT JOIN changes ch ON ch.collection_id = c.id AND ch.seq > $2
       LEFT JOIN items i ON i.collection_id = c.id AND i.href = ch.href AND i.${this.shown}
       WHERE c.id = $1`,
      [id, cached.seq],
    );
    const first = rows[0];
    if (first === undefined) return undefined;
    if (`${id}/${first.sync_key}` !== cached.identity || Number(first.log_floor) > cached.seq)
      return undefined;
    const changes = new Map<string, ItemMeta | undefined>();
    for (const r of rows) {
      if (r.ch_href == null) continue;
      changes.set(r.ch_href, r.href == null ? undefined : cachedMeta(r as CachedMetaRow));
    }
    const l = applyChanges(cached, Number(first.seq), changes);
    this.cache.set(id, l);
    return l;
  }

  async listItems(path: string): Promise<ItemMeta[]> {
    const col = await this.requireRow(this.db, path);
    return (await this.listing(col)).items.slice();
  }

  async listItemsInRange(
    path: string,
    range: { start: number; end: number },
    component?: string,
  ): Promise<ItemMeta[]> {
    const col = await this.requireRow(this.db, path);
    return (await this.listing(col)).items.filter(
      (m) =>
        (!component || !m.component || m.component === component) &&
        ((m.start === 0 && m.end === 0) || (m.start <= range.end && m.end >= range.start)),
    );
  }

  async getItemMeta(path: string, href: string): Promise<ItemMeta | undefined> {
    pathSegments(path);
    checkName(href);
    return (await this.metasOf(path, [href]))[0];
  }

  async getItemMetas(path: string, hrefs: readonly string[]): Promise<ItemMeta[]> {
    pathSegments(path);
    const valid = hrefs.filter((h) => {
      try {
        checkName(h);
        return true;
      } catch (e) {
        if (e instanceof StorageError && e.code === 'invalid-name') return false;
        throw e;
      }
    });
    return valid.length === 0 ? [] : this.metasOf(path, valid);
  }

  /**
   * Metas of these (valid) hrefs, in their order, missing ones left out; no collection: none. In a
   * request that has read the collection's row (resolving the URL does), a current cached listing
   * answers; else one statement on the primary keys.
   */
  private async metasOf(path: string, hrefs: readonly string[]): Promise<ItemMeta[]> {
    const known = requestMemo()?.get(`pg-collection:${path}`) as
      Promise<CollectionRow | undefined> | undefined;
    const col = known === undefined ? undefined : await known.catch(() => undefined);
    const cached = col === undefined ? undefined : this.cache.get(col.id);
    if (
      col !== undefined &&
      cached?.identity === `${col.id}/${col.sync_key}` &&
      cached.seq >= Number(col.seq)
    ) {
      return hrefs.flatMap((h) => {
        const at = findHref(cached.items, h);
        return at >= 0 ? [cached.items[at] as ItemMeta] : [];
      });
    }
    const rows = await this.db.query<CachedMetaRow & { col_seq: string }>(
      `SELECT ${this.metaCols('i')}, c.seq AS col_seq FROM collections c
       JOIN items i ON i.collection_id = c.id AND i.href = ANY($2::text[]) AND i.${this.shown}
       WHERE c.path = $1`,
      [path, hrefs],
      'almanac-metas',
    );
    // These metas may be newer than the row the request keeps: then it is forgotten, so that what
    // the request reads next (the texts of these items) is not older than them.
    const seq = rows[0]?.col_seq;
    if (known !== undefined && seq !== undefined && (col === undefined || Number(seq) > Number(col.seq)))
      requestMemo()?.delete(`pg-collection:${path}`);
    const found = new Map(rows.map((r) => [r.href, r]));
    return hrefs.flatMap((h) => {
      const r = found.get(h);
      return r === undefined ? [] : [cachedMeta(r)];
    });
  }

  async *getItems(path: string, hrefs?: readonly string[]): AsyncIterable<Item> {
    hrefs?.forEach(checkName);
    const col = await this.requireRow(this.db, path);
    if (hrefs !== undefined) {
      const l = await this.cachedListing(col);
      yield* prefetched(Math.ceil(hrefs.length / BATCH), (k) => {
        const wanted = hrefs.slice(k * BATCH, (k + 1) * BATCH);
        if (l === undefined) return this.readItems(col.id, wanted);
        const metas = wanted.flatMap((h) => {
          const at = findHref(l.items, h);
          return at >= 0 ? [l.items[at] as ItemMeta] : [];
        });
        return this.withTexts(col.id, metas);
      });
      return;
    }
    const l = await this.listing(col);
    yield* prefetched(Math.ceil(l.items.length / BATCH), (k) =>
      this.withTexts(col.id, l.items.slice(k * BATCH, (k + 1) * BATCH)),
    );
  }

  /** Items by href (in this order, missing ones left out), read from the database; texts cached. */
  private async readItems(id: string, hrefs: readonly string[]): Promise<Item[]> {
    if (hrefs.length === 0) return [];
    const rows = await this.db.query<CachedMetaRow & { text: string }>(
      `SELECT ${this.metaCols('items')}, text FROM items
       WHERE collection_id = $1 AND href = ANY($2::text[]) AND ${this.shown}`,
      [id, hrefs],
    );
    const found = new Map(rows.map((r) => [r.href, r]));
    const out: Item[] = [];
    for (const h of hrefs) {
      const r = found.get(h);
      if (r === undefined) continue;
      this.cache.texts.set(`${id}/${h}`, r.etag, r.text);
      out.push({ ...cachedMeta(r), text: r.text });
    }
    return out;
  }

  /**
   * The items of these metas with their texts: from the text cache for the meta's ETag, else read
   * (an item rewritten since the listing comes as it is now; one deleted since is left out).
   */
  private async withTexts(id: string, metas: readonly ItemMeta[]): Promise<Item[]> {
    const texts = metas.map((m) => this.cache.texts.get(`${id}/${m.href}`, m.etag));
    const missing = metas.filter((_, k) => texts[k] === undefined).map((m) => m.href);
    const read = new Map((await this.readItems(id, missing)).map((it) => [it.href, it]));
    const out: Item[] = [];
    metas.forEach((m, k) => {
      const text = texts[k];
      const item = text === undefined ? read.get(m.href) : { ...m, text };
      if (item !== undefined) out.push(item);
    });
    return out;
  }

  async findByUid(path: string, uid: string): Promise<ItemMeta | undefined> {
    if (uid === '') return undefined;
    const col = await this.requireRow(this.db, path);
    const rows = await this.db.query<ItemMetaRow>(
      `SELECT ${META_COLS} FROM items WHERE collection_id = $1 AND uid = $2 AND ${this.shown}
       ORDER BY href LIMIT 1`,
      [col.id, uid],
    );
    return rows[0] && toMeta(rows[0]);
  }

  // ---------------------------------------------------------------- items (write)

  private async itemMeta(c: Client, collectionId: string, href: string): Promise<ItemMeta | undefined> {
    const rows = await q<ItemMetaRow>(
      c,
      `SELECT ${META_COLS} FROM items WHERE collection_id = $1 AND href = $2 AND ${this.shown}`,
      [collectionId, href],
    );
    return rows[0] && toMeta(rows[0]);
  }

  /** The item at `href` and another item with this UID (as itemMeta and sameUid), in one statement. */
  private async itemAndSameUid(
    c: Client,
    collectionId: string,
    href: string,
    uid: string,
  ): Promise<{ existing: ItemMeta | undefined; sameUid: ItemMeta | undefined }> {
    const rows = await q<ItemMetaRow>(
      c,
      `SELECT ${META_COLS} FROM items WHERE collection_id = $1 AND ${this.shown}
         AND (href = $2 OR ($3 <> '' AND uid = $3 AND href <> $2))
       ORDER BY href`,
      [collectionId, href, uid],
    );
    const self = rows.find((r) => r.href === href);
    const other = rows.find((r) => r.href !== href);
    return { existing: self && toMeta(self), sameUid: other && toMeta(other) };
  }

  /** Another item (not `href`, not `ignore`) of the collection with this UID. */
  private async sameUid(
    c: Client,
    collectionId: string,
    uid: string,
    href: string,
    ignore?: string,
  ): Promise<ItemMeta | undefined> {
    if (uid === '') return undefined;
    const rows = await q<ItemMetaRow>(
      c,
      `SELECT ${META_COLS} FROM items WHERE collection_id = $1 AND uid = $2 AND href <> $3 AND href <> $4
       AND ${this.shown} ORDER BY href LIMIT 1`,
      [collectionId, uid, href, ignore ?? href],
    );
    return rows[0] && toMeta(rows[0]);
  }

  /** Inserts or replaces an item's content; its dead properties stay unless `props` is given. */
  private async writeRow(
    c: Client,
    collectionId: string,
    href: string,
    text: string,
    d: NewItem['description'],
    props?: Props,
  ): Promise<ItemMeta> {
    const rows = await q<ItemMetaRow>(
      c,
      `INSERT INTO items (collection_id, href, text, etag, uid, component, start_time, end_time, size, props)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10::jsonb, '{}'))
       ON CONFLICT (collection_id, href) DO UPDATE SET text = EXCLUDED.text, etag = EXCLUDED.etag,
         uid = EXCLUDED.uid, component = EXCLUDED.component, start_time = EXCLUDED.start_time,
         end_time = EXCLUDED.end_time, size = EXCLUDED.size, modified = clock_timestamp(),
         props = COALESCE($10::jsonb, items.props)
       RETURNING ${META_COLS}`,
      [
        collectionId,
        href,
        text,
        textEtag(text),
        d.uid,
        d.component,
        d.start,
        d.end,
        Buffer.byteLength(text, 'utf8'),
        props === undefined ? null : JSON.stringify(props),
      ],
    );
    await this.logChange(c, collectionId, href, false);
    const row = rows[0];
    if (row === undefined) throw new Error('INSERT returned no row');
    return toMeta(row);
  }

  async putItem(
    path: string,
    href: string,
    item: Omit<NewItem, 'href'>,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return this.db.tx(async (c) => {
      const col = await this.requireItemRow(c, path, collection, 'UPDATE');
      const { existing, sameUid } = await this.itemAndSameUid(c, col.id, href, item.description.uid);
      check(existing, toCollectionInfo(col), sameUid);
      const meta = await this.writeRow(c, col.id, href, item.text, item.description);
      return { meta, created: existing === undefined };
    });
  }

  async deleteItem(
    path: string,
    href: string,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<void> {
    await this.db.tx(async (c) => {
      const col = await this.requireItemRow(c, path, collection, 'UPDATE');
      const existing = await this.itemMeta(c, col.id, href);
      check(existing, toCollectionInfo(col));
      if (existing === undefined) throw new StorageError('not-found', `item ${path}/${href} not found`);
      await q(c, 'DELETE FROM items WHERE collection_id = $1 AND href = $2', [col.id, href]);
      await this.logChange(c, col.id, href, true);
    });
  }

  /** Locks both collections in path order (no deadlock between two transfers in opposite directions). */
  private async lockPair(
    c: Client,
    a: string,
    b: string,
    check: ItemCollectionCheck,
  ): Promise<[CollectionRow, CollectionRow]> {
    if (a === b) {
      const row = await this.requireItemRow(c, a, check, 'UPDATE');
      return [row, row];
    }
    const [first, second] = a < b ? [a, b] : [b, a];
    const r1 = await this.requireItemRow(c, first, check, 'UPDATE');
    const r2 = await this.requireItemRow(c, second, check, 'UPDATE');
    return a < b ? [r1, r2] : [r2, r1];
  }

  transferItem(
    { from, to, move, uidOwnHref }: ItemTransfer,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return this.db.tx(async (c) => {
      const [src, dst] = await this.lockPair(c, from.path, to.path, collection);
      const rows = await q<ItemRow & { props: Record<string, string> }>(
        c,
        `SELECT ${ITEM_COLS}, props FROM items WHERE collection_id = $1 AND href = $2 AND ${this.shown}`,
        [src.id, from.href],
      );
      const source = rows[0];
      if (source === undefined)
        throw new StorageError('not-found', `item ${from.path}/${from.href} not found`);
      const existing = await this.itemMeta(c, dst.id, to.href);
      check(existing, toCollectionInfo(dst), await this.sameUid(c, dst.id, source.uid, to.href, uidOwnHref));
      const meta = toMeta(source);
      if (src.id === dst.id && from.href === to.href) return { meta, created: false };
      if (move) {
        await q(c, 'DELETE FROM items WHERE collection_id = $1 AND href = $2', [src.id, from.href]);
        await this.logChange(c, src.id, from.href, true);
      }
      const written = await this.writeRow(c, dst.id, to.href, source.text, meta, source.props);
      // A move keeps the item's modification time, as a rename does.
      const kept = move ? { ...written, lastModifiedMs: meta.lastModifiedMs } : written;
      if (move) {
        await q(c, 'UPDATE items SET modified = $3 WHERE collection_id = $1 AND href = $2', [
          dst.id,
          to.href,
          new Date(meta.lastModifiedMs),
        ]);
      }
      return { meta: kept, created: existing === undefined };
    });
  }

  // ---------------------------------------------------------------- item dead properties

  async getItemProps(path: string, href: string): Promise<Props> {
    pathSegments(path);
    checkName(href);
    const rows = await this.db.query<{ props: Record<string, string> }>(
      `SELECT props FROM items WHERE collection_id = (SELECT id FROM collections WHERE path = $1)
       AND href = $2`,
      [path, href],
    );
    return rows[0]?.props ?? {};
  }

  async setItemProps(
    path: string,
    href: string,
    props: Props,
    collection: ItemCollectionCheck,
  ): Promise<void> {
    await this.db.tx(async (c) => {
      const col = await this.requireItemRow(c, path, collection, 'UPDATE');
      const rows = await q(
        c,
        `UPDATE items SET props = $3 WHERE collection_id = $1 AND href = $2 AND ${this.shown} RETURNING href`,
        [col.id, href, JSON.stringify(props)],
      );
      if (rows.length === 0) throw new StorageError('not-found', `item ${path}/${href} not found`);
    });
  }

  // ---------------------------------------------------------------- collections (write)

  async createCollection(path: string, props: Props, parent: ParentCheck): Promise<CollectionInfo> {
    const row = await this.db.tx(async (c) => {
      await this.checkParent(c, path, parent);
      const rows = await q<CollectionRow>(
        c,
        `INSERT INTO collections (path, parent, tag, props) VALUES ($1, $2, $3, $4)
         ON CONFLICT (path) DO NOTHING RETURNING ${COLLECTION_COLS}`,
        [path, parentPath(path), tagOf(props), JSON.stringify(props)],
      );
      const created = rows[0];
      if (created === undefined) throw new StorageError('exists', `${path} exists`);
      return created;
    });
    return toCollectionInfo(row);
  }

  private async insertCollection(c: Client, path: string, props: Props): Promise<CollectionRow> {
    const rows = await q<CollectionRow>(
      c,
      `INSERT INTO collections (path, parent, tag, props) VALUES ($1, $2, $3, $4) RETURNING ${COLLECTION_COLS}`,
      [path, parentPath(path), tagOf(props), JSON.stringify(props)],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('INSERT returned no row');
    return row;
  }

  async replaceCollection(
    path: string,
    props: Props,
    items: NamedItems,
    parent: ParentCheck,
  ): Promise<CollectionInfo> {
    // One INSERT of all the rows: the batches are gathered first (before the transaction).
    const all = await allItems(items);
    const row = await this.db.tx(async (c) => {
      await this.checkParent(c, path, parent);
      // Like the filesystem's folder swap: a new collection (new sync history) replaces the old one.
      await this.collectionRow(c, path, 'UPDATE');
      await q(c, `DELETE FROM collections WHERE ${SUBTREE(1)}`, [path]);
      const created = await this.insertCollection(c, path, props);
      await this.insertItems(c, created.id, all);
      return created;
    });
    if (all.length >= ANALYZE_AFTER) this.db.analyzeSoon();
    return (await this.getCollection(path)) ?? toCollectionInfo(row);
  }

  /** Bulk insert of a new collection's items, each with its change-log entry (positions 1..n). */
  private async insertItems(c: Client, collectionId: string, items: readonly NamedItem[]): Promise<void> {
    if (items.length === 0) return;
    const col = <T>(f: (i: NamedItem) => T): T[] => items.map(f);
    await q(
      c,
      `INSERT INTO items (collection_id, href, text, etag, uid, component, start_time, end_time, size)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
         $8::bigint[], $9::integer[])`,
      [
        collectionId,
        col((i) => i.href),
        col((i) => i.text),
        col((i) => textEtag(i.text)),
        col((i) => i.description.uid),
        col((i) => i.description.component),
        col((i) => i.description.start),
        col((i) => i.description.end),
        col((i) => Buffer.byteLength(i.text, 'utf8')),
      ],
    );
    await q(
      c,
      `INSERT INTO changes (collection_id, href, seq, deleted)
       SELECT $1, h, n, false FROM unnest($2::text[]) WITH ORDINALITY AS t(h, n)`,
      [collectionId, col((i) => i.href)],
    );
    await q(c, 'UPDATE collections SET seq = $2, modified = clock_timestamp() WHERE id = $1', [
      collectionId,
      items.length,
    ]);
  }

  async deleteCollection(path: string): Promise<void> {
    await this.db.tx(async (c) => {
      if (path === '') {
        await q(c, `DELETE FROM collections WHERE path <> ''`);
        await q(
          c,
          `UPDATE collections SET props = '{}', tag = '', modified = clock_timestamp() WHERE path = ''`,
        );
        return;
      }
      await this.requireRow(c, path, 'UPDATE');
      await q(c, `DELETE FROM collections WHERE ${SUBTREE(1)}`, [path]);
    });
  }

  async setProps(path: string, update: PropsUpdate, check: TagCheck): Promise<CollectionInfo> {
    const row = await this.db.tx(async (c) => {
      // Locked to the end of the transaction: another instance's change waits, then merges into ours.
      const current = await this.requireRow(c, path, 'UPDATE');
      const props = update(current.props);
      if (props === undefined) return current;
      await check(
        path,
        props,
        async () => (await q(c, 'SELECT 1 FROM collections WHERE parent = $1 LIMIT 1', [path])).length > 0,
      );
      const tag = tagOf(props);
      const rows = await q<CollectionRow>(
        c,
        `UPDATE collections SET props = $2, tag = $3, modified = clock_timestamp() WHERE path = $1
         RETURNING ${COLLECTION_COLS}`,
        [path, JSON.stringify(props), tag],
      );
      return rows[0];
    });
    if (row === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    return toCollectionInfo(row);
  }

  /**
   * Locks `from`, the target's parent and the target, runs `check` on them and makes room at `to`;
   * returns whether `to` existed.
   */
  private async prepareTarget(
    c: Client,
    from: string,
    to: string,
    check: CollectionPairCheck,
    lock: LockMode,
  ): Promise<boolean> {
    const info = (row: CollectionRow | undefined): CollectionInfo | undefined => row && toCollectionInfo(row);
    const source = await this.collectionRow(c, from, lock);
    const parent = await this.collectionRow(c, parentPath(to), 'SHARE');
    const target = await this.collectionRow(c, to, 'UPDATE');
    check(info(source), info(parent), info(target));
    if (target !== undefined) await q(c, `DELETE FROM collections WHERE ${SUBTREE(1)}`, [to]);
    return target !== undefined;
  }

  async moveCollection(from: string, to: string, check: CollectionPairCheck): Promise<{ created: boolean }> {
    const exists = await this.db.tx(async (c) => {
      const had = await this.prepareTarget(c, from, to, check, 'UPDATE');
      // The subtree keeps its ids, so its items, item props and sync tokens move with it.
      await q(
        c,
        `UPDATE collections SET
           path = $2 || substr(path, length($1) + 1),
           parent = CASE WHEN path = $1 THEN $3 ELSE $2 || substr(parent, length($1) + 1) END
         WHERE ${SUBTREE(1)}`,
        [from, to, parentPath(to)],
      );
      return had;
    });
    return { created: !exists };
  }

  async copyCollection(from: string, to: string, check: CollectionPairCheck): Promise<{ created: boolean }> {
    const exists = await this.db.tx(async (c) => {
      const had = await this.prepareTarget(c, from, to, check, 'SHARE');
      const subtree = await q<CollectionRow>(
        c,
        `SELECT ${COLLECTION_COLS} FROM collections WHERE ${SUBTREE(1)} ORDER BY path`,
        [from],
      );
      for (const src of subtree) {
        const created = await this.insertCollection(c, to + src.path.slice(from.length), src.props);
        await this.copyItems(c, src.id, created.id);
      }
      return had;
    });
    return { created: !exists };
  }

  /** Copies every item (text, index, dead props) into a fresh collection, each with a change entry. */
  private async copyItems(c: Client, fromId: string, toId: string): Promise<void> {
    await q(
      c,
      `INSERT INTO items (collection_id, href, text, etag, uid, component, start_time, end_time, size, modified, props)
       SELECT $2, href, text, etag, uid, component, start_time, end_time, size, modified, props
       FROM items WHERE collection_id = $1`,
      [fromId, toId],
    );
    const rows = await q<{ n: string }>(
      c,
      `WITH ins AS (
         INSERT INTO changes (collection_id, href, seq, deleted)
         SELECT $1, href, row_number() OVER (ORDER BY href), false FROM items WHERE collection_id = $1
         RETURNING 1)
       SELECT count(*) AS n FROM ins`,
      [toId],
    );
    await q(c, 'UPDATE collections SET seq = $2 WHERE id = $1', [toId, rows[0]?.n ?? 0]);
  }

  // ---------------------------------------------------------------- ctag and sync

  async getEtag(path: string): Promise<string> {
    return collectionEtag(await this.requireRow(this.db, path));
  }

  async getSyncToken(path: string): Promise<string> {
    const row = await this.requireRow(this.db, path);
    return syncToken(row.sync_key, Number(row.seq));
  }

  /**
   * Reads the log after the token's position in one snapshot. Each href has one row (its newest
   * change), so the answer is proportional to the changes, and a page cut after row k is exactly the
   * state at row k's position.
   */
  async sync(path: string, oldToken: string, limit?: number): Promise<SyncResult> {
    const initial = oldToken === '';
    const col = await this.requireRow(this.db, path);
    // Another storage's token (imported by `storage copy`): its position is in sync_aliases.
    if (!initial && !isOwnToken(oldToken, col)) return this.syncInTx(path, oldToken, limit);
    const from = initial ? 0 : tokenPosition(oldToken, col);
    if (from === Number(col.seq)) return { token: syncToken(col.sync_key, from), changed: [], deleted: [] };
    if (initial && limit === undefined) {
      // A first sync without a limit is the listing at a position: the cached one when it is current.
      const l = await this.listing(col);
      return { token: syncToken(col.sync_key, l.seq), changed: l.items.map((m) => m.href), deleted: [] };
    }
    const max = limit === undefined ? null : Math.max(0, limit) + 1;
    const gone = `(ch.deleted OR COALESCE(NOT i.${this.shown}, false))`;
    // One statement, so one snapshot: the page of the log after the token's position and the
    // position and floor it is the state at (the row above may be older). The collection's id is a
    // parameter, not a join column, so that the plan reads changes_seq for this collection.
    const rows = await this.db.query<{
      seq: string;
      log_floor: string;
      hrefs: string[] | null;
      seqs: string[] | null;
      dels: boolean[] | null;
    }>(
      `SELECT c.seq, c.log_floor, x.hrefs, x.seqs, x.dels FROM collections c, (
         SELECT array_agg(s.href ORDER BY s.seq) AS hrefs, array_agg(s.seq ORDER BY s.seq) AS seqs,
           array_agg(s.deleted ORDER BY s.seq) AS dels
         FROM (SELECT ch.href, ch.seq, ${gone} AS deleted FROM changes ch
           LEFT JOIN items i ON i.collection_id = ch.collection_id AND i.href = ch.href
           WHERE ch.collection_id = $1 AND ch.seq > $2 ${initial ? `AND NOT ${gone}` : ''}
           ORDER BY ch.seq LIMIT $3) s) x
       WHERE c.id = $1`,
      [col.id, from, max],
    );
    const now = rows[0];
    if (now === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    // The rest of the request (the metas of the changed items) must not answer from an older state
    // than the token it is given: the row it keeps is now this one.
    const memo = requestMemo();
    memo?.set(`pg-collection:${path}`, Promise.resolve({ ...col, seq: now.seq, log_floor: now.log_floor }));
    // The floor may have risen since the row was read: the token is checked against this state.
    if (!initial) tokenPosition(oldToken, { ...col, seq: now.seq, log_floor: now.log_floor });
    const current = Number(now.seq);
    const token = syncToken(col.sync_key, current);
    const hrefs = now.hrefs ?? [];
    const dels = now.dels ?? [];
    const truncated = limit !== undefined && hrefs.length > limit;
    const n = truncated ? limit : hrefs.length;
    const changed: string[] = [];
    const deleted: string[] = [];
    for (let k = 0; k < n; k++) (dels[k] === true ? deleted : changed).push(hrefs[k] as string);
    if (!truncated) return { token, changed, deleted };
    const pos = n === 0 ? from : Number(now.seqs?.[n - 1]);
    return { token: syncToken(col.sync_key, pos), changed, deleted, truncated: true };
  }

  /** sync() in a snapshot transaction of several statements: for tokens aliased by `storage copy`. */
  private syncInTx(path: string, oldToken: string, limit?: number): Promise<SyncResult> {
    return this.db.tx(
      async (c) => {
        const col = await this.requireRow(c, path);
        const current = Number(col.seq);
        const initial = oldToken === '';
        const from = initial ? 0 : tokenPosition(oldToken, col, await this.aliasOf(c, col, oldToken));
        const token = syncToken(col.sync_key, current);
        if (from === current) return { token, changed: [], deleted: [] };
        const max = limit === undefined ? null : Math.max(0, limit) + 1;
        // An item over max_resource_size is not there for a client: not listed by a first sync,
        // deleted for a client that had it.
        const gone = `(ch.deleted OR COALESCE(NOT i.${this.shown}, false))`;
        const rows = await q<{ href: string; seq: string; deleted: boolean }>(
          c,
          `SELECT ch.href, ch.seq, ${gone} AS deleted FROM changes ch
           LEFT JOIN items i ON i.collection_id = ch.collection_id AND i.href = ch.href
           WHERE ch.collection_id = $1 AND ch.seq > $2 ${initial ? `AND NOT ${gone}` : ''}
           ORDER BY ch.seq LIMIT $3`,
          [col.id, from, max],
        );
        const truncated = limit !== undefined && rows.length > limit;
        const page = truncated ? rows.slice(0, limit) : rows;
        const changed = page.filter((r) => !r.deleted).map((r) => r.href);
        const deleted = page.filter((r) => r.deleted).map((r) => r.href);
        if (!truncated) return { token, changed, deleted };
        const last = page[page.length - 1];
        const pos = last === undefined ? from : Number(last.seq);
        return { token: syncToken(col.sync_key, pos), changed, deleted, truncated: true };
      },
      { snapshot: true },
    );
  }

  private async aliasOf(c: Client, col: CollectionRow, token: string): Promise<number | undefined> {
    if (isOwnToken(token, col)) return undefined;
    const rows = await q<{ position: string }>(
      c,
      'SELECT position FROM sync_aliases WHERE collection_id = $1 AND token = $2',
      [col.id, token],
    );
    return rows[0] === undefined ? undefined : Number(rows[0].position);
  }

  /**
   * The tokens that stand for this collection's current state: its own, and those of other storages
   * that `storage copy` aliased to it when nothing changed since (for a copy onwards to carry them).
   */
  async currentSyncTokens(path: string): Promise<string[]> {
    const col = await this.requireRow(this.db, path);
    const rows = await this.db.query<{ token: string }>(
      'SELECT token FROM sync_aliases WHERE collection_id = $1 AND position = $2 ORDER BY token',
      [col.id, col.seq],
    );
    return [syncToken(col.sync_key, Number(col.seq)), ...rows.map((r) => r.token)];
  }

  /**
   * Makes a token of another storage stand for this collection's current state (used by `storage
   * copy` once the collection holds exactly what that token described).
   */
  async aliasSyncToken(path: string, token: string): Promise<boolean> {
    await this.db.tx(async (c) => {
      const col = await this.requireRow(c, path, 'UPDATE');
      await q(
        c,
        `INSERT INTO sync_aliases (collection_id, token, position) VALUES ($1, $2, $3)
         ON CONFLICT (collection_id, token) DO UPDATE SET position = EXCLUDED.position`,
        [col.id, token, col.seq],
      );
    });
    return true;
  }

  // ---------------------------------------------------------------- verify

  private push: PgPushStore | undefined;

  pushStore(): PushStore {
    return (this.push ??= new PgPushStore(this.db));
  }

  verify(report: (problem: string) => void, describe?: ItemDescriber): Promise<boolean> {
    return verifyDatabase(this.db, describe ?? this.options.describe, report);
  }
}
