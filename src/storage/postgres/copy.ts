/**
 * `almanac storage copy`: makes one storage a mirror of another through the Storage interface only
 * (folder → PostgreSQL, PostgreSQL → folder, or any pair). Items keep their href and exact text, so
 * their ETags; collection and item props are copied; what the target has and the source lacks is
 * removed. Items already identical (same ETag) are skipped, so an interrupted copy resumes where it
 * stopped and a second run changes nothing. Every collection is verified item by item afterwards.
 * Each collection's current sync token of the source (and the tokens of other storages that stood for
 * the same state there) is kept by the target as a name for the copied state, in both directions, so
 * clients that synced just before the move go on incrementally; older tokens are not carried (those
 * clients sync again from scratch, as after any expired token).
 * WebDAV-Push registrations go along with the keys they were made under (the VAPID key pair the push
 * services know the clients' subscriptions by, the secret topics are made with): the target takes the
 * source's keys when it has none, and the unexpired registrations, ids kept. A target with keys of its
 * own keeps them and gets no registrations (they would be pushed with a key their push services do
 * not accept); their clients register again when their registrations run out.
 */
import { StorageError, type ChangeContext, type CollectionInfo, type Storage } from '../types.js';
import { pythonJson } from '../../compat/python/json.js';
import type { PushSecrets } from '../push-store.js';

export interface CopyStats {
  collections: number;
  /** Source sync tokens the target now accepts for the copied state. */
  tokensCarried: number;
  itemsWritten: number;
  itemsSkipped: number;
  itemsDeleted: number;
  collectionsDeleted: number;
  problems: number;
  /** WebDAV-Push registrations carried (with the keys); undefined: the source has no push keys. */
  pushRegistrations?: number;
  /** The target had push keys of its own: no registrations carried. */
  pushKeysDiffer?: boolean;
}

/** A target that can take over the source's sync tokens; false when it cannot keep that one. */
interface Aliasing {
  aliasSyncToken(path: string, token: string): Promise<boolean>;
}
const isAliasing = (s: Storage): s is Storage & Aliasing =>
  typeof (s as Partial<Aliasing>).aliasSyncToken === 'function';

/** A source that knows more tokens than its own for the current state (aliases of earlier copies). */
interface TokenSource {
  currentSyncTokens(path: string): Promise<string[]>;
}
const currentTokens = (s: Storage, path: string): Promise<string[]> =>
  typeof (s as Partial<TokenSource>).currentSyncTokens === 'function'
    ? (s as Storage & TokenSource).currentSyncTokens(path)
    : s.getSyncToken(path).then((t) => [t]);

const ctx = (path: string): ChangeContext => ({ user: '', path: `/${path}/`, request: 'STORAGE-COPY' });
const ok = (): void => undefined;
const sameProps = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
  pythonJson(a) === pythonJson(b);

class Copier {
  readonly stats: CopyStats = {
    collections: 0,
    tokensCarried: 0,
    itemsWritten: 0,
    itemsSkipped: 0,
    itemsDeleted: 0,
    collectionsDeleted: 0,
    problems: 0,
  };

  constructor(
    private readonly from: Storage,
    private readonly to: Storage,
    private readonly report: (line: string) => void,
  ) {}

  problem(message: string): void {
    this.stats.problems++;
    this.report(`problem: ${message}`);
  }

  /** Mirrors the children of `path` (the root's props too), depth first. */
  async children(path: string): Promise<void> {
    const wanted = await this.from.listCollections(path);
    const names = new Set(wanted.map((c) => c.path));
    for (const extra of await this.to.listCollections(path)) {
      if (names.has(extra.path)) continue;
      await this.to.deleteCollection(extra.path, ctx(extra.path));
      this.stats.collectionsDeleted++;
    }
    for (const col of wanted) {
      try {
        await this.collection(col);
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        this.problem(`${col.path}: ${e.message}`);
      }
    }
  }

  private async collection(col: CollectionInfo): Promise<void> {
    const existing = await this.to.getCollection(col.path);
    if (existing === undefined) await this.to.createCollection(col.path, col.props, ctx(col.path));
    else if (!sameProps(existing.props, col.props))
      await this.to.setProps(col.path, col.props, ctx(col.path));
    this.stats.collections++;
    if (col.tag !== 'VSUBSCRIBED') await this.itemsAndToken(col.path);
    await this.children(col.path);
  }

