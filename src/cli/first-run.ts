/**
 * First run: with no configuration file at all, Almanac still starts safely. It listens on
 * 127.0.0.1:5232 only, keeps its data in the per-user data folder (XDG data home), and is not open
 * to anyone: it creates an htpasswd file with one user and a random password, and says so once the
 * server listens (a run that cannot listen removes the file again, so the password is shown by the
 * run that serves).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export function dataHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const home = env.HOME !== undefined && env.HOME.startsWith('/') ? env.HOME : homedir();
  return join(xdg && xdg.startsWith('/') ? xdg : join(home, '.local', 'share'), 'almanac');
}

/** No config file read, none named with --config or ALMANAC_CONFIG: the first-run defaults apply. */
export function isFirstRun(
  loaded: LoadedConfig,
  configPaths: readonly string[] | undefined,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return loaded.files.every((f) => !f.loaded) && configPaths === undefined && !env.ALMANAC_CONFIG;
}

function firstUserName(): string {
  let name = 'admin';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (containers): keep the default
  }
  return /^[A-Za-z0-9._-]+$/.test(name) && name !== 'root' ? name : 'admin';
}

const isDefault = (config: Config, key: string): boolean => (config.sources[key] ?? 'default') === 'default';

export interface FirstRun {
  readonly loaded: LoadedConfig;
  /** What to tell once the server listens (the generated password among it). */
  readonly report: readonly string[];
  /** Removes the users file this run created; for a start that failed. */
  undo(): void;
}

/** The first user of a new users file; returns the lines that tell about it. */
async function createFirstUser(users: string): Promise<string[]> {
  const user = firstUserName();
  const password = randomBytes(12).toString('base64url');
  const hash = await bcrypt.hash(password, 10);
  writeFileSync(users, `${user}:${hash}\n`, { mode: 0o600, flag: 'wx' });
  return [
    `  created the first user: ${user} with password ${password}`,
    `  (stored bcrypt-hashed in ${users}; add users with: npx almanac user add NAME)`,
  ];
}

function existingUsers(users: string): string[] {
  const first = readFileSync(users, 'utf8').split('\n')[0]?.split(':')[0] ?? '';
  return [
    `  users: ${users} (first user: ${first})`,
    `  add users with: npx almanac user add NAME; a forgotten password: npx almanac user passwd ${first || 'NAME'}`,
  ];
}

/**
 * The first-run configuration. With `createUser` (serving), a missing users file is created with one
 * user; `undo()` removes it again when the server then fails to start.
 */
export async function firstRunConfig(loaded: LoadedConfig, createUser = true): Promise<FirstRun> {
  const c = loaded.config;
  const home = dataHome();
  const server = isDefault(c, 'server.hosts') ? { ...c.server, hosts: ['127.0.0.1:5232'] } : c.server;
  const storage = isDefault(c, 'storage.filesystem_folder')
    ? { ...c.storage, filesystem_folder: join(home, 'collections') }
    : c.storage;
  let auth = c.auth;
  let created: string | undefined;
  const lines = [
    'No configuration file found (/etc/almanac/config, ~/.config/almanac/config, ALMANAC_CONFIG, --config):',
    `  data folder: ${storage.filesystem_folder}`,
  ];
  if (isDefault(c, 'auth.type')) {
    const users = join(home, 'users');
    auth = { ...c.auth, type: 'htpasswd', htpasswd_filename: users, htpasswd_encryption: 'autodetect' };
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if (!existsSync(users) && createUser) {
      lines.push(...(await createFirstUser(users)));
      created = users;
    } else if (existsSync(users)) {
      lines.push(...existingUsers(users));
    }
  }
  lines.push(`  listening on: ${server.hosts.join(', ')} (log in at http://${server.hosts[0] ?? ''}/)`);
  lines.push('  To choose otherwise, write a config file (see README "Configuration").');
  return {
    loaded: { ...loaded, config: { ...c, server, storage, auth } },
    report: lines,
    undo: () => {
      if (created !== undefined) rmSync(created, { force: true });
    },
  };
}
