/**
 * `[storage] type = postgresql`: the Storage interface on PostgreSQL, for several stateless Almanac
 * instances sharing one database. Nothing is cached in the process: every answer comes from the
 * database. Every write locks its collection row (`SELECT … FOR UPDATE`) inside one transaction, so
 * the caller's WriteCheck (If-Match, If-None-Match, UID) sees the state the write replaces, whichever
 * instance races it; the change log position is taken under that lock, so positions of a collection
 * commit in order and a sync token never skips a change.
 */
import type { Logger } from 'pino';
import {
  StorageError,
  type ChangeContext,
  type CollectionInfo,
  type Item,
  type ItemDescriber,
  type ItemMeta,
  type NewItem,
  type Props,
  type PropsUpdate,
  type Storage,
  type SyncResult,
  type WriteCheck,
} from '../types.js';
import { checkName, isWithin, parentPath, pathSegments, uploadName } from '../names.js';
import { checkProps } from '../props.js';
import { runHook } from '../hook.js';
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
  toItem,
  toMeta,
  tokenPosition,
  type CollectionRow,
  type ItemMetaRow,
  type ItemRow,
} from './rows.js';
import { verifyDatabase } from './verify.js';

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

interface Target {
  readonly path: string;
  readonly href: string;
}

type LockMode = 'UPDATE' | 'SHARE';

/** Items read per round trip when streaming a whole collection. */
const BATCH = 500;

/** SQL condition: `path` is $n or lies below it. */
const SUBTREE = (n: number): string => `(path = $${n} OR starts_with(path, $${n} || '/'))`;

export class PostgresStorage implements Storage {
  readonly db: Db;
  private hookQueue: Promise<void> = Promise.resolve();
  /** SQL condition on `items`: the item is within max_resource_size (served). */
  private readonly shown: string;

  constructor(private readonly options: PostgresStorageOptions) {
    this.db = new Db({ url: options.url, poolSize: options.poolSize, log: options.log });
    // An integer literal (checked), so that every query keeps its parameters.
    const max = Math.floor(Math.min(options.maxResourceSize ?? 2 ** 31 - 1, 2 ** 31 - 1));
    if (!Number.isSafeInteger(max) || max < 0)
      throw new Error(`bad maxResourceSize ${options.maxResourceSize}`);
    this.shown = `size <= ${max}`;
  }

  async open(): Promise<void> {
    if (this.options.migrate === false) return;
    const applied = await migrate(this.db.pool);
    if (applied.length > 0) this.options.log.info({ applied }, 'PostgreSQL schema migrated');
  }

  async close(): Promise<void> {
    await this.hookQueue;
    await this.db.end();
  }

  /** Runs the hook after a committed change, one at a time in this process; never throws. */
  private hook(ctx: ChangeContext): Promise<void> {
    return ctx.deferHook === true ? Promise.resolve() : this.runHook(ctx);
  }

  runHook(ctx: ChangeContext): Promise<void> {
    if (this.options.hook === '') return Promise.resolve();
    // No collection folder here: %(path)s is the request path itself.
    const run = this.hookQueue.then(() =>
      runHook(this.options.hook, ctx, { cwd: this.options.hookCwd, root: '' }, this.options.log),
    );
    this.hookQueue = run;
    return run;
  }

  // ---------------------------------------------------------------- collection rows

  private async collectionRow(
    c: Client | Db,
    path: string,
    lock?: LockMode,
  ): Promise<CollectionRow | undefined> {
    pathSegments(path);
    const sql = `SELECT ${COLLECTION_COLS} FROM collections WHERE path = $1${lock ? ` FOR ${lock}` : ''}`;
    const rows =
      c instanceof Db ? await c.query<CollectionRow>(sql, [path]) : await q<CollectionRow>(c, sql, [path]);
    return rows[0];
  }

