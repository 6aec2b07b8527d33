/**
 * Radicale-compatible "multifilesystem" storage: one folder per collection under
 * `<filesystem_folder>/collection-root`, one file per item, `.Radicale.props` JSON, Radicale's
 * history and sync-token pickles. Per-collection in-process RW locks keep unrelated users apart;
 * the cross-process `.Radicale.lock` flock is held only around the short critical section of each
 * write (and shared around sync-token bookkeeping). A StorageBackend: checkedStorage
 * (../checked-storage.ts) adds the rules every backend shares and the storage hook.
 */
import type {
  CollectionInfo,
  Item,
  ItemDescriber,
  ItemMeta,
  NewItem,
  Props,
  PropsUpdate,
  SyncResult,
  WriteCheck,
} from '../types.js';
import type {
  CollectionPairCheck,
  HookSite,
  ItemCollectionCheck,
  ItemTransfer,
  NamedItem,
  ParentCheck,
  StorageBackend,
} from '../backend.js';
import { makeDirs } from './fsutil.js';
import { loadLibc } from './libc.js';
import { JOURNAL_FOLDER } from './swap-journal.js';
import { describeLeftover, findLeftovers, removeLeftovers } from './leftovers.js';
import { verifyTree } from './verify.js';
import { FilePushStore } from './push-store.js';
import type { PushStore } from '../push-store.js';
import { metasOneByOne } from '../item-metas.js';
import { type FilesystemStorageOptions, StoreContext } from './context.js';
import * as collectionsRead from './collections-read.js';
import * as itemsRead from './items-read.js';
import * as itemsWrite from './items-write.js';
import * as itemDeadProps from './item-dead-props.js';
import * as collectionsWrite from './collections-write.js';
import * as ctagSync from './ctag-sync.js';

export type { FilesystemStorageOptions } from './context.js';

export class FilesystemBackend implements StorageBackend {
  private readonly store: StoreContext;
  private readonly push: FilePushStore;
  private cleaning: Promise<void> = Promise.resolve();
  /** The hook runs in the storage folder; %(path)s is inside `collection-root`. */
  readonly hookSite: HookSite;

  constructor(options: FilesystemStorageOptions) {
    this.store = new StoreContext(options);
    this.push = new FilePushStore(options.folder, this.store.fsOpts);
    this.hookSite = { command: options.hook, cwd: options.folder, root: this.store.root, log: options.log };
  }

  async open(options: { readonly inspectOnly?: boolean } = {}): Promise<void> {
    await makeDirs(this.store.root, this.store.fsOpts);
    const libc = await loadLibc();
    this.store.libc = 'flock' in libc ? libc : undefined;
    await this.store.global.open(libc);
    if (options.inspectOnly) return;
    for (const r of await this.store.underFolderLock(() => this.store.journal.recover())) {
      if (r.action === 'restore')
        this.store.options.log.warn(
          `/${r.final}/: a replacement was interrupted by a crash; the collection is back as it was`,
        );
      else if (r.action === 'finish')
        this.store.options.log.info(`/${r.final}/: finished a replacement interrupted by a crash`);
    }
    // Leftovers of crashes go in the background: a walk of every collection folder.
    this.cleaning = this.removeLeftovers().catch((e: unknown) =>
      this.store.options.log.warn({ err: e }, 'could not remove the leftovers of interrupted writes'),
    );
  }

  private async removeLeftovers(): Promise<void> {
    const keep = new Set([...(await this.store.journal.protectedPaths())].map((p) => `collection-root/${p}`));
    const removed = await removeLeftovers(this.store.options.folder, keep);
    if (removed.length === 0) return;
    const bytes = removed.reduce((n, l) => n + l.bytes, 0);
    this.store.options.log.info(
      { removed: removed.map((l) => l.path) },
      `removed ${removed.length} leftover(s) of interrupted writes (${(bytes / 1_048_576).toFixed(1)} MiB), untouched for over an hour`,
    );
  }

  async close(): Promise<void> {
    await this.cleaning;
    await this.store.global.close();
    for (const h of this.store.histories.values()) await h.settle();
    for (const idx of this.store.indexes.values()) idx.close();
    this.store.indexes.clear();
    this.store.texts.clear();
    this.store.histories.clear();
  }

  getCollection(path: string): Promise<CollectionInfo | undefined> {
    return collectionsRead.getCollection(this.store, path);
  }

  async listCollections(path: string): Promise<CollectionInfo[]> {
    return collectionsRead.listCollections(this.store, path);
  }

  async listItems(path: string): Promise<ItemMeta[]> {
    return itemsRead.listItems(this.store, path);
  }

