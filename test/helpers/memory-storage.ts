/**
 * A storage backend in memory, for tests: a Map of collections, each with a Map of items and a
 * change log (one entry per href: its newest change) that sync tokens are positions in. Around it
 * checkedStorage (src/storage/checked-storage.ts) makes a Storage that follows the storage contract
 * (test/contract/storage-contract.ts): the shared rules are the wrapper's, this is only the data. No
 * files, no locks (every method runs to its end without waiting, so each call is atomic).
 */
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { checkName, isWithin, parentPath, pathSegments } from '../../src/storage/names.js';
import { isTag } from '../../src/storage/props.js';
import type {
  CollectionPairCheck,
  HookSite,
  ItemCollectionCheck,
  ItemTransfer,
  NamedItems,
  ParentCheck,
  StorageBackend,
  TagCheck,
} from '../../src/storage/backend.js';
import type {
  PushLimits,
  PushSecrets,
  PushStore,
  PushSubscriptionRecord,
  RegisterResult,
} from '../../src/storage/push-store.js';
import { registeredAt, within } from '../../src/storage/push-store.js';
import { metasOneByOne } from '../../src/storage/item-metas.js';
import { allItems, isItemArray } from '../../src/storage/new-items.js';
import {
  StorageError,
  type CollectionInfo,
  type CollectionTag,
  type Item,
  type ItemDescriber,
  type ItemMeta,
  type NewItem,
  type Props,
  type PropsUpdate,
  type SyncResult,
  type WriteCheck,
} from '../../src/storage/types.js';

import { TOKEN_PREFIX } from '../../src/storage/sync-token.js';
const TOKEN = /^([0-9a-f]{16})([0-9a-f]{48})$/;

export interface MemoryStorageOptions {
  readonly describe: ItemDescriber;
  /** Items larger than this (UTF-8 bytes) are stored but not served, as Radicale skips them. */
  readonly maxResourceSize: number;
  /** Seconds a deletion stays in the change log (default 30 days). */
  readonly maxSyncTokenAge?: number;
  /** `[storage] hook` (run by checkedStorage; default none), in `hookCwd` (default the working directory). */
  readonly hook?: string;
  readonly hookCwd?: string;
}

interface StoredItem {
  readonly meta: ItemMeta;
  readonly text: string;
  props: Props;
}

interface Collection {
  props: Props;
  modifiedMs: number;
  /** Random per collection: tokens of a replaced or copied collection never match. */
  key: string;
  seq: number;
  /** Tokens below this position are refused (deletions at or below it were pruned). */
  floor: number;
  readonly items: Map<string, StoredItem>;
  readonly log: Map<string, { seq: number; deleted: boolean; atMs: number }>;
}

const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const tagOf = (props: Props): CollectionTag => (props.tag !== undefined && isTag(props.tag) ? props.tag : '');

function newCollection(props: Props): Collection {
  return {
    props: { ...props },
    modifiedMs: Date.now(),
    key: randomBytes(8).toString('hex'),
    seq: 0,
    floor: 0,
    items: new Map(),
    log: new Map(),
  };
}

export class MemoryBackend implements StorageBackend {
  private readonly cols = new Map<string, Collection>([['', newCollection({})]]);
  private readonly push = new MemoryPushStore();
  readonly hookSite: HookSite;

  constructor(private readonly o: MemoryStorageOptions) {
    const log = pino({ level: 'silent' });
    this.hookSite = { command: o.hook ?? '', cwd: o.hookCwd ?? process.cwd(), root: '', log };
  }