  private async requireRow(c: Client | Db, path: string, lock?: LockMode): Promise<CollectionRow> {
    const row = await this.collectionRow(c, path, lock);
    if (row === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    return row;
  }

  /** Calendars, address books and plain collections below the root hold items; not the root or a subscription. */
  private async requireItemRow(c: Client | Db, path: string, lock?: LockMode): Promise<CollectionRow> {
    const row = await this.requireRow(c, path, lock);
    if (path === '' || row.tag === 'VSUBSCRIBED') {
      throw new StorageError('conflict', `collection ${path} cannot hold items`);
    }
    return row;
  }

  /** The parent of a new collection must exist and not be a calendar or address book (kept locked). */
  private async requireParentFor(c: Client, path: string): Promise<void> {
    if (path === '') throw new StorageError('exists', 'the root collection always exists');
    const parent = await this.collectionRow(c, parentPath(path), 'SHARE');
    if (parent === undefined) throw new StorageError('not-found', `parent of ${path} not found`);
    if (parent.tag !== '') throw new StorageError('conflict', `${parent.path} cannot contain collections`);
  }

  /** Appends a change of `href` to the collection's log (the collection row is locked by the caller). */
  private async logChange(c: Client, collectionId: string, href: string, deleted: boolean): Promise<void> {
    const rows = await q<{ seq: string }>(
      c,
      'UPDATE collections SET seq = seq + 1, modified = clock_timestamp() WHERE id = $1 RETURNING seq',
      [collectionId],
    );
    await q(
      c,
      `INSERT INTO changes (collection_id, href, seq, deleted) VALUES ($1, $2, $3, $4)
       ON CONFLICT (collection_id, href) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted,
         changed_at = clock_timestamp()`,
      [collectionId, href, rows[0]?.seq, deleted],
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

  async listItems(path: string): Promise<ItemMeta[]> {
    const col = await this.requireRow(this.db, path);
    const rows = await this.db.query<ItemMetaRow>(
      `SELECT ${META_COLS} FROM items WHERE collection_id = $1 AND ${this.shown} ORDER BY href`,
      [col.id],
    );
    return rows.map(toMeta);
  }

  async listItemsInRange(
    path: string,
    range: { start: number; end: number },
    component?: string,
  ): Promise<ItemMeta[]> {
    const col = await this.requireRow(this.db, path);
    const clamp = (x: number): string =>
      String(Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, x)));
    // Uses items_time_range (collection_id, start_time, end_time).
    const rows = await this.db.query<ItemMetaRow>(
      `SELECT ${META_COLS} FROM items WHERE collection_id = $1 AND ${this.shown}
         AND ((start_time <= $3 AND end_time >= $2) OR (start_time = 0 AND end_time = 0))
         AND ($4 = '' OR component = $4 OR component = '')
       ORDER BY href`,
      [col.id, clamp(range.start), clamp(range.end), component ?? ''],
    );
    return rows.map(toMeta);
  }

  async getItemMeta(path: string, href: string): Promise<ItemMeta | undefined> {
    pathSegments(path);
    checkName(href);
    const rows = await this.db.query<ItemMetaRow>(
      `SELECT ${META_COLS} FROM items WHERE collection_id = (SELECT id FROM collections WHERE path = $1)
       AND href = $2 AND ${this.shown}`,
      [path, href],
    );
    return rows[0] && toMeta(rows[0]);
  }

  async *getItems(path: string, hrefs?: readonly string[]): AsyncIterable<Item> {
    hrefs?.forEach(checkName);
    const col = await this.requireRow(this.db, path);
    if (hrefs !== undefined) {
      for (let i = 0; i < hrefs.length; i += BATCH) {
        const wanted = hrefs.slice(i, i + BATCH);
        const rows = await this.db.query<ItemRow>(
          `SELECT ${ITEM_COLS} FROM items WHERE collection_id = $1 AND href = ANY($2::text[]) AND ${this.shown}`,
          [col.id, wanted],
        );
        const byHref = new Map(rows.map((r) => [r.href, r]));
        for (const h of wanted) {
          const r = byHref.get(h);
          if (r !== undefined) yield toItem(r);
        }
      }
      return;
    }
    // Keyset paging: memory bounded by BATCH whatever the collection's size.
    let after: string | undefined;
    for (;;) {
      const rows = await this.db.query<ItemRow>(
        `SELECT ${ITEM_COLS} FROM items WHERE collection_id = $1 AND ${this.shown} ${after === undefined ? '' : 'AND href > $3'}
         ORDER BY href LIMIT $2`,
        after === undefined ? [col.id, BATCH] : [col.id, BATCH, after],
      );
      for (const r of rows) yield toItem(r);
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]?.href;
    }
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
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    checkName(href);
    const out = await this.db.tx(async (c) => {
      const col = await this.requireItemRow(c, path, 'UPDATE');
      const existing = await this.itemMeta(c, col.id, href);
      check(existing, toCollectionInfo(col), await this.sameUid(c, col.id, item.description.uid, href));
      const meta = await this.writeRow(c, col.id, href, item.text, item.description);
      return { meta, created: existing === undefined };
    });
    await this.hook(ctx);
    return out;
  }

