/**
 * What the server says at start-up about its configuration: which config files it read (so a file in
 * the wrong place is noticed), and when nobody can log in because `[auth] type = denyall` is in force
 * (Radicale's default as soon as a config file is read), how to change that.
 */
import type { LoadedConfig } from '../config/load.js';

export interface StartupReport {
  readonly info: readonly string[];
  readonly warn: readonly string[];
}

function filesLine(loaded: LoadedConfig): string {
  const read = loaded.files.filter((f) => f.loaded).map((f) => f.path);
  const missing = loaded.files.filter((f) => !f.loaded).map((f) => f.path);
  const head = read.length > 0 ? `Config files read: ${read.join(', ')}` : 'No config file read';
  return missing.length > 0 ? `${head} (not found, optional: ${missing.join(', ')})` : head;
}

function denyallLine(loaded: LoadedConfig): string | undefined {
  const { config } = loaded;
  if (config.auth.type !== 'denyall') return undefined;
  const source = config.sources['auth.type'] ?? 'default';
  const file = loaded.files.find((f) => f.loaded)?.path ?? '/etc/almanac/config';
  const why =
    source === 'default'
      ? 'the default when a config file sets no [auth] type, as in Radicale'
      : `set in ${source}`;
  return (
    `[auth] type = denyall (${why}): every login is refused. To let users in, put ` +
    `"[auth]", "type = htpasswd" and "htpasswd_filename = /path/to/users" in ${file}, ` +
    'then add users with: npx almanac user add NAME (see README "Configuration")'
  );
}

/** The start-up lines for a configuration that came from files or flags (not the first run). */
export function startupReport(loaded: LoadedConfig): StartupReport {
  const deny = denyallLine(loaded);
  return { info: [filesLine(loaded)], warn: deny === undefined ? [] : [deny] };
}
