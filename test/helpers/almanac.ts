/**
 * Starts a real Almanac in this process on 127.0.0.1:0 with a temporary data folder, for
 * integration tests that speak HTTP to it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startAlmanac as start } from '../../src/cli/start.js';
import type { Storage } from '../../src/storage/types.js';
import type { ChangeNotifier } from '../../src/notify/changes.js';
import { findLeftovers } from '../../src/storage/filesystem/leftovers.js';
import { createTestDatabase, dropTestDatabase } from './postgres.js';

export interface StartOptions {
  /** Raw config values per section/option, as in a config file. */
  config?: Record<string, Record<string, string>>;
  /** Use this data folder (kept); otherwise a temporary one (removed on stop). */
  folder?: string;
  /** Users for the default htpasswd (plain) auth; default alice:alicepw, bob:bobpw. */
  users?: Record<string, string>;
  /** Collect log lines here. */
  logLines?: string[];
}

export interface RunningAlmanac {
  url: string;
  port: number;
  folder: string;
  /** Which backend serves: tests that read the data folder directly need 'filesystem'. */
  storage: 'filesystem' | 'postgresql';
  /** The PostgreSQL URL (postgresql storage), to look at its tables. */
  databaseUrl?: string;
  /** The server's storage, to look at what was stored whatever the backend. */
  store: Storage;
  /** The server's change notifications (subscribe to see what it publishes). */
  notifier: ChangeNotifier;
  stop(): Promise<void>;
}

/** A plain htpasswd file `users` in `dir` (default alice:alicepw, bob:bobpw); returns its path. */
export function writeUsers(
  dir: string,
  users: Record<string, string> = { alice: 'alicepw', bob: 'bobpw' },
): string {
  const file = join(dir, 'users');
  writeFileSync(
    file,
    Object.entries(users)
      .map(([u, p]) => `${u}:${p}\n`)
      .join(''),
  );
  return file;
}

export async function startAlmanac(opts: StartOptions = {}): Promise<RunningAlmanac> {
  const tmp = mkdtempSync(join(tmpdir(), 'almanac-test-'));
  const folder = opts.folder ?? join(tmp, 'collections');
  const htpasswd = writeUsers(tmp, opts.users);
  const args: Record<string, Record<string, string>> = {
    server: { hosts: '127.0.0.1:0' },
    storage: { filesystem_folder: folder, _filesystem_fsync: 'False' },
    auth: { type: 'htpasswd', htpasswd_filename: htpasswd, htpasswd_encryption: 'plain', delay: '0.01' },
    logging: { level: 'warning' },
  };
  // ALMANAC_TEST_STORAGE=postgresql runs the suite on a fresh PostgreSQL database (tests that bring
  // their own folder or storage type keep it).
  let database: string | undefined;
  if (process.env.ALMANAC_TEST_STORAGE === 'postgresql' && !opts.folder && !opts.config?.storage?.type) {
    database = await createTestDatabase();
    args.storage = {
      ...args.storage,
      type: 'postgresql',
      postgresql_url: database,
      postgresql_pool_size: '4',
    };
  }
  for (const [section, values] of Object.entries(opts.config ?? {})) {
    args[section] = { ...(args[section] ?? {}), ...values };
  }
  const { config } = loadConfig({ paths: [''], args, env: { HOME: tmp } });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      opts.logLines?.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger(config, sink);
  const almanac = await start(config, log);
  const addr = almanac.server.addresses[0];
  if (!addr) throw new Error('no address bound');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    folder,
    storage: config.storage.type === 'postgresql' ? 'postgresql' : 'filesystem',
    ...(config.storage.type === 'postgresql' ? { databaseUrl: config.storage.postgresql_url } : {}),
    store: almanac.storage,
    notifier: almanac.notifier,
    stop: async () => {
      await almanac.close(1000);
      // Every request has ended: a temp file or prepared folder still there is one a write forgot.
      const left = config.storage.type === 'postgresql' ? [] : await findLeftovers(folder);
      if (database !== undefined) await dropTestDatabase(database);
      // A folder given by the caller is its own to remove; ours (users file, default folder) goes.
      rmSync(tmp, { recursive: true, force: true });
      if (left.length > 0) throw new Error(`the server left ${left.map((l) => l.path).join(', ')}`);
    },
  };
}
