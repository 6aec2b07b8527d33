/**
 * `almanac storage …`: maintenance of the storage outside the server.
 *   almanac storage migrate [--url postgresql://…] [--config FILE]
 *       runs the PostgreSQL schema migrations (the server also runs them at start-up)
 *   almanac storage copy --from <folder|postgresql://…> --to <postgresql://…|folder> [--sharing csv|files]
 *       mirrors one storage into another, item by item, and verifies the result, and the shares
 *       (a folder's csv or files database ↔ the PostgreSQL table, src/sharing/copy.ts)
 * A folder is a Radicale-style data folder (the one holding `collection-root`). Without --url,
 * migrate uses the configuration's `[storage] postgresql_url`, and an empty URL the PG* variables.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import { FilesystemBackend } from '../storage/filesystem/storage.js';
import { type CheckedStorage, checkedStorage } from '../storage/checked-storage.js';
import { copyStorage } from '../storage/postgres/copy.js';
import { Db } from '../storage/postgres/db.js';
import { migrate } from '../storage/postgres/schema.js';
import { PostgresBackend } from '../storage/postgres/storage.js';
import { copyShares, type ShareSide } from '../sharing/copy.js';
import { createPlugins, describerFor, pluginSettings } from './start.js';

const USAGE = `usage:
  almanac storage migrate [--url postgresql://…] [--config FILE]
      runs the PostgreSQL schema migrations (the server also runs them at start-up); without --url,
      the configuration's [storage] postgresql_url (empty: the PG* environment variables)
  almanac storage copy --from <folder|postgresql://…> --to <postgresql://…|folder> [--sharing csv|files]
      makes the target a mirror of the source (items keep their hrefs, bytes and ETags, collections
      their properties, each collection its current sync token; WebDAV-Push registrations and keys
      go along when the target has no keys of its own), then checks every item; a folder
      is a Radicale data folder (the one holding collection-root). Stop writes to the source first.
      Shares go along: a folder's collection-db/sharing.csv or collection-db/files/ ([sharing] csv or
      files; --sharing picks one when a folder has both, or the format a folder gets) ↔ the table.
`;

class UsageError extends Error {}

function flags(argv: readonly string[], allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!allowed.includes(name)) throw new UsageError(`unknown argument ${arg}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    out.set(name, value);
  }
  return out;
}

const isUrl = (s: string): boolean => /^postgres(ql)?:\/\//.test(s);

function openStorage(where: string, log: Logger): CheckedStorage {
  // Describing stored items reads no setting: the plugins are built with the defaults.
  const defaults = loadConfig({ paths: [''], env: {} }).config;
  const describe = describerFor(createPlugins(pluginSettings(defaults)));
  if (isUrl(where))
    return checkedStorage(
      new PostgresBackend({ url: where, poolSize: 4, hook: '', hookCwd: process.cwd(), describe, log }),
    );
  return checkedStorage(
    new FilesystemBackend({
      folder: where,
      crossProcessLock: true,
      fsync: true,
      umask: undefined,
      maxResourceSize: Number.MAX_SAFE_INTEGER,
      maxSyncTokenAge: 2592000,
      skipBrokenItem: true,
      hook: '',
      describe,
      log,
    }),
  );
}

/** Where the share database of a `--from`/`--to` is: the folder, or the PostgreSQL storage's pool. */
function shareSide(where: string, storage: CheckedStorage): ShareSide {
  return storage.backend instanceof PostgresBackend
    ? { kind: 'table', db: storage.backend.db }
    : { kind: 'folder', folder: where };
}

async function runMigrate(argv: readonly string[], out: (s: string) => void): Promise<number> {
  const f = flags(argv, ['--url', '--config']);
  let url = f.get('--url');
  if (url === undefined) {
    const config = f.has('--config') ? loadConfig({ paths: [f.get('--config') ?? ''] }) : loadConfig();
    url = config.config.storage.postgresql_url;
  }
  const db = new Db({ url, poolSize: 1, log: pino({ level: 'warn' }) });
  try {
    const applied = await migrate(db.pool);
    out(applied.length === 0 ? 'schema is up to date\n' : `applied migrations ${applied.join(', ')}\n`);
  } finally {
    await db.end();
  }
  return 0;
}