  async deleteItem(path: string, href: string, check: WriteCheck, ctx: ChangeContext): Promise<void> {
    checkName(href);
    await this.db.tx(async (c) => {
      const col = await this.requireItemRow(c, path, 'UPDATE');
      const existing = await this.itemMeta(c, col.id, href);
      check(existing, toCollectionInfo(col));
      if (existing === undefined) throw new StorageError('not-found', `item ${path}/${href} not found`);
      await q(c, 'DELETE FROM items WHERE collection_id = $1 AND href = $2', [col.id, href]);
      await this.logChange(c, col.id, href, true);
    });
    await this.hook(ctx);
  }

  moveItem(
    from: Target,
    to: Target,
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return this.transfer(from, to, check, ctx, true);
  }

  copyItem(
    from: Target,
    to: Target,
    check: WriteCheck,
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return this.transfer(from, to, check, ctx, false);
  }

  /** Locks both collections in path order (no deadlock between two transfers in opposite directions). */
  private async lockPair(c: Client, a: string, b: string): Promise<[CollectionRow, CollectionRow]> {
    pathSegments(a);
    pathSegments(b);
    if (a === b) {
      const row = await this.requireItemRow(c, a, 'UPDATE');
      return [row, row];
    }
    const [first, second] = a < b ? [a, b] : [b, a];
    const r1 = await this.requireItemRow(c, first, 'UPDATE');
    const r2 = await this.requireItemRow(c, second, 'UPDATE');
    return a < b ? [r1, r2] : [r2, r1];
  }

