/**
 * First run: with no configuration file at all, Almanac still starts safely. It listens on
 * 127.0.0.1:5232 only, keeps its data in the per-user data folder (XDG data home), and is not open
 * to anyone: it creates an htpasswd file with one user and a random password, and says so.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';

export function dataHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'share'), 'almanac');
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

export async function firstRunConfig(loaded: LoadedConfig, log: Logger): Promise<LoadedConfig> {
  const c = loaded.config;
  const home = dataHome();
  const server = isDefault(c, 'server.hosts') ? { ...c.server, hosts: ['127.0.0.1:5232'] } : c.server;
  const storage = isDefault(c, 'storage.filesystem_folder')
    ? { ...c.storage, filesystem_folder: join(home, 'collections') }
    : c.storage;
  let auth = c.auth;
  const lines = [
    'No configuration file found (/etc/almanac/config, ~/.config/almanac/config, ALMANAC_CONFIG, --config):',
    `  data folder: ${storage.filesystem_folder}`,
  ];
  if (isDefault(c, 'auth.type')) {
    const users = join(home, 'users');
    auth = { ...c.auth, type: 'htpasswd', htpasswd_filename: users, htpasswd_encryption: 'autodetect' };
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if (!existsSync(users)) {
      const user = firstUserName();
      const password = randomBytes(12).toString('base64url');
      const hash = await bcrypt.hash(password, 10);
      writeFileSync(users, `${user}:${hash}\n`, { mode: 0o600 });
      lines.push(`  created the first user: ${user} with password ${password}`);
      lines.push(`  (stored bcrypt-hashed in ${users}; add users with: htpasswd -B ${users} NAME)`);
    } else {
      const first = readFileSync(users, 'utf8').split('\n')[0]?.split(':')[0] ?? '';
      lines.push(`  users: ${users} (first user: ${first}; add users with: htpasswd -B ${users} NAME)`);
    }
  }
  lines.push(`  listening on: ${server.hosts.join(', ')} (log in at http://${server.hosts[0] ?? ''}/)`);
  lines.push('  To choose otherwise, write a config file (see README "Configuration").');
  for (const l of lines) log.info(l);
  return { ...loaded, config: { ...c, server, storage, auth } };
}
