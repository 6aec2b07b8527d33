/**
 * A private PostgreSQL cluster for tests (Debian's `postgresql` package): initdb in a temporary folder,
 * listening on 127.0.0.1 with trust authentication, started once per test process and stopped when it
 * exits; each caller gets a fresh database. As root the server runs as the `postgres` user.
 * Set ALMANAC_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) to use an
 * existing server instead.
 */
import type { TestContext } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './net.js';

export const POSTGRES_APT = 'postgresql';

interface Cluster {
  /** URL of the maintenance database (postgres), without database path. */
  readonly base: string;
}

let cluster: Promise<Cluster> | undefined;
let counter = 0;

/** The newest installed server's bin folder, or undefined. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export function postgresAvailable(): boolean {
  return process.env.ALMANAC_TEST_POSTGRES_URL !== undefined || postgresBin() !== undefined;
}

/** Skips the test (or fails in CI) when PostgreSQL is not installed; true when it can run. */
export function requirePostgres(t: TestContext): boolean {
  if (postgresAvailable()) return true;
  const message = `PostgreSQL is missing: apt-get install ${POSTGRES_APT}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI must install it in .ci/run)`);
  t.skip(message);
  return false;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a server binary as a non-root user (PostgreSQL refuses to run as root). */
function runAs(bin: string, args: readonly string[]): void {
  if (!isRoot()) {
    execFileSync(bin, args, { stdio: 'pipe' });
    return;
  }
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, `'"'"'`)}'`).join(' ');
  execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', quoted], { stdio: 'pipe' });
}

async function startCluster(): Promise<Cluster> {
  const external = process.env.ALMANAC_TEST_POSTGRES_URL;
  if (external !== undefined) return { base: external.replace(/\/[^/@]*$/, '') };
  const bin = postgresBin();
  if (bin === undefined) throw new Error(`PostgreSQL is missing: apt-get install ${POSTGRES_APT}`);
  const dir = mkdtempSync(join(tmpdir(), 'almanac-pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  if (isRoot()) execFileSync('install', ['-d', '-o', 'postgres', '-m', '700', data]);
  runAs(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  // A free port may be taken by a server of a test running in parallel before PostgreSQL binds it:
  // then start again on another one.
  let port: number;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      runAs(join(bin, 'pg_ctl'), [
        '-D',
        data,
        '-w',
        '-l',
        join(data, 'server.log'),
        '-o',
        `-k ${data} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
        'start',
      ]);
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
  process.on('exit', () => {
    // Synchronous: the 'exit' event cannot wait. Immediate mode: the data is thrown away anyway.
    const stop = [join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'];
    if (isRoot()) spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', stop.join(' ')], { stdio: 'ignore' });
    else spawnSync(stop[0] ?? '', stop.slice(1), { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return { base: `postgresql://postgres@127.0.0.1:${port}` };
}

/** A new empty database on the test cluster; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  cluster ??= startCluster();
  const { base } = await cluster;
  const name = `almanac_${process.pid}_${++counter}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: `${base}/postgres` });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await client.end();
  }
  return `${base}/${name}`;
}

/** Drops a database made by createTestDatabase (connections to it must be closed). */
export async function dropTestDatabase(url: string): Promise<void> {
  const name = url.slice(url.lastIndexOf('/') + 1);
  const client = new pg.Client({ connectionString: url.slice(0, url.lastIndexOf('/')) + '/postgres' });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
