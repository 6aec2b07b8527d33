/**
 * WebDAV-Push registrations and keys in PostgreSQL (tables of migration 4). Every instance reads
 * them from the database, so a registration made through one instance is pushed by any.
 */
import type { Db } from './db.js';
import { q } from './db.js';
import type {
  PushLimits,
  PushSecrets,
  PushStore,
  PushSubscriptionRecord,
  RegisterResult,
} from '../push-store.js';

interface Row {
  id: string;
  username: string;
  collection: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  expires: Date;
}

const COLS = 'id, username, collection, endpoint, p256dh, auth, expires';

const record = (r: Row): PushSubscriptionRecord => ({
  id: r.id,
  user: r.username,
  collection: r.collection,
  endpoint: r.endpoint,
  p256dh: r.p256dh,
  auth: r.auth,
  expires: r.expires.getTime(),
});

/** LIKE pattern for paths inside `collection`. */
const inside = (collection: string): string => `${collection.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;

export class PgPushStore implements PushStore {
  constructor(private readonly db: Db) {}

  async currentSecrets(): Promise<PushSecrets | undefined> {
    const rows = await this.db.query<{ p: string; k: string; t: string }>(
      'SELECT vapid_public_key AS p, vapid_private_key AS k, topic_secret AS t FROM push_secrets',
    );
    const r = rows[0];
    return r && { vapidPublicKey: r.p, vapidPrivateKey: r.k, topicSecret: r.t };
  }

  async secrets(generate: () => PushSecrets): Promise<PushSecrets> {
    const read = (): Promise<PushSecrets | undefined> => this.currentSecrets();
    const have = await read();
    if (have) return have;
    const made = generate();
    // Two instances starting together: the first insert wins, both use it.
    await this.db.query(
      `INSERT INTO push_secrets (vapid_public_key, vapid_private_key, topic_secret) VALUES ($1, $2, $3)
       ON CONFLICT (singleton) DO NOTHING`,
      [made.vapidPublicKey, made.vapidPrivateKey, made.topicSecret],
    );
    const stored = await read();
    if (!stored) throw new Error('WebDAV-Push keys could not be stored');
    return stored;
  }

  async forCollection(collection: string, now: number): Promise<PushSubscriptionRecord[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLS} FROM push_subscriptions WHERE collection = $1 AND expires > $2 ORDER BY id`,
      [collection, new Date(now)],
    );
    return rows.map(record);
  }

  async forPaths(paths: readonly string[], now: number): Promise<PushSubscriptionRecord[]> {
    if (paths.length === 0) return [];
    // `{user}` in a path stands for the row's own user (a group share's /{user}/team/).
    const rows = await this.db.query<Row>(
      `SELECT ${COLS} FROM push_subscriptions WHERE expires > $2
         AND collection IN (SELECT replace(p, '{user}', username) FROM unnest($1::text[]) AS p) ORDER BY id`,
      [paths, new Date(now)],
    );
    return rows.map(record);
  }

  async all(now: number): Promise<PushSubscriptionRecord[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLS} FROM push_subscriptions WHERE expires > $1 ORDER BY id`,
      [new Date(now)],
    );
    return rows.map(record);
  }

  restore(records: readonly PushSubscriptionRecord[]): Promise<number> {
    if (records.length === 0) return Promise.resolve(0);
    return this.db.tx(async (c) => {
      await q(c, 'LOCK TABLE push_subscriptions IN SHARE ROW EXCLUSIVE MODE');
      for (const r of records) {
        await q(c, 'DELETE FROM push_subscriptions WHERE id = $1 OR (collection = $2 AND endpoint = $3)', [
          r.id,
          r.collection,
          r.endpoint,
        ]);
        await q(c, `INSERT INTO push_subscriptions (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
          r.id,
          r.user,
          r.collection,
          r.endpoint,
          r.p256dh,
          r.auth,
          new Date(r.expires),
        ]);
      }
      return records.length;
    });
  }

  async byId(id: string): Promise<PushSubscriptionRecord | undefined> {
    const rows = await this.db.query<Row>(`SELECT ${COLS} FROM push_subscriptions WHERE id = $1`, [id]);
    return rows[0] && record(rows[0]);
  }

  register(r: PushSubscriptionRecord, limits: PushLimits, now: number): Promise<RegisterResult> {
    return this.db.tx(async (c) => {
      // Serializes registrations (they are rare): the limit counts cannot race.
      await q(c, 'LOCK TABLE push_subscriptions IN SHARE ROW EXCLUSIVE MODE');
      await q(c, 'DELETE FROM push_subscriptions WHERE expires <= $1', [new Date(now)]);
      const same = await q<{ id: string }>(
        c,
        'SELECT id FROM push_subscriptions WHERE collection = $1 AND endpoint = $2',
        [r.collection, r.endpoint],
      );
      const values = [r.user, r.collection, r.endpoint, r.p256dh, r.auth, new Date(r.expires)];
      const existing = same[0];
      if (existing) {
        await q(
          c,
          `UPDATE push_subscriptions SET username = $2, collection = $3, endpoint = $4, p256dh = $5,
             auth = $6, expires = $7 WHERE id = $1`,
          [existing.id, ...values],
        );
        return { kind: 'updated', record: { ...r, id: existing.id } };
      }
      const counts = await q<{ by_user: string; by_collection: string }>(
        c,
        `SELECT count(*) FILTER (WHERE username = $1) AS by_user,
                count(*) FILTER (WHERE collection = $2) AS by_collection FROM push_subscriptions`,
        [r.user, r.collection],
      );
      const n = counts[0];
      if (Number(n?.by_user ?? 0) >= limits.perUser) return { kind: 'limit', which: 'user' };
      if (Number(n?.by_collection ?? 0) >= limits.perCollection)
        return { kind: 'limit', which: 'collection' };
      await q(c, `INSERT INTO push_subscriptions (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        r.id,
        ...values,
      ]);
      return { kind: 'created', record: r };
    });
  }

  async remove(id: string): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>(
      'DELETE FROM push_subscriptions WHERE id = $1 RETURNING id',
      [id],
    );
    return rows.length > 0;
  }

  async removeCollections(collections: readonly string[]): Promise<number> {
    let n = 0;
    for (const c of collections) {
      const rows =
        c === ''
          ? await this.db.query<{ id: string }>('DELETE FROM push_subscriptions RETURNING id')
          : await this.db.query<{ id: string }>(
              `DELETE FROM push_subscriptions WHERE collection = $1 OR collection LIKE $2 RETURNING id`,
              [c, inside(c)],
            );
      n += rows.length;
    }
    return n;
  }

  async removeExpired(now: number): Promise<number> {
    const rows = await this.db.query<{ id: string }>(
      'DELETE FROM push_subscriptions WHERE expires <= $1 RETURNING id',
      [new Date(now)],
    );
    return rows.length;
  }
}
