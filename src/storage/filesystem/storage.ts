/**
 * Radicale-compatible "multifilesystem" storage: one folder per collection under
 * `<filesystem_folder>/collection-root`, one file per item, `.Radicale.props` JSON, Radicale's
 * history and sync-token pickles. Per-collection in-process RW locks keep unrelated users apart;
 * the cross-process `.Radicale.lock` flock is held only around the short critical section of each
 * write (and shared around sync-token bookkeeping). A StorageBackend: checkedStorage
 * (../checked-storage.ts) adds the rules every backend shares and the storage hook.
 */
import type { ItemDescriber } from '../types.js';
import type { HookSite, StorageBackend as Backend } from '../backend.js';
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

export class FilesystemBackend implements Backend {
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

  // The operations, each in its module (typed by the interface: they take the store, then its arguments).
  readonly getCollection: Backend['getCollection'] = (...a) =>
    collectionsRead.getCollection(this.store, ...a);
  readonly listCollections: Backend['listCollections'] = (...a) =>
    collectionsRead.listCollections(this.store, ...a);
  readonly listItems: Backend['listItems'] = (...a) => itemsRead.listItems(this.store, ...a);
  readonly listItemsInRange: Backend['listItemsInRange'] = (...a) =>
    itemsRead.listItemsInRange(this.store, ...a);
  readonly getItemMeta: Backend['getItemMeta'] = (...a) => itemsRead.getItemMeta(this.store, ...a);
  readonly getItemMetas: Backend['getItemMetas'] = (...a) => metasOneByOne(this.getItemMeta, ...a);
  readonly getItems: Backend['getItems'] = (...a) => itemsRead.getItems(this.store, ...a);
  readonly findByUid: Backend['findByUid'] = (...a) => itemsRead.findByUid(this.store, ...a);
  readonly putItem: Backend['putItem'] = (...a) => itemsWrite.putItem(this.store, ...a);
  readonly deleteItem: Backend['deleteItem'] = (...a) => itemsWrite.deleteItem(this.store, ...a);
  readonly transferItem: Backend['transferItem'] = (...a) => itemsWrite.transferItem(this.store, ...a);
  readonly getItemProps: Backend['getItemProps'] = (...a) => itemDeadProps.getItemProps(this.store, ...a);
  readonly setItemProps: Backend['setItemProps'] = (...a) => itemDeadProps.setItemProps(this.store, ...a);
  readonly createCollection: Backend['createCollection'] = (...a) =>
    collectionsWrite.createCollection(this.store, ...a);
  readonly replaceCollection: Backend['replaceCollection'] = (...a) =>
    collectionsWrite.replaceCollection(this.store, ...a);
  readonly deleteCollection: Backend['deleteCollection'] = (...a) =>
    collectionsWrite.deleteCollection(this.store, ...a);
  readonly setProps: Backend['setProps'] = (...a) => collectionsWrite.setProps(this.store, ...a);
  readonly moveCollection: Backend['moveCollection'] = (...a) =>
    collectionsWrite.moveCollection(this.store, ...a);
  readonly copyCollection: Backend['copyCollection'] = (...a) =>
    collectionsWrite.copyCollection(this.store, ...a);
  readonly getEtag: Backend['getEtag'] = (...a) => ctagSync.getEtag(this.store, ...a);
  readonly getSyncToken: Backend['getSyncToken'] = (...a) => ctagSync.getSyncToken(this.store, ...a);
  readonly sync: Backend['sync'] = (...a) => ctagSync.sync(this.store, ...a);

  /** For `storage copy`: the sync tokens that stand for the current state (see ctag-sync.ts). */
  currentSyncTokens(path: string): Promise<string[]> {
    return ctagSync.currentSyncTokens(this.store, path);
  }

  /** For `storage copy`: makes another storage's sync token stand for the current state (see ctag-sync.ts). */
  aliasSyncToken(path: string, token: string): Promise<boolean> {
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