  /** Copies the items; then the source's tokens describe the target's state, unless the source changed. */
  private async itemsAndToken(path: string): Promise<void> {
    const before = await currentTokens(this.from, path);
    const problems = this.stats.problems;
    await this.items(path);
    const to = this.to;
    if (!isAliasing(to) || problems !== this.stats.problems) return;
    if (before[0] !== (await this.from.getSyncToken(path))) return;
    for (const token of before) if (await to.aliasSyncToken(path, token)) this.stats.tokensCarried++;
  }

  private async items(path: string): Promise<void> {
    const source = new Map((await this.from.listItems(path)).map((m) => [m.href, m]));
    const target = new Map((await this.to.listItems(path)).map((m) => [m.href, m]));
    // Deletions first: a UID that moved to another href must be free before it is written again.
    for (const href of target.keys()) {
      if (source.has(href)) continue;
      await this.to.deleteItem(path, href, ok, ctx(path));
      this.stats.itemsDeleted++;
    }
    const stale = [...source.values()].filter((m) => target.get(m.href)?.etag !== m.etag).map((m) => m.href);
    this.stats.itemsSkipped += source.size - stale.length;
    if (stale.length > 0) {
      for await (const item of this.from.getItems(path, stale)) {
        const { href, text, uid, component, start, end } = item;
        try {
          await this.to.putItem(
            path,
            href,
            { text, description: { uid, component, start, end } },
            ok,
            ctx(path),
          );
          this.stats.itemsWritten++;
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          this.problem(`${path}/${href}: ${e.message}`);
        }
      }
    }
    for (const href of source.keys()) await this.itemProps(path, href);
  }

  private async itemProps(path: string, href: string): Promise<void> {
    const want = await this.from.getItemProps(path, href);
    const have = await this.to.getItemProps(path, href);
    if (sameProps(want, have)) return;
    try {
      await this.to.setItemProps(path, href, want);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.problem(`${path}/${href} props: ${e.message}`);
    }
  }

  /** Compares every collection's props and every item's href and ETag between the two storages. */
  async verify(path: string): Promise<void> {
    for (const col of await this.from.listCollections(path)) {
      const other = await this.to.getCollection(col.path);
      if (other === undefined) {
        this.problem(`${col.path}: missing after the copy`);
        continue;
      }
      if (!sameProps(other.props, col.props)) this.problem(`${col.path}: props differ after the copy`);
      if (col.tag !== 'VSUBSCRIBED') {
        const a = (await this.from.listItems(col.path)).map((m) => `${m.href} ${m.etag}`).sort();
        const b = new Set((await this.to.listItems(col.path)).map((m) => `${m.href} ${m.etag}`));
        for (const line of a)
          if (!b.has(line)) this.problem(`${col.path}: item ${line} differs after the copy`);
        if (b.size !== a.length)
          this.problem(`${col.path}: ${b.size} items after the copy, ${a.length} wanted`);
      }
      await this.verify(col.path);
    }
  }
}

/** Copies everything from `from` into `to` and verifies it; both must be open. */
export async function copyStorage(
  from: Storage,
  to: Storage,
  report: (line: string) => void = () => undefined,
): Promise<CopyStats> {
  const copier = new Copier(from, to, report);
  const root = await from.getCollection('');
  const targetRoot = await to.getCollection('');
  if (root !== undefined && targetRoot !== undefined && !sameProps(root.props, targetRoot.props)) {
    await to.setProps('', root.props, ctx(''));
  }
  await copier.children('');
  await copier.verify('');
  await copyPush(from, to, copier.stats);
  return copier.stats;
}

const sameSecrets = (a: PushSecrets, b: PushSecrets): boolean =>
  a.vapidPublicKey === b.vapidPublicKey &&
  a.vapidPrivateKey === b.vapidPrivateKey &&
  a.topicSecret === b.topicSecret;

/** The WebDAV-Push keys and registrations (see above); nothing when the source never had push on. */
async function copyPush(from: Storage, to: Storage, stats: CopyStats): Promise<void> {
  const source = from.pushStore();
  const secrets = await source.currentSecrets();
  if (secrets === undefined) return;
  const target = to.pushStore();
  if (!sameSecrets(await target.secrets(() => secrets), secrets)) {
    stats.pushKeysDiffer = true;
    return;
  }
  stats.pushRegistrations = await target.restore(await source.all(Date.now()));
}