  open(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- helpers

  private info(path: string, c: Collection): CollectionInfo {
    let ms = c.modifiedMs;
    for (const it of c.items.values()) ms = Math.max(ms, it.meta.lastModifiedMs);
    return { path, tag: tagOf(c.props), props: c.props, lastModified: new Date(ms) };
  }

  private col(path: string): Collection | undefined {
    pathSegments(path);
    return this.cols.get(path);
  }

  private need(path: string): Collection {
    const c = this.col(path);
    if (c === undefined) throw new StorageError('not-found', `collection ${path} not found`);
    return c;
  }

  /** The collection at `path` if `check` lets items be written to it. */
  private needItems(path: string, check: ItemCollectionCheck): Collection {
    const c = this.cols.get(path);
    check(path, c && this.info(path, c));
    return c as Collection;
  }

  private infoAt(path: string): CollectionInfo | undefined {
    const c = this.cols.get(path);
    return c && this.info(path, c);
  }

  /** The items a client sees: those within max_resource_size, by href. */
  private visible(c: Collection): StoredItem[] {
    return [...c.items.entries()]
      .filter(([, it]) => it.meta.size <= this.o.maxResourceSize)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, it]) => it);
  }

  /** An item a client sees (within max_resource_size), or undefined. */
  private shown(c: Collection | undefined, href: string): StoredItem | undefined {
    const it = c?.items.get(href);
    return it !== undefined && it.meta.size <= this.o.maxResourceSize ? it : undefined;
  }

  private sameUid(c: Collection, uid: string, href: string, ignore?: string): ItemMeta | undefined {
    if (uid === '') return undefined;
    return this.visible(c).find(
      (it) => it.meta.uid === uid && it.meta.href !== href && it.meta.href !== ignore,
    )?.meta;
  }

  private logChange(c: Collection, href: string, deleted: boolean): void {
    c.seq++;
    const now = Date.now();
    c.modifiedMs = now;
    c.log.set(href, { seq: c.seq, deleted, atMs: now });
    if (!deleted) return;
    const oldest = now - (this.o.maxSyncTokenAge ?? 2592000) * 1000;
    for (const [h, e] of c.log) {
      if (e.deleted && e.atMs < oldest) {
        c.log.delete(h);
        c.floor = Math.max(c.floor, e.seq);
      }
    }
  }

  private write(
    c: Collection,
    href: string,
    text: string,
    d: NewItem['description'],
    props?: Props,
  ): ItemMeta {
    const meta: ItemMeta = {
      href,
      etag: `"${sha(text)}"`,
      size: Buffer.byteLength(text, 'utf8'),
      lastModifiedMs: Date.now(),
      uid: d.uid,
      component: d.component,
      start: d.start,
      end: d.end,
    };
    c.items.set(href, { meta, text, props: props ?? c.items.get(href)?.props ?? {} });
    this.logChange(c, href, false);
    return meta;
  }

  /** The collections at `path` and below it, with their paths. */
  private subtree(path: string): [string, Collection][] {
    return [...this.cols.entries()].filter(([p]) => isWithin(p, path));
  }

  private removeSubtree(path: string): void {
    for (const [p] of this.subtree(path)) this.cols.delete(p);
  }

  // ---------------------------------------------------------------- collections (read)

  getCollection(path: string): Promise<CollectionInfo | undefined> {
    return run(() => {
      const c = this.col(path);
      return c && this.info(path, c);
    });
  }

  listCollections(path: string): Promise<CollectionInfo[]> {
    return run(() => {
      pathSegments(path);
      return [...this.cols.entries()]
        .filter(([p]) => p !== '' && p !== path && parentPath(p) === path)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([p, c]) => this.info(p, c));
    });
  }

  // ---------------------------------------------------------------- items (read)

  listItems(path: string): Promise<ItemMeta[]> {
    return run(() => this.visible(this.need(path)).map((it) => it.meta));
  }

  listItemsInRange(
    path: string,
    range: { start: number; end: number },
    component?: string,
  ): Promise<ItemMeta[]> {
    return run(() =>
      this.visible(this.need(path))
        .map((it) => it.meta)
        .filter(
          (m) =>
            (!component || !m.component || m.component === component) &&
            ((m.start === 0 && m.end === 0) || (m.start <= range.end && m.end >= range.start)),
        ),
    );
  }

  getItemMetas(path: string, hrefs: readonly string[]): Promise<ItemMeta[]> {
    return metasOneByOne((p, h) => this.getItemMeta(p, h), path, hrefs);
  }

  getItemMeta(path: string, href: string): Promise<ItemMeta | undefined> {
    return run(() => {
      checkName(href);
      return this.shown(this.col(path), href)?.meta;
    });
  }

  async *getItems(path: string, hrefs?: readonly string[]): AsyncIterable<Item> {
    hrefs?.forEach(checkName);
    const c = this.need(path);
    const shown = this.visible(c);
    const byHref = new Map(shown.map((it) => [it.meta.href, it]));
    const wanted = hrefs === undefined ? shown : hrefs.flatMap((h) => byHref.get(h) ?? []);
    for (const it of wanted) {
      await Promise.resolve();
      yield { ...it.meta, text: it.text };
    }
  }

  findByUid(path: string, uid: string): Promise<ItemMeta | undefined> {
    return run(() => {
      if (uid === '') return undefined;
      return this.visible(this.need(path)).find((it) => it.meta.uid === uid)?.meta;
    });
  }

  // ---------------------------------------------------------------- items (write)

  putItem(
    path: string,
    href: string,
    item: Omit<NewItem, 'href'>,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return run(() => {
      const c = this.needItems(path, collection);
      const existing = this.shown(c, href)?.meta;
      check(existing, this.info(path, c), this.sameUid(c, item.description.uid, href));
      return { meta: this.write(c, href, item.text, item.description), created: existing === undefined };
    });
  }

  deleteItem(path: string, href: string, check: WriteCheck, collection: ItemCollectionCheck): Promise<void> {
    return run(() => {
      const c = this.needItems(path, collection);
      const existing = this.shown(c, href)?.meta;
      check(existing, this.info(path, c));
      if (existing === undefined) throw new StorageError('not-found', `item ${path}/${href} not found`);
      c.items.delete(href);
      this.logChange(c, href, true);
    });
  }

  transferItem(
    { from, to, move, uidOwnHref }: ItemTransfer,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return run(() => {
      const src = this.needItems(from.path, collection);
      const dst = this.needItems(to.path, collection);
      const source = this.shown(src, from.href);
      if (source === undefined)
        throw new StorageError('not-found', `item ${from.path}/${from.href} not found`);
      const existing = this.shown(dst, to.href)?.meta;
      check(existing, this.info(to.path, dst), this.sameUid(dst, source.meta.uid, to.href, uidOwnHref));
      if (src === dst && from.href === to.href) return { meta: source.meta, created: false };
      if (move) {
        src.items.delete(from.href);
        this.logChange(src, from.href, true);
      }
      let meta = this.write(dst, to.href, source.text, source.meta, { ...source.props });
      if (move) {
        // A move keeps the modification time, as a rename does.
        meta = { ...meta, lastModifiedMs: source.meta.lastModifiedMs };
        const moved = dst.items.get(to.href);
        if (moved) dst.items.set(to.href, { ...moved, meta });
      }
      return { meta, created: existing === undefined };
    });
  }

  getItemProps(path: string, href: string): Promise<Props> {
    return run(() => {
      checkName(href);
      return { ...(this.col(path)?.items.get(href)?.props ?? {}) };
    });
  }

  setItemProps(path: string, href: string, props: Props, collection: ItemCollectionCheck): Promise<void> {
    return run(() => {
      const it = this.shown(this.needItems(path, collection), href);
      if (it === undefined) throw new StorageError('not-found', `item ${path}/${href} not found`);
      it.props = { ...props };
    });
  }

  // ---------------------------------------------------------------- collections (write)

  createCollection(path: string, props: Props, parent: ParentCheck): Promise<CollectionInfo> {
    return run(() => {
      parent(this.infoAt(parentPath(path)));
      if (this.cols.has(path)) throw new StorageError('exists', `${path} exists`);
      const c = newCollection(props);
      this.cols.set(path, c);
      return this.info(path, c);
    });
  }

  replaceCollection(
    path: string,
    props: Props,
    items: NamedItems,
    parent: ParentCheck,
  ): Promise<CollectionInfo> {
    if (!isItemArray(items))
      return allItems(items).then((all) => this.replaceCollection(path, props, all, parent));
    const all = items;
    return run(() => {
      parent(this.infoAt(parentPath(path)));
      const c = newCollection(props);
      for (const item of all) this.write(c, item.href, item.text, item.description);
      this.removeSubtree(path);
      this.cols.set(path, c);
      return this.info(path, c);
    });
  }

  deleteCollection(path: string): Promise<void> {
    return run(() => {
      if (path === '') {
        for (const p of [...this.cols.keys()]) if (p !== '') this.cols.delete(p);
        const root = this.need('');
        root.props = {};
        root.modifiedMs = Date.now();
        return;
      }
      this.need(path);
      this.removeSubtree(path);
    });
  }

  /** Props writes one at a time (their tag check awaits): an update reads what the one before wrote. */
  private propsWrites: Promise<unknown> = Promise.resolve();

  setProps(path: string, update: PropsUpdate, tag: TagCheck): Promise<CollectionInfo> {
    const write = this.propsWrites.then(() => this.setPropsNow(path, update, tag));
    this.propsWrites = write.catch(() => undefined);
    return write;
  }

  private async setPropsNow(path: string, update: PropsUpdate, tag: TagCheck): Promise<CollectionInfo> {
    const c = this.need(path);
    const props = update(c.props);
    if (props === undefined) return this.info(path, c);
    await tag(path, props, () => Promise.resolve(this.subtree(path).some(([p]) => p !== path)));
    c.props = { ...props };
    c.modifiedMs = Date.now();
    return this.info(path, c);
  }

  /** Runs the pair check on the collections as they are; returns whether the target exists. */
  private checkPair(from: string, to: string, check: CollectionPairCheck): boolean {
    const target = this.infoAt(to);
    check(this.infoAt(from), this.infoAt(parentPath(to)), target);
    return target !== undefined;
  }

  moveCollection(from: string, to: string, check: CollectionPairCheck): Promise<{ created: boolean }> {
    return run(() => {
      const exists = this.checkPair(from, to, check);
      const moving = this.subtree(from);
      this.removeSubtree(to);
      for (const [p] of moving) this.cols.delete(p);
      // The collections keep their keys and logs: sync tokens go on working after a move.
      for (const [p, c] of moving) this.cols.set(to + p.slice(from.length), c);
      return { created: !exists };
    });
  }

  copyCollection(from: string, to: string, check: CollectionPairCheck): Promise<{ created: boolean }> {
    return run(() => {
      const exists = this.checkPair(from, to, check);
      const copies = this.subtree(from).map(([p, c]): [string, Collection] => {
        const copy = newCollection(c.props);
        for (const [href, it] of c.items) {
          copy.items.set(href, { meta: it.meta, text: it.text, props: { ...it.props } });
          this.logChange(copy, href, false);
        }
        return [to + p.slice(from.length), copy];
      });
      this.removeSubtree(to);
      for (const [p, c] of copies) this.cols.set(p, c);
      return { created: !exists };
    });
  }

  // ---------------------------------------------------------------- ctag and sync

  getEtag(path: string): Promise<string> {
    return run(() => {
      const c = this.need(path);
      const props = JSON.stringify(Object.entries(c.props).sort(([a], [b]) => (a < b ? -1 : 1)));
      return `"${sha(`${c.key}/${c.seq}/${props}`)}"`;
    });
  }

  private token(c: Collection, position: number): string {
    return `${TOKEN_PREFIX}${c.key}${position.toString(16).padStart(48, '0')}`;
  }

  getSyncToken(path: string): Promise<string> {
    return run(() => {
      const c = this.need(path);
      return this.token(c, c.seq);
    });
  }

  sync(path: string, oldToken: string, limit?: number): Promise<SyncResult> {
    return run(() => {
      const c = this.need(path);
      let from = 0;
      if (oldToken !== '') {
        const m = oldToken.startsWith(TOKEN_PREFIX) ? TOKEN.exec(oldToken.slice(TOKEN_PREFIX.length)) : null;
        const pos = m?.[1] === c.key && m[2] !== undefined ? Number.parseInt(m[2], 16) : NaN;
        if (!Number.isSafeInteger(pos) || pos > c.seq || pos < c.floor)
          throw new StorageError('invalid-sync-token', `unknown sync token ${oldToken}`);
        from = pos;
      }
      const initial = oldToken === '';
      const entries = [...c.log.entries()]
        .filter(([, e]) => e.seq > from && !(initial && e.deleted))
        .sort(([, a], [, b]) => a.seq - b.seq)
        // An item over the size limit is not there for a client: not listed by a first sync, deleted
        // for one that had it.
        .map(([href, e]): [string, { seq: number; deleted: boolean }] => {
          const big = (c.items.get(href)?.meta.size ?? 0) > this.o.maxResourceSize;
          return [href, { seq: e.seq, deleted: e.deleted || big }];
        })
        .filter(([, e]) => !(initial && e.deleted));
      const truncated = limit !== undefined && entries.length > limit;
      const page = truncated ? entries.slice(0, Math.max(0, limit)) : entries;
      const changed = page.filter(([, e]) => !e.deleted).map(([h]) => h);
      const deleted = page.filter(([, e]) => e.deleted).map(([h]) => h);
      if (!truncated) return { token: this.token(c, c.seq), changed, deleted };
      const last = page[page.length - 1];
      return {
        token: this.token(c, last === undefined ? from : last[1].seq),
        changed,
        deleted,
        truncated: true,
      };
    });
  }

  pushStore(): PushStore {
    return this.push;
  }

  verify(report: (problem: string) => void, describe?: ItemDescriber): Promise<boolean> {
    return run(() => {
      let ok = true;
      for (const [path, c] of this.cols) {
        for (const [href, it] of c.items) {
          try {
            (describe ?? this.o.describe)(it.text, tagOf(c.props));
          } catch (e) {
            ok = false;
            report(`${path}/${href}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      }
      return ok;
    });
  }
}

/** Runs a synchronous body as an async method: its exceptions become rejections. */
function run<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

class MemoryPushStore implements PushStore {
  private records: PushSubscriptionRecord[] = [];
  private kept: PushSecrets | undefined;

  secrets(generate: () => PushSecrets): Promise<PushSecrets> {
    this.kept ??= generate();
    return Promise.resolve(this.kept);
  }

  currentSecrets(): Promise<PushSecrets | undefined> {
    return Promise.resolve(this.kept);
  }

  forCollection(collection: string, now: number): Promise<PushSubscriptionRecord[]> {
    return Promise.resolve(this.records.filter((r) => r.collection === collection && r.expires > now));
  }

  forPaths(paths: readonly string[], now: number): Promise<PushSubscriptionRecord[]> {
    return Promise.resolve(
      this.records.filter((r) => r.expires > now && paths.some((p) => registeredAt(r, p))),
    );
  }

  all(now: number): Promise<PushSubscriptionRecord[]> {
    return Promise.resolve(this.records.filter((r) => r.expires > now));
  }

  restore(records: readonly PushSubscriptionRecord[]): Promise<number> {
    for (const record of records) {
      this.records = this.records.filter(
        (r) => r.id !== record.id && !(r.collection === record.collection && r.endpoint === record.endpoint),
      );
      this.records.push(record);
    }
    return Promise.resolve(records.length);
  }

  byId(id: string): Promise<PushSubscriptionRecord | undefined> {
    return Promise.resolve(this.records.find((r) => r.id === id));
  }

  register(record: PushSubscriptionRecord, limits: PushLimits, now: number): Promise<RegisterResult> {
    const live = this.records.filter((r) => r.expires > now);
    const same = live.find((r) => r.collection === record.collection && r.endpoint === record.endpoint);
    if (same) {
      const updated = { ...record, id: same.id };
      this.records = live.map((r) => (r === same ? updated : r));
      return Promise.resolve({ kind: 'updated', record: updated });
    }
    if (live.filter((r) => r.user === record.user).length >= limits.perUser)
      return Promise.resolve({ kind: 'limit', which: 'user' });
    if (live.filter((r) => r.collection === record.collection).length >= limits.perCollection)
      return Promise.resolve({ kind: 'limit', which: 'collection' });
    this.records = [...live, record];
    return Promise.resolve({ kind: 'created', record });
  }

  remove(id: string): Promise<boolean> {
    const before = this.records.length;
    this.records = this.records.filter((r) => r.id !== id);
    return Promise.resolve(this.records.length !== before);
  }

  removeCollections(collections: readonly string[]): Promise<number> {
    const before = this.records.length;
    this.records = this.records.filter((r) => !collections.some((c) => within(r.collection, c)));
    return Promise.resolve(before - this.records.length);
  }

  removeExpired(now: number): Promise<number> {
    const before = this.records.length;
    this.records = this.records.filter((r) => r.expires > now);
    return Promise.resolve(before - this.records.length);
  }
}