  async listItemsInRange(
    path: string,
    range: { start: number; end: number },
    component?: string,
  ): Promise<ItemMeta[]> {
    return itemsRead.listItemsInRange(this.store, path, range, component);
  }

  async getItemMeta(path: string, href: string): Promise<ItemMeta | undefined> {
    return itemsRead.getItemMeta(this.store, path, href);
  }

  getItemMetas(path: string, hrefs: readonly string[]): Promise<ItemMeta[]> {
    return metasOneByOne((p, h) => this.getItemMeta(p, h), path, hrefs);
  }

  async *getItems(path: string, hrefs?: readonly string[]): AsyncIterable<Item> {
    yield* itemsRead.getItems(this.store, path, hrefs);
  }

  async findByUid(path: string, uid: string): Promise<ItemMeta | undefined> {
    return itemsRead.findByUid(this.store, path, uid);
  }

  async putItem(
    path: string,
    href: string,
    item: Omit<NewItem, 'href'>,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return itemsWrite.putItem(this.store, path, href, item, check, collection);
  }

  async deleteItem(
    path: string,
    href: string,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<void> {
    return itemsWrite.deleteItem(this.store, path, href, check, collection);
  }

  async transferItem(
    t: ItemTransfer,
    check: WriteCheck,
    collection: ItemCollectionCheck,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    return itemsWrite.transferItem(this.store, t, check, collection);
  }

  async getItemProps(path: string, href: string): Promise<Props> {
    return itemDeadProps.getItemProps(this.store, path, href);
  }

  async setItemProps(
    path: string,
    href: string,
    props: Props,
    collection: ItemCollectionCheck,
  ): Promise<void> {
    return itemDeadProps.setItemProps(this.store, path, href, props, collection);
  }

  async createCollection(path: string, props: Props, parent: ParentCheck): Promise<CollectionInfo> {
    return collectionsWrite.createCollection(this.store, path, props, parent);
  }

  async replaceCollection(
    path: string,
    props: Props,
    items: readonly NamedItem[],
    parent: ParentCheck,
  ): Promise<CollectionInfo> {
    return collectionsWrite.replaceCollection(this.store, path, props, items, parent);
  }

  async deleteCollection(path: string): Promise<void> {
    return collectionsWrite.deleteCollection(this.store, path);
  }

  async setProps(path: string, update: PropsUpdate): Promise<CollectionInfo> {
    return collectionsWrite.setProps(this.store, path, update);
  }

  async moveCollection(from: string, to: string, check: CollectionPairCheck): Promise<{ created: boolean }> {
    return collectionsWrite.moveCollection(this.store, from, to, check);
  }

  async copyCollection(from: string, to: string, check: CollectionPairCheck): Promise<{ created: boolean }> {
    return collectionsWrite.copyCollection(this.store, from, to, check);
  }

  async getEtag(path: string): Promise<string> {
    return ctagSync.getEtag(this.store, path);
  }

  async getSyncToken(path: string): Promise<string> {
    return ctagSync.getSyncToken(this.store, path);
  }

  async sync(path: string, oldToken: string, limit?: number): Promise<SyncResult> {
    return ctagSync.sync(this.store, path, oldToken, limit);
  }

  /** For `storage copy`: the sync tokens that stand for the current state (see ctag-sync.ts). */
  async currentSyncTokens(path: string): Promise<string[]> {
    return ctagSync.currentSyncTokens(this.store, path);
  }

  /** For `storage copy`: makes another storage's sync token stand for the current state (see ctag-sync.ts). */
  async aliasSyncToken(path: string, token: string): Promise<boolean> {
    return ctagSync.aliasSyncToken(this.store, path, token);
  }

  pushStore(): PushStore {
    return this.push;
  }

  async verify(report: (problem: string) => void, describe?: ItemDescriber): Promise<boolean> {
    const ok = await verifyTree(this.store.root, describe ?? this.store.options.describe, report, (b) =>
      this.store.stock.decode(b),
    );
    return (await this.verifyLeftovers(report)) && ok;
  }

  /** Swaps a crash interrupted and leftovers of interrupted writes (both put right at the next start). */
  private async verifyLeftovers(report: (problem: string) => void): Promise<boolean> {
    const pending = await this.store.journal.pending();
    for (const entry of pending) {
      const what =
        entry.action === 'restore'
          ? 'the collection is missing, moved aside by a replacement a crash interrupted; the next start puts it back'
          : 'a replacement was interrupted by a crash; the next start finishes it';
      report(`/${entry.final}/: ${what} (${JOURNAL_FOLDER}/${entry.journal})`);
    }
    const leftovers = await findLeftovers(this.store.options.folder);
    leftovers.forEach((l) => report(describeLeftover(l)));
    return pending.length === 0 && leftovers.length === 0;
  }
}
