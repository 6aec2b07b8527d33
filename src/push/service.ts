/**
 * WebDAV-Push, put together: the kept secrets, the registrations (the storage's push store), the
 * sender, and the mapping from a storage change to the collections whose subscribers hear of it.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { PushLimits, PushSecrets, PushStore } from '../storage/push-store.js';
import type { Storage } from '../storage/types.js';
import type { GroupSource } from '../auth/groups/types.js';
import type { Rights } from '../rights/types.js';
import type { Sharing } from '../sharing/service.js';
import { audience } from './audience.js';
import { loadSecrets, topicOf } from './keys.js';
import { PushSender } from './sender.js';

/** What push re-checks rights with at each push (see ./audience.ts). */
export interface PushAccess {
  readonly rights: Rights;
  readonly sharing?: Pick<Sharing, 'store' | 'viewFor'>;
  /** `[group]`; without it, a user's groups are those its last registration request had. */
  readonly groups?: GroupSource;
}

/** What push needs to know of a change (a subset of src/notify's `Change`). */
export interface ChangeLike {
  readonly kind: string;
  readonly collection: string;
  readonly from?: { readonly collection: string };
}

/** The draft: a server MUST allow subscriptions to be valid at least three days. */
export const MIN_EXPIRY_SECONDS = 3 * 86_400;
/** How often expired registrations are removed from the store. */
const CLEANUP_INTERVAL_MS = 3_600_000;

const parentOf = (path: string): string | undefined =>
  path === '' ? undefined : path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';

export class PushService {
  readonly sender: PushSender;
  readonly limits: PushLimits;
  /** Longest registration, in ms. */
  readonly maxExpiryMs: number;
  readonly allowHttpEndpoints: boolean;
  private readonly cleanup: NodeJS.Timeout;
  /**
   * The groups each user's last registration request had (since the start): what a push re-checks
   * rights with when `[group]` only knows groups at login (`from_auth`).
   */
  private readonly seenGroups = new Map<string, ReadonlySet<string>>();

  private constructor(
    readonly store: PushStore,
    private readonly secrets: PushSecrets,
    storage: Storage,
    config: Config['push'],
    private readonly log: Logger,
    access: PushAccess | undefined,
  ) {
    this.limits = {
      perUser: Math.max(0, config.max_subscriptions_per_user),
      perCollection: Math.max(0, config.max_subscriptions_per_collection),
    };
    this.maxExpiryMs = Math.max(MIN_EXPIRY_SECONDS, config.max_expiry) * 1000;
    this.allowHttpEndpoints = config.allow_http_endpoints;
    this.sender = new PushSender({
      store,
      secrets,
      subject: config.vapid_subject !== '' ? config.vapid_subject : `mailto:almanac@${hostname()}`,
      log,
      coalesceDelay: Math.max(0, config.coalesce_delay),
      retries: Math.max(0, config.retries),
      retryDelay: Math.max(0, config._retry_delay),
      syncToken: async (collection) => {
        const info = await storage.getCollection(collection);
        if (!info || info.tag === '') return undefined;
        return storage.getSyncToken(collection);
      },
      ...(access
        ? {
            audience: (collection: string, now: number, gone: boolean) =>
              audience(
                {
                  store,
                  storage,
                  rights: access.rights,
                  ...(access.sharing ? { sharing: access.sharing } : {}),
                  groupsOf: (user) => this.groupsOf(access.groups, user),
                  log,
                },
                collection,
                now,
                gone,
              ),
          }
        : {}),
    });
    this.cleanup = setInterval(() => {
      store.removeExpired(Date.now()).then(
        (n) => n > 0 && log.info(`WebDAV-Push: removed ${n} expired registrations`),
        (err: unknown) => log.error({ err }, 'WebDAV-Push: removing expired registrations failed'),
      );
    }, CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  /** The service, or undefined when `[push] enabled` is off. Loads (or makes) the keys. */
  static async create(
    config: Config,
    storage: Storage,
    log: Logger,
    access?: PushAccess,
  ): Promise<PushService | undefined> {
    if (!config.push.enabled) return undefined;
    const store = storage.pushStore();
    const secrets = await loadSecrets(store);
    await store.removeExpired(Date.now());
    return new PushService(store, secrets, storage, config.push, log, access);
  }

  /** Remembers the groups a registering request had (see `seenGroups`). */
  noteGroups(user: string, groups: ReadonlySet<string>): void {
    this.seenGroups.delete(user);
    this.seenGroups.set(user, groups);
    // Bounded: the oldest go first.
    if (this.seenGroups.size > 10_000) {
      const oldest = this.seenGroups.keys().next();
      if (!oldest.done) this.seenGroups.delete(oldest.value);
    }
  }

  private async groupsOf(source: GroupSource | undefined, user: string): Promise<ReadonlySet<string>> {
    const seen = this.seenGroups.get(user) ?? new Set<string>();
    return source ? source.groupsOf(user, [...seen]) : seen;
  }

  /** The VAPID public key (uncompressed P-256 point, base64url), as the `transports` property shows it. */
  get vapidPublicKey(): string {
    return this.secrets.vapidPublicKey;
  }

  topic(collection: string): string {
    return topicOf(this.secrets.topicSecret, collection);
  }

  /** Queues the pushes a storage change causes; returns at once. */
  onChange(change: ChangeLike): void {
    const s = this.sender;
    const c = change.collection;
    const from = change.from?.collection;
    const parent = (path: string | undefined): void => {
      const up = path === undefined ? undefined : parentOf(path);
      if (up !== undefined) s.changed(up, { content: true });
    };
    switch (change.kind) {
      case 'item-put':
      case 'item-delete':
      case 'item-copy':
        s.changed(c, { content: true });
        break;
      case 'item-move':
        s.changed(c, { content: true });
        if (from !== undefined && from !== c) s.changed(from, { content: true });
        break;
      case 'collection-create':
        parent(c);
        break;
      case 'collection-replace':
      case 'collection-copy':
        s.changed(c, { content: true });
        parent(c);
        break;
      case 'collection-delete':
        s.changed(c, { gone: true });
        parent(c);
        break;
      case 'collection-move':
        if (from !== undefined) {
          s.changed(from, { gone: true });
          parent(from);
        }
        s.changed(c, { content: true });
        parent(c);
        break;
      case 'collection-props':
        s.changed(c, { property: true });
        break;
      default:
        this.log.debug(`WebDAV-Push: change ${change.kind} ignored`);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.cleanup);
    await this.sender.close();
  }
}
