/**
 * The connection pool and transactions. A transaction that PostgreSQL aborts for a deadlock or a
 * serialization failure is retried from the start (its body must be safe to run again: the write
 * checks are pure); database errors that mean "bad input" become StorageErrors.
 */
import { createRequire } from 'node:module';
import type pg from 'pg';
import type { Logger } from 'pino';
import { StorageError } from '../types.js';
import { requestMemo } from '../request-scope.js';

export type Client = pg.PoolClient;

export interface DbOptions {
  /** `postgresql://…`; '' → the libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER…). */
  readonly url: string;
  readonly poolSize: number;
  readonly log: Logger;
}

export interface TxOptions {
  /** REPEATABLE READ READ ONLY: one snapshot for several statements (sync). */
  readonly snapshot?: boolean;
}

const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;

function sqlState(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

/** Maps constraint violations and unstorable text to StorageErrors; rethrows anything else. */
export function mapDbError(e: unknown): never {
  const code = sqlState(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code === '23505') throw new StorageError('conflict', `already exists: ${msg}`);
  if (code === '22021' || code === '22P05' || code === '54000') {
    throw new StorageError('conflict', `cannot be stored: ${msg}`);
  }
  if (code === '53100') throw new StorageError('no-space', msg);
  throw e;
}

/** pg (CommonJS) is required only when a PostgreSQL storage is opened: it costs ~8 MiB of resident memory. */
const requirePg = (): typeof pg => createRequire(import.meta.url)('pg') as typeof pg;

/** Tables whose statistics the item queries' plans depend on. */
const ITEM_TABLES = 'collections, items, changes';

export class Db {
  readonly pool: pg.Pool;
  private readonly log: Logger;
  /** The ANALYZE analyzeSoon() started, until it ends. */
  private analyzing: Promise<void> | undefined;

  constructor(options: DbOptions) {
    this.log = options.log;
    const { Pool } = requirePg();
    this.pool = new Pool({
      ...(options.url === '' ? {} : { connectionString: options.url }),
      max: Math.max(1, options.poolSize),
    });
    // An idle connection dropped by the server must not crash the process.
    this.pool.on('error', (err) => options.log.error({ err }, 'PostgreSQL connection error'));
  }

  /**
   * `name`: a prepared statement (parsed and planned once per connection), for the statements every
   * request sends, whose plans do not depend on the values (primary-key lookups).
   */
  async query<R extends pg.QueryResultRow>(
    sql: string,
    params: readonly unknown[] = [],
    name?: string,
  ): Promise<R[]> {
    try {
      const rows =
        name === undefined
          ? await this.pool.query<R>(sql, params as unknown[])
          : await this.pool.query<R>({ name, text: sql, values: params as unknown[] });
      return rows.rows;
    } catch (e) {
      mapDbError(e);
    }
  }

  async tx<T>(fn: (c: Client) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    // A write: rows this request read before may be changed now.
    if (opts.snapshot !== true) requestMemo()?.clear();
    try {
      return await this.runTx(fn, opts);
    } finally {
      if (opts.snapshot !== true) requestMemo()?.clear();
    }
  }

  private async runTx<T>(fn: (c: Client) => Promise<T>, opts: TxOptions): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query(opts.snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (RETRYABLE.has(sqlState(e) ?? '') && attempt < MAX_ATTEMPTS) continue;
        mapDbError(e);
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * Refreshes the planner's statistics of the item tables now (after `storage copy`). Without them,
   * right after a bulk load, PostgreSQL takes a collection of 10,000 items for one of a few hundred
   * and reads a batch of 500 texts by scanning all of the collection's rows (20 times slower) until
   * autovacuum analyzes the tables, which may be minutes later.
   */
  async analyze(): Promise<void> {
    await this.analyzing;
    await this.query(`ANALYZE ${ITEM_TABLES}`);
  }

  /** analyze() in the background (after a large import), one at a time; a failure is only logged. */
  analyzeSoon(): void {
    if (this.analyzing !== undefined) return;
    this.analyzing = this.query(`ANALYZE ${ITEM_TABLES}`).then(
      () => {
        this.analyzing = undefined;
      },
      (err: unknown) => {
        this.analyzing = undefined;
        this.log.warn({ err }, 'ANALYZE after a bulk load failed');
      },
    );
  }

  async end(): Promise<void> {
    await this.analyzing;
    await this.pool.end();
  }
}

/** Runs a query on a transaction's client with the same error mapping. */
export async function q<R extends pg.QueryResultRow>(
  c: Client,
  sql: string,
  params: readonly unknown[] = [],
): Promise<R[]> {
  try {
    return (await c.query<R>(sql, params as unknown[])).rows;
  } catch (e) {
    mapDbError(e);
  }
}
