/**
 * The PostgreSQL schema as numbered migrations. Each runs once, in order, inside one transaction that
 * also records it in `schema_migrations`; an advisory lock keeps instances starting together from
 * running them twice.
 */
import type { Pool, PoolClient } from 'pg';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'collections, items, change log',
    sql: `
      CREATE TABLE collections (
        id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        path text PRIMARY KEY,
        parent text,
        tag text NOT NULL DEFAULT '',
        props jsonb NOT NULL DEFAULT '{}',
        -- Random per collection: sync tokens of a deleted-and-recreated (or copied) collection never match.
        sync_key text NOT NULL DEFAULT substr(md5(random()::text || clock_timestamp()::text), 1, 16),
        -- Position of the newest change in this collection's log (0 = none yet).
        seq bigint NOT NULL DEFAULT 0,
        modified timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX collections_parent ON collections (parent);
      INSERT INTO collections (path, parent) VALUES ('', NULL);

      CREATE TABLE items (
        collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        href text NOT NULL,
        text text NOT NULL,
        etag text NOT NULL,
        uid text NOT NULL,
        component text NOT NULL,
        start_time bigint NOT NULL,
        end_time bigint NOT NULL,
        size integer NOT NULL,
        modified timestamptz NOT NULL DEFAULT clock_timestamp(),
        props jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (collection_id, href)
      );
      -- UID uniqueness per collection is the database's job, not only the caller's check.
      CREATE UNIQUE INDEX items_uid ON items (collection_id, uid) WHERE uid <> '';
      CREATE INDEX items_time_range ON items (collection_id, start_time, end_time);

      -- One row per href ever written: its newest change. Sync from position p reads rows with seq > p.
      CREATE TABLE changes (
        collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        href text NOT NULL,
        seq bigint NOT NULL,
        deleted boolean NOT NULL,
        PRIMARY KEY (collection_id, href)
      );
      CREATE INDEX changes_seq ON changes (collection_id, seq);
    `,
  },
  {
    version: 2,
    name: 'change log pruning for max_sync_token_age',
    sql: `
      ALTER TABLE changes ADD COLUMN changed_at timestamptz NOT NULL DEFAULT clock_timestamp();
      -- Tokens below this position are refused: deletions at or below it may have been pruned.
      ALTER TABLE collections ADD COLUMN log_floor bigint NOT NULL DEFAULT 0;
      CREATE INDEX changes_deleted_age ON changes (collection_id, changed_at) WHERE deleted;
    `,
  },
  {
    version: 3,
    name: 'sync tokens carried over by storage copy',
    sql: `
      -- A token another storage gave for the state that a copy reproduced, and its position here, so
      -- clients that synced just before a migration to PostgreSQL continue incrementally.
      CREATE TABLE sync_aliases (
        collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        token text NOT NULL,
        position bigint NOT NULL,
        PRIMARY KEY (collection_id, token)
      );
    `,
  },
  {
    version: 4,
    name: 'WebDAV-Push registrations and keys',
    sql: `
      -- By collection path, not id: a registration names a URL, and outlives nothing (a deleted or
      -- moved collection's registrations are removed by the server).
      CREATE TABLE push_subscriptions (
        id text PRIMARY KEY,
        username text NOT NULL,
        collection text NOT NULL,
        endpoint text NOT NULL,
        p256dh text NOT NULL,
        auth text NOT NULL,
        expires timestamptz NOT NULL,
        UNIQUE (collection, endpoint)
      );
      CREATE INDEX push_subscriptions_user ON push_subscriptions (username);
      -- One row: the VAPID key pair and the topic secret, made by the first instance that starts.
      CREATE TABLE push_secrets (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        vapid_public_key text NOT NULL,
        vapid_private_key text NOT NULL,
        topic_secret text NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'sharing: the share database',
    sql: `
      -- Radicale's share record ([sharing], src/sharing/record.ts), one row a share, keyed as in its csv
      -- and files databases. Properties and Actions are json (not jsonb): their key order is kept.
      CREATE TABLE shares (
        -- Creation order: shares are listed in it, as the csv file keeps them.
        seq bigint GENERATED ALWAYS AS IDENTITY,
        share_type text NOT NULL CHECK (share_type IN ('token', 'map')),
        path_or_token text NOT NULL,
        path_mapped text NOT NULL,
        conversion text NOT NULL,
        owner text NOT NULL,
        username text NOT NULL,
        permissions text NOT NULL,
        enabled_by_owner boolean NOT NULL,
        enabled_by_user boolean NOT NULL,
        hidden_by_owner boolean NOT NULL,
        hidden_by_user boolean NOT NULL,
        timestamp_created bigint NOT NULL,
        timestamp_updated bigint NOT NULL,
        -- Dictionaries or NULL only: a row the server cannot read must not get in (psql included).
        properties json CHECK (properties IS NULL OR json_typeof(properties) = 'object'),
        actions json CHECK (actions IS NULL OR json_typeof(actions) = 'object'),
        PRIMARY KEY (share_type, path_or_token)
      );
      -- One row: a version every change of shares moves (instances re-read the table when it moved),
      -- and the csv/files databases already imported.
      CREATE TABLE shares_state (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        version bigint NOT NULL DEFAULT 0,
        imported text[] NOT NULL DEFAULT '{}'
      );
      INSERT INTO shares_state DEFAULT VALUES;
      CREATE FUNCTION shares_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE shares_state SET version = version + 1;
          RETURN NULL;
        END
      $$;
      CREATE TRIGGER shares_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON shares
        FOR EACH STATEMENT EXECUTE FUNCTION shares_changed();
    `,
  },
];

/** Arbitrary constant for pg_advisory_xact_lock: "almanac migrations". */
const MIGRATION_LOCK = 0x616c6d61;

/** The latest schema version this code knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

async function applied(client: PoolClient): Promise<Set<number>> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const res = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
  return new Set(res.rows.map((r) => r.version));
}

/**
 * Runs the migrations not yet applied; returns the versions it applied. Refuses a database whose
 * schema is newer than this code (an older instance must not write to it).
 */
export async function migrate(pool: Pool): Promise<number[]> {
  const client = await pool.connect();
  const done: number[] = [];
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const have = await applied(client);
    const newest = Math.max(0, ...have);
    if (newest > SCHEMA_VERSION) {
      throw new Error(`database schema version ${newest} is newer than this Almanac (${SCHEMA_VERSION})`);
    }
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      done.push(m.version);
    }
    await client.query('COMMIT');
    return done;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
