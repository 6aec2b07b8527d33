/**
 * Almanac as its own process (`src/cli/main.ts` with a config file), for tests that must keep
 * measuring while the server is busy or stuck: a server in the test's own process would stop the
 * test's clock with it. Storage as in helpers/almanac.ts (ALMANAC_TEST_STORAGE=postgresql gives a
 * fresh database unless a folder is given).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeUsers } from './almanac.js';
import { freePort } from './net.js';
import { createTestDatabase, dropTestDatabase } from './postgres.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MAIN = join(ROOT, 'src/cli/main.ts');

export interface AlmanacProcess {
  readonly url: string;
  readonly folder: string;
  readonly storage: 'filesystem' | 'postgresql';
  /** The config file the process runs with (for the CLI's other commands). */
  readonly configFile: string;
  readonly proc: ChildProcess;
  /** What the process wrote to stderr so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves whether SIGTERM alone stopped it. */
  stop(graceMs?: number): Promise<boolean>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function spawnAlmanac(
  opts: {
    folder?: string;
    users?: Record<string, string>;
    config?: string;
    /** A PostgreSQL database to serve (another instance's), left in place by stop(). */
    database?: string;
  } = {},
): Promise<AlmanacProcess> {
  const tmp = mkdtempSync(join(tmpdir(), 'almanac-proc-'));
  const folder = opts.folder ?? join(tmp, 'collections');
  const htpasswd = writeUsers(tmp, opts.users);
  let database: string | undefined;
  let storage = `[storage]\nfilesystem_folder = ${folder}\n_filesystem_fsync = False\n`;
  if (opts.database !== undefined) {
    storage = `[storage]\ntype = postgresql\npostgresql_url = ${opts.database}\npostgresql_pool_size = 4\n`;
  } else if (process.env.ALMANAC_TEST_STORAGE === 'postgresql' && !opts.folder) {
    database = await createTestDatabase();
    storage = `[storage]\ntype = postgresql\npostgresql_url = ${database}\npostgresql_pool_size = 4\n`;
  }
  const port = await freePort();
  const configFile = join(tmp, 'config');
  writeFileSync(
    configFile,
    `[server]\nhosts = 127.0.0.1:${port}\n` +
      `[auth]\ntype = htpasswd\nhtpasswd_filename = ${htpasswd}\nhtpasswd_encryption = plain\ndelay = 0.01\n` +
      `${storage}[logging]\nlevel = warning\n${opts.config ?? ''}`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const cleanup = async (): Promise<void> => {
    if (database !== undefined) await dropTestDatabase(database);
    rmSync(tmp, { recursive: true, force: true });
  };
  const stop = async (graceMs = 3000): Promise<boolean> => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await cleanup();
      return true;
    }
    proc.kill('SIGTERM');
    const byTerm = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!byTerm) {
      proc.kill('SIGKILL');
      await exited;
    }
    await cleanup();
    return byTerm;
  };
  for (let i = 0; i < 400; i++) {
    const up = await fetch(`${url}/`, { method: 'OPTIONS', signal: AbortSignal.timeout(1000) }).then(
      async (r) => (await r.arrayBuffer(), true),
      () => false,
    );
    if (up) {
      return {
        url,
        folder,
        storage: database === undefined ? 'filesystem' : 'postgresql',
        configFile,
        proc,
        log: () => stderr,
        stop,
      };
    }
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  await stop(500);
  throw new Error(`Almanac did not start:\n${stderr}`);
}
