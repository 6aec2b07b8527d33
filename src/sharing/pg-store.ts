/**
 * The share database in PostgreSQL (table `shares` of migration 5), for `[storage] type = postgresql`.
 * One row a share with Radicale's fields; the key is (ShareType, PathOrToken) as in the csv and files
 * stores. Several Almanac instances use one database, so nothing is trusted from memory alone: every
 * lookup first reads `shares_state.version` (one row, bumped by a statement trigger on any change of
 * `shares`, a change made with psql too) and re-reads the table only when it moved. In a request the
 * version comes with the storage's first collection lookup (storage/postgres/shares-version.ts), read
 * in the same statement; after a write here the request asks for it afresh. Writes are single
 * transactions, an update holding the row lock from read to write.
 */
import type { Logger } from 'pino';
import { Db, q, type Client } from '../storage/postgres/db.js';
import { forgetSharesVersion, requestSharesVersion } from '../storage/postgres/shares-version.js';
import { recordOf, type Dict, type ShareRecord, type ShareType } from './record.js';
import type { ShareStore, StoreResult } from './store.js';

interface Row {
  share_type: string;
  path_or_token: string;
  path_mapped: string;
  conversion: string;
  owner: string;
  username: string;
  permissions: string;
  enabled_by_owner: boolean;
  enabled_by_user: boolean;
  hidden_by_owner: boolean;
  hidden_by_user: boolean;
  timestamp_created: string;
  timestamp_updated: string;
  properties: Dict | null;
  actions: Dict | null;
}

const COLS =
  'share_type, path_or_token, path_mapped, conversion, owner, username, permissions, enabled_by_owner, ' +
  'enabled_by_user, hidden_by_owner, hidden_by_user, timestamp_created, timestamp_updated, properties, actions';

const recordOfRow = (r: Row): ShareRecord =>
  recordOf({
    ShareType: r.share_type,
    PathOrToken: r.path_or_token,
    PathMapped: r.path_mapped,
    Conversion: r.conversion,
    Owner: r.owner,
    User: r.username,
    Permissions: r.permissions,
    EnabledByOwner: r.enabled_by_owner,
    EnabledByUser: r.enabled_by_user,
    HiddenByOwner: r.hidden_by_owner,
    HiddenByUser: r.hidden_by_user,
    TimestampCreated: r.timestamp_created,
    TimestampUpdated: r.timestamp_updated,
    Properties: r.properties,
    Actions: r.actions,
  });

/** The 15 values of a record in COLS order (dicts as JSON text: `json` keeps their key order). */
const values = (r: ShareRecord): unknown[] => [
  r.ShareType,
  r.PathOrToken,
  r.PathMapped,
  r.Conversion,
  r.Owner,
  r.User,
  r.Permissions,
  r.EnabledByOwner,
  r.EnabledByUser,
  r.HiddenByOwner,
  r.HiddenByUser,
  r.TimestampCreated,
  r.TimestampUpdated,
  r.Properties === null ? null : JSON.stringify(r.Properties),
  r.Actions === null ? null : JSON.stringify(r.Actions),
];

const PLACEHOLDERS = Array.from({ length: 15 }, (_, i) => `$${i + 1}`).join(', ');

export class PgShareStore implements ShareStore {
  readonly type = 'postgresql';
  readonly location = 'PostgreSQL table shares';
  private cache: { version: string; rows: ShareRecord[] } | undefined;

  /** `db` is closed by close() when `owned`. */
  constructor(
    private readonly db: Db,
    private readonly owned = false,
  ) {}

  /** A store on its own small pool (the server's: it needs no more than a lookup at a time). */
  static connect(url: string, log: Logger): PgShareStore {
    return new PgShareStore(new Db({ url, poolSize: 2, log }), true);
  }

  /** The table is made by the storage's migrations; this only checks that it is there. */
  async open(): Promise<void> {
    await this.db.query('SELECT version FROM shares_state');
  }

  async close(): Promise<void> {
    if (this.owned) await this.db.end();
  }