const LABELS: Readonly<Record<number, string>> = { 40: 'warning', 50: 'error', 60: 'critical' };

/**
 * Log records of the storages as lines a person reads (`almanac storage: warning: skipping broken
 * item: /x/y.ics: invalid iCalendar data: …`), not pino's JSON; items the source could not read
 * are counted, since the copy cannot carry them.
 */
class CopyLog implements DestinationStream {
  unreadable = 0;
  constructor(private readonly err: (s: string) => void) {}

  write(chunk: string): void {
    for (const json of chunk.split('\n')) {
      if (json !== '') this.line(JSON.parse(json) as Record<string, unknown>);
    }
  }

  private line(r: Record<string, unknown>): void {
    const msg = typeof r.msg === 'string' ? r.msg : '';
    if (msg === 'skipping broken item') this.unreadable++;
    const parts = [`${LABELS[Number(r.level)] ?? 'warning'}: ${msg}`];
    for (const [k, v] of Object.entries(r)) {
      if (['level', 'time', 'pid', 'hostname', 'msg', 'err'].includes(k)) continue;
      parts.push(typeof v === 'string' ? v : `${k} ${JSON.stringify(v)}`);
    }
    const e = r.err as { message?: unknown } | undefined;
    if (typeof e?.message === 'string') parts.push(e.message);
    this.err(`almanac storage: ${parts.join(': ')}\n`);
  }
}

async function runCopy(
  argv: readonly string[],
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  const f = flags(argv, ['--from', '--to', '--sharing']);
  const from = f.get('--from');
  const to = f.get('--to');
  if (from === undefined || to === undefined) throw new UsageError('copy needs --from and --to');
  if (from === to) throw new UsageError('--from and --to are the same storage');
  const format = f.get('--sharing');
  if (format !== undefined && format !== 'csv' && format !== 'files')
    throw new UsageError(`--sharing is csv or files, not ${format}`);
  const copyLog = new CopyLog(err);
  const log = pino({ level: 'warn' }, copyLog);
  const source = openStorage(from, log);
  const target = openStorage(to, log);
  await source.open();
  try {
    await target.open();
    try {
      const stats = await copyStorage(source, target, (line) => out(`${line}\n`));
      // Statistics for the planner of what was just loaded (autovacuum may come minutes later).
      if (target.backend instanceof PostgresBackend) await target.backend.db.analyze();
      // The shares and push lines first: the summary of the whole copy is the last line.
      const shares = await copyShares(shareSide(from, source), shareSide(to, target), format);
      if (shares.shares === undefined) out('sharing: the source has no share database; none carried\n');
      else if (shares.to === undefined) out('sharing: the source has no shares\n');
      else out(`sharing: ${shares.shares} share(s) carried (${shares.from} → ${shares.to})\n`);
      if (stats.pushKeysDiffer)
        out(
          'WebDAV-Push: the target has keys of its own, kept; no registrations carried ' +
            '(clients register again when theirs run out)\n',
        );
      else if (stats.pushRegistrations !== undefined)
        out(`WebDAV-Push: ${stats.pushRegistrations} registration(s) and the keys carried\n`);
      const unreadable =
        copyLog.unreadable === 0
          ? ''
          : `; ${copyLog.unreadable} item(s) of the source could not be read and were not copied (see above)`;
      out(
        `copied ${stats.collections} collections: ${stats.itemsWritten} items written, ` +
          `${stats.itemsSkipped} already identical, ${stats.itemsDeleted} items and ` +
          `${stats.collectionsDeleted} collections removed, ${stats.tokensCarried} sync tokens carried, ` +
          `${stats.problems} problem(s)${unreadable}\n`,
      );
      return stats.problems === 0 && copyLog.unreadable === 0 ? 0 : 1;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Runs `almanac storage <argv…>`; returns the exit status. */
export async function runStorageCommand(
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (rest.includes('--help') || rest.includes('-h')) {
      out(USAGE);
      return 0;
    }
    if (sub === 'migrate') return await runMigrate(rest, out);
    if (sub === 'copy') return await runCopy(rest, out, err);
    if (sub === '--help' || sub === '-h' || sub === 'help') {
      out(USAGE);
      return 0;
    }
    throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${sub}`);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`almanac storage: ${e.message}\n${USAGE}`);
      return 2;
    }
    err(`almanac storage: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
