/**
 * WebDAV-Push registrations and keys in `<filesystem_folder>/.Almanac.push/`: beside
 * `collection-root/`, outside what Radicale reads (it serves only `collection-root/`), like
 * `.Almanac.cache/`. `subscriptions.json` holds the registrations, `secrets.json` (mode 0600) the VAPID
 * key pair and the topic secret. Each change rewrites the small file atomically; a file another
 * process replaced is read again before the next operation (its inode or mtime changed).
 */
import { chmod, link, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Mutex } from './lock.js';
import { atomicWrite, isErrno, syncDir, tmpName, writeSynced, type FsOptions } from './fsutil.js';
import {
  registeredAt,
  within,
  type PushLimits,
  type PushSecrets,
  type PushStore,
  type PushSubscriptionRecord,
  type RegisterResult,
} from '../push-store.js';

export const PUSH_FOLDER = '.Almanac.push';
const SUBSCRIPTIONS = 'subscriptions.json';
const SECRETS = 'secrets.json';

const isString = (v: unknown): v is string => typeof v === 'string';

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function asRecord(v: unknown): PushSubscriptionRecord | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const { id, user, collection, endpoint, p256dh, auth, expires } = r;
  if (![id, user, collection, endpoint, p256dh, auth].every(isString)) return undefined;
  if (typeof expires !== 'number' || !Number.isFinite(expires)) return undefined;
  return {
    id: id as string,
    user: user as string,
    collection: collection as string,
    endpoint: endpoint as string,
    p256dh: p256dh as string,
    auth: auth as string,
    expires,
  };
}

export class FilePushStore implements PushStore {
  private readonly dir: string;
  private readonly mutex = new Mutex();
  private records: PushSubscriptionRecord[] = [];
  /** `ino:mtime:size` of the file last read or written ('' = none). */
  private seen = '';

  constructor(
    folder: string,
    private readonly fs: FsOptions,
  ) {
    this.dir = join(folder, PUSH_FOLDER);
  }

  private async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  private async stamp(): Promise<string> {
    try {
      const st = await stat(join(this.dir, SUBSCRIPTIONS));
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return '';
      throw e;
    }
  }

  /** Reads the file again when another process (or a restart) changed it. */
  private async load(): Promise<void> {
    const now = await this.stamp();
    if (now === this.seen) return;
    let parsed: unknown = [];
    if (now !== '') {
      try {
        parsed = JSON.parse(await readFile(join(this.dir, SUBSCRIPTIONS), 'utf8'));
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
        parsed = [];
      }
    }
    this.records = Array.isArray(parsed) ? parsed.flatMap((v) => asRecord(v) ?? []) : [];
    this.seen = now;
  }

  private async save(records: PushSubscriptionRecord[]): Promise<void> {
    await this.ensureDir();
    await atomicWrite(this.dir, SUBSCRIPTIONS, `${JSON.stringify(records, null, 1)}\n`, this.fs);
    this.records = records;
    this.seen = await this.stamp();
  }

  secrets(generate: () => PushSecrets): Promise<PushSecrets> {
    return this.mutex.run(async () => {
      const have = await this.readSecrets();
      if (have) return have;
      // Made under a temporary name and linked into place: of two processes starting together on one
      // folder, the first link wins and both read (and use) its keys.
      await this.ensureDir();
      const tmp = join(this.dir, tmpName());
      try {
        await writeSynced(tmp, `${JSON.stringify(generate())}\n`, this.fs);
        await chmod(tmp, 0o600);
        await link(tmp, join(this.dir, SECRETS)).catch((e: unknown) => {
          if (!isErrno(e, 'EEXIST')) throw e;
        });
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      await syncDir(this.dir, this.fs);
      const made = await this.readSecrets();
      if (!made) throw new Error(`${join(this.dir, SECRETS)} could not be made`);
      return made;
    });
  }

  currentSecrets(): Promise<PushSecrets | undefined> {
    return this.mutex.run(() => this.readSecrets());
  }

  private async readSecrets(): Promise<PushSecrets | undefined> {
    const file = join(this.dir, SECRETS);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
    // The parser's message would quote the file, keys included: it is not passed on.
    const v = parseObject(text);
    if (v && isString(v.vapidPublicKey) && isString(v.vapidPrivateKey) && isString(v.topicSecret)) {
      return {
        vapidPublicKey: v.vapidPublicKey,
        vapidPrivateKey: v.vapidPrivateKey,
        topicSecret: v.topicSecret,
      };
    }
    throw new Error(`${file} does not hold WebDAV-Push keys; move it away to make new ones`);
  }

  forCollection(collection: string, now: number): Promise<PushSubscriptionRecord[]> {
    return this.mutex.run(async () => {
      await this.load();
      return this.records.filter((r) => r.collection === collection && r.expires > now);
    });
  }

  forPaths(paths: readonly string[], now: number): Promise<PushSubscriptionRecord[]> {
    return this.mutex.run(async () => {
      await this.load();
      return this.records.filter((r) => r.expires > now && paths.some((p) => registeredAt(r, p)));
    });
  }

  all(now: number): Promise<PushSubscriptionRecord[]> {
    return this.mutex.run(async () => {
      await this.load();
      return this.records.filter((r) => r.expires > now);
    });
  }

  restore(records: readonly PushSubscriptionRecord[]): Promise<number> {
    return this.mutex.run(async () => {
      if (records.length === 0) return 0;
      await this.load();
      const replaced = (r: PushSubscriptionRecord): boolean =>
        records.some((n) => n.id === r.id || (n.collection === r.collection && n.endpoint === r.endpoint));
      await this.save([...this.records.filter((r) => !replaced(r)), ...records]);
      return records.length;
    });
  }

  byId(id: string): Promise<PushSubscriptionRecord | undefined> {
    return this.mutex.run(async () => {
      await this.load();
      return this.records.find((r) => r.id === id);
    });
  }

  register(record: PushSubscriptionRecord, limits: PushLimits, now: number): Promise<RegisterResult> {
    return this.mutex.run(async () => {
      await this.load();
      const live = this.records.filter((r) => r.expires > now);
      const same = live.find((r) => r.collection === record.collection && r.endpoint === record.endpoint);
      if (same) {
        const updated = { ...record, id: same.id };
        await this.save(live.map((r) => (r === same ? updated : r)));
        return { kind: 'updated', record: updated };
      }
      if (live.filter((r) => r.user === record.user).length >= limits.perUser) {
        return { kind: 'limit', which: 'user' };
      }
      if (live.filter((r) => r.collection === record.collection).length >= limits.perCollection) {
        return { kind: 'limit', which: 'collection' };
      }
      await this.save([...live, record]);
      return { kind: 'created', record };
    });
  }

  remove(id: string): Promise<boolean> {
    return this.mutex.run(async () => {
      await this.load();
      const rest = this.records.filter((r) => r.id !== id);
      if (rest.length === this.records.length) return false;
      await this.save(rest);
      return true;
    });
  }

  removeCollections(collections: readonly string[]): Promise<number> {
    return this.mutex.run(async () => {
      await this.load();
      const rest = this.records.filter((r) => !collections.some((c) => within(r.collection, c)));
      const n = this.records.length - rest.length;
      if (n > 0) await this.save(rest);
      return n;
    });
  }

  removeExpired(now: number): Promise<number> {
    return this.mutex.run(async () => {
      await this.load();
      const rest = this.records.filter((r) => r.expires > now);
      const n = this.records.length - rest.length;
      if (n > 0) await this.save(rest);
      return n;
    });
  }
}
