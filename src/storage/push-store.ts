/**
 * Where WebDAV-Push keeps its registrations and its keys (the backend's own place: a folder beside the
 * collections, or tables). The store knows nothing of the protocol: it keeps records and enforces the
 * per-user and per-collection limits atomically with the insert.
 */

/** One registered Web Push subscription for one collection. */
export interface PushSubscriptionRecord {
  /** Random, URL-safe: the last segment of the registration URL. */
  readonly id: string;
  /** Who registered it (the login). */
  readonly user: string;
  /** The storage path of the subscribed collection (`alice/calendar`). */
  readonly collection: string;
  /** The push resource (RFC 8030), an absolute URL. */
  readonly endpoint: string;
  /** The subscription's P-256 public key (uncompressed point, base64url) and auth secret (base64url). */
  readonly p256dh: string;
  readonly auth: string;
  /** When it expires (ms since the epoch). */
  readonly expires: number;
}

/** The server's VAPID key pair (base64url, as web-push writes them) and the secret topics are made with. */
export interface PushSecrets {
  readonly vapidPublicKey: string;
  readonly vapidPrivateKey: string;
  readonly topicSecret: string;
}

export interface PushLimits {
  readonly perUser: number;
  readonly perCollection: number;
}

export type RegisterResult =
  | { readonly kind: 'created' | 'updated'; readonly record: PushSubscriptionRecord }
  | { readonly kind: 'limit'; readonly which: 'user' | 'collection' };

export interface PushStore {
  /** The kept secrets; the first call ever stores what `generate` makes. */
  secrets(generate: () => PushSecrets): Promise<PushSecrets>;
  /** The kept secrets, or undefined when none were ever made (push never enabled here); makes none. */
  currentSecrets(): Promise<PushSecrets | undefined>;
  /** Unexpired subscriptions of a collection. */
  forCollection(collection: string, now: number): Promise<PushSubscriptionRecord[]>;
  /**
   * Unexpired subscriptions registered at any of `paths`, where `{user}` in a path stands for the
   * subscription's user (a group share's `/{user}/team/` is `carol/team` for carol's registration).
   */
  forPaths(paths: readonly string[], now: number): Promise<PushSubscriptionRecord[]>;
  /** Every unexpired subscription (`almanac storage copy`). */
  all(now: number): Promise<PushSubscriptionRecord[]>;
  /**
   * Stores subscriptions as they are, ids kept, no limits (`almanac storage copy`); one with the same
   * id, or the same collection and endpoint, is replaced. Returns how many were stored.
   */
  restore(records: readonly PushSubscriptionRecord[]): Promise<number>;
  byId(id: string): Promise<PushSubscriptionRecord | undefined>;
  /**
   * Stores a subscription. One with the same collection and endpoint is updated in place (keeping its
   * id, as the draft asks: a push resource is registered once per collection); otherwise a new one is
   * inserted unless the user or the collection already has `limits` unexpired subscriptions.
   */
  register(record: PushSubscriptionRecord, limits: PushLimits, now: number): Promise<RegisterResult>;
  /** Removes one; false when there was none. */
  remove(id: string): Promise<boolean>;
  /** Removes every subscription of these collections and those inside them (deleted or moved away). */
  removeCollections(collections: readonly string[]): Promise<number>;
  /** Removes expired subscriptions; returns how many. */
  removeExpired(now: number): Promise<number>;
}

/** Whether a subscription was registered at `path`, a path of `forPaths` (`{user}`: its user). */
export function registeredAt(r: PushSubscriptionRecord, path: string): boolean {
  return r.collection === (path.includes('{user}') ? path.split('{user}').join(r.user) : path);
}

/** Whether `path` is `collection` or inside it ('' holds everything). */
export function within(path: string, collection: string): boolean {
  return collection === '' || path === collection || path.startsWith(`${collection}/`);
}