  private async transfer(
    from: Target,
    to: Target,
    check: WriteCheck,
    ctx: ChangeContext,
    move: boolean,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    checkName(from.href);
    checkName(to.href);
    const out = await this.db.tx(async (c) => {
      const [src, dst] = await this.lockPair(c, from.path, to.path);
      const rows = await q<ItemRow & { props: Record<string, string> }>(
        c,
        `SELECT ${ITEM_COLS}, props FROM items WHERE collection_id = $1 AND href = $2 AND ${this.shown}`,
        [src.id, from.href],
      );
      const source = rows[0];
      if (source === undefined)
        throw new StorageError('not-found', `item ${from.path}/${from.href} not found`);
      const existing = await this.itemMeta(c, dst.id, to.href);
      const ignore = move && src.id === dst.id ? from.href : undefined;
      check(existing, toCollectionInfo(dst), await this.sameUid(c, dst.id, source.uid, to.href, ignore));
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
    await this.hook(ctx);
    return out;
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

  async setItemProps(path: string, href: string, props: Props): Promise<void> {
    checkName(href);
    checkProps(props);
    await this.db.tx(async (c) => {
      const col = await this.requireItemRow(c, path, 'UPDATE');
      const rows = await q(
        c,
        `UPDATE items SET props = $3 WHERE collection_id = $1 AND href = $2 AND ${this.shown} RETURNING href`,
        [col.id, href, JSON.stringify(props)],
      );
      if (rows.length === 0) throw new StorageError('not-found', `item ${path}/${href} not found`);
    });
  }

  // ---------------------------------------------------------------- collections (write)

  async createCollection(path: string, props: Props, ctx: ChangeContext): Promise<CollectionInfo> {
    checkProps(props);
    pathSegments(path);
    const row = await this.db.tx(async (c) => {
      await this.requireParentFor(c, path);
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
    await this.hook(ctx);
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
    items: readonly NewItem[],
    ctx: ChangeContext,
  ): Promise<CollectionInfo> {
    checkProps(props);
    pathSegments(path);
    if (path === '') throw new StorageError('conflict', 'the root collection cannot be replaced');
    const suffix = props.tag === 'VADDRESSBOOK' ? '.vcf' : '.ics';
    const taken = new Set<string>();
    const named = items.map((item) => {
      const href = item.href ?? uploadName(item.description.uid, suffix, taken);
      checkName(href);
      taken.add(href);
      return { ...item, href };
    });
    const row = await this.db.tx(async (c) => {
      await this.requireParentFor(c, path);
      // Like the filesystem's folder swap: a new collection (new sync history) replaces the old one.
      await this.collectionRow(c, path, 'UPDATE');
      await q(c, `DELETE FROM collections WHERE ${SUBTREE(1)}`, [path]);
      const created = await this.insertCollection(c, path, props);
      await this.insertItems(c, created.id, named);
      return created;
    });
    await this.hook(ctx);
    return (await this.getCollection(path)) ?? toCollectionInfo(row);
  }

  /** Bulk insert of a new collection's items, each with its change-log entry (positions 1..n). */
  private async insertItems(
    c: Client,
    collectionId: string,
    items: readonly (NewItem & { href: string })[],
  ): Promise<void> {
    if (items.length === 0) return;
    const col = <T>(f: (i: NewItem & { href: string }) => T): T[] => items.map(f);
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

  async deleteCollection(path: string, ctx: ChangeContext): Promise<void> {
    pathSegments(path);
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
    await this.hook(ctx);
  }

  async setProps(path: string, change: Props | PropsUpdate, ctx: ChangeContext): Promise<CollectionInfo> {
    if (typeof change !== 'function') checkProps(change);
    let written = true;
    const row = await this.db.tx(async (c) => {
      // Locked to the end of the transaction: another instance's change waits, then merges into ours.
      const current = await this.requireRow(c, path, 'UPDATE');
      const props = typeof change === 'function' ? change(current.props) : change;
      if (props === undefined) {
        written = false;
        return current;
      }
      checkProps(props);
      const tag = tagOf(props);
      if (tag !== '') {
        const kids = await q(c, 'SELECT 1 FROM collections WHERE parent = $1 LIMIT 1', [path]);
        if (kids.length > 0)
          throw new StorageError('conflict', `${path} contains collections and cannot become a ${tag}`);
      }
      const rows = await q<CollectionRow>(
        c,
        `UPDATE collections SET props = $2, tag = $3, modified = clock_timestamp() WHERE path = $1
         RETURNING ${COLLECTION_COLS}`,
        [path, JSON.stringify(props), tag],
      );
      return rows[0];
    });
    if (written) await this.hook(ctx);
    if (row === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    return toCollectionInfo(row);
  }

  private checkCollectionPair(from: string, to: string): void {
    pathSegments(from);
    pathSegments(to);
    if (from === '' || to === '') throw new StorageError('conflict', 'the root collection cannot be moved');
    if (isWithin(to, from) || isWithin(from, to)) {
      throw new StorageError('conflict', 'a collection cannot be moved into itself or over an ancestor');
    }
  }

  /** Locks `from` and makes room at `to`; returns whether `to` existed. */
  private async prepareTarget(
    c: Client,
    from: string,
    to: string,
    overwrite: boolean,
    lock: LockMode,
  ): Promise<boolean> {
    await this.requireRow(c, from, lock);
    await this.requireParentFor(c, to);
    const exists = (await this.collectionRow(c, to, 'UPDATE')) !== undefined;
    if (exists && !overwrite) throw new StorageError('exists', `${to} exists`);
    if (exists) await q(c, `DELETE FROM collections WHERE ${SUBTREE(1)}`, [to]);
    return exists;
  }

  async moveCollection(
    from: string,
    to: string,
    overwrite: boolean,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }> {
    this.checkCollectionPair(from, to);
    const exists = await this.db.tx(async (c) => {
      const had = await this.prepareTarget(c, from, to, overwrite, 'UPDATE');
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
    await this.hook(ctx);
    return { created: !exists };
  }

  async copyCollection(
    from: string,
    to: string,
    overwrite: boolean,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }> {
    this.checkCollectionPair(from, to);
    const exists = await this.db.tx(async (c) => {
      const had = await this.prepareTarget(c, from, to, overwrite, 'SHARE');
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
    await this.hook(ctx);
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