  async list(): Promise<ShareRecord[]> {
    // The version as this request's first collection lookup read it, else asked for.
    const version =
      requestSharesVersion() ??
      (await this.db.query<{ version: string }>('SELECT version FROM shares_state'))[0]?.version;
    if (this.cache !== undefined && version === this.cache.version) return [...this.cache.rows];
    const fresh = await this.db.tx(
      async (c) => {
        const [s] = await q<{ version: string }>(c, 'SELECT version FROM shares_state');
        const rows = await q<Row>(c, `SELECT ${COLS} FROM shares ORDER BY seq`);
        return { version: s?.version ?? '', rows: rows.map(recordOfRow) };
      },
      { snapshot: true },
    );
    this.cache = fresh;
    return [...fresh.rows];
  }

  async get(type: ShareType, key: string): Promise<ShareRecord | undefined> {
    return (await this.list()).find((r) => r.ShareType === type && r.PathOrToken === key);
  }

  async create(r: ShareRecord): Promise<StoreResult> {
    forgetSharesVersion();
    const rows = await this.db.query<{ k: string }>(
      `INSERT INTO shares (${COLS}) VALUES (${PLACEHOLDERS})
       ON CONFLICT (share_type, path_or_token) DO NOTHING RETURNING path_or_token AS k`,
      values(r),
    );
    return rows.length === 0 ? 'conflict' : 'ok';
  }

  update(type: ShareType, key: string, change: (r: ShareRecord) => ShareRecord): Promise<StoreResult> {
    forgetSharesVersion();
    return this.db.tx(async (c) => {
      const [old] = await q<Row>(
        c,
        `SELECT ${COLS} FROM shares WHERE share_type = $1 AND path_or_token = $2 FOR UPDATE`,
        [type, key],
      );
      if (old === undefined) return 'not-found';
      await this.replace(c, type, key, change(recordOfRow(old)));
      return 'ok';
    });
  }

  /** Rewrites a row in place (its position in the list kept). */
  private async replace(c: Client, type: ShareType, key: string, r: ShareRecord): Promise<void> {
    await q(
      c,
      `UPDATE shares SET (${COLS}) = ROW(${PLACEHOLDERS}) WHERE share_type = $16 AND path_or_token = $17`,
      [...values(r), type, key],
    );
  }

  async delete(type: ShareType, key: string): Promise<StoreResult> {
    forgetSharesVersion();
    const rows = await this.db.query<{ k: string }>(
      'DELETE FROM shares WHERE share_type = $1 AND path_or_token = $2 RETURNING path_or_token AS k',
      [type, key],
    );
    return rows.length === 0 ? 'not-found' : 'ok';
  }

  /**
   * Adds the shares `load` gives, once in the database's life (the first start with the table, or a
   * storage copy): nothing when an import was recorded before; shares whose key the table already has
   * are kept. `source` is recorded ('' when load gives undefined: there was nothing to import).
   * Returns how many were added, or undefined when there was no import.
   */
  importOnce(source: string, load: () => Promise<ShareRecord[] | undefined>): Promise<number | undefined> {
    forgetSharesVersion();
    return this.db.tx(async (c) => {
      const [state] = await q<{ imported: string[] }>(c, 'SELECT imported FROM shares_state FOR UPDATE');
      if (state === undefined || state.imported.length > 0) return undefined;
      const records = await load();
      let n = 0;
      for (const r of records ?? []) {
        const done = await q(
          c,
          `INSERT INTO shares (${COLS}) VALUES (${PLACEHOLDERS})
           ON CONFLICT (share_type, path_or_token) DO NOTHING RETURNING path_or_token`,
          values(r),
        );
        n += done.length;
      }
      await q(c, 'UPDATE shares_state SET imported = array_append(imported, $1)', [
        records === undefined ? '' : source,
      ]);
      return records === undefined ? undefined : n;
    });
  }

  /** Records `source` as imported (a storage copy brought its shares): no import at a start. */
  async markImported(source: string): Promise<void> {
    forgetSharesVersion();
    await this.db.query('UPDATE shares_state SET imported = array_append(imported, $1)', [source]);
  }

  /** Makes the table hold exactly `records` (storage copy); returns how many it holds. */
  replaceAll(records: readonly ShareRecord[]): Promise<number> {
    forgetSharesVersion();
    return this.db.tx(async (c) => {
      await q(c, 'DELETE FROM shares');
      for (const r of records) await q(c, `INSERT INTO shares (${COLS}) VALUES (${PLACEHOLDERS})`, values(r));
      return records.length;
    });
  }
}
