#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 node --max-semi-space-size=4 --heap-growing-percent=20 --single-threaded-gc
/**
 * The `almanac` command: parse flags, load the configuration, then serve (or verify the storage).
 * The shebang's environment and node flags keep resident memory low (see src/cli/node-flags.ts);
 * `npm start`, the systemd unit in README.md and the benchmark use the same ones.
 */
import { ArgsError, parseArgs } from '../config/args.js';
import { helpText } from '../config/help.js';
import { almanacVersion } from '../config/version.js';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log/logger.js';
import type { Storage } from '../storage/types.js';
import { firstRunConfig, isFirstRun, type FirstRun } from './first-run.js';
import { verifyItemFile } from './verify-item.js';
import { verifySharing } from './verify-sharing.js';
import {
  createPlugins,
  openStorage,
  pluginSettings,
  startAlmanac,
  verifierFor,
  type Almanac,
} from './start.js';
import { startupReport } from './startup-report.js';

function fail(message: string): never {
  process.stderr.write(`almanac: ${message}\n`);
  process.exit(2);
}

function load(argv: string[]): {
  loaded: LoadedConfig;
  action: string;
  firstRun: boolean;
  verifyItem: string;
} {
  const args = parseArgs(argv);
  if (args.action === 'help') {
    process.stdout.write(helpText());
    process.exit(0);
  }
  if (args.action === 'version') {
    process.stdout.write(`${almanacVersion()}\n`);
    process.exit(0);
  }
  const values: Record<string, Record<string, string>> = { ...args.values };
  if (args.debug) values.logging = { ...values.logging, level: 'debug' };
  const opts = args.configPaths !== undefined ? { paths: args.configPaths, args: values } : { args: values };
  const loaded = loadConfig(opts);
  return {
    loaded,
    action: args.action,
    firstRun: isFirstRun(loaded, args.configPaths),
    verifyItem: args.verifyItem ?? '',
  };
}

/** Collections and items the storage serves, counted through its interface (quietly: verify reports). */
async function countStorage(storage: Storage, log: Logger): Promise<{ collections: number; items: number }> {
  const level = log.level;
  log.level = 'error';
  try {
    let collections = 0;
    let items = 0;
    const walk = async (path: string): Promise<void> => {
      for (const c of await storage.listCollections(path)) {
        collections++;
        if (c.tag === 'VCALENDAR' || c.tag === 'VADDRESSBOOK')
          items += (await storage.listItems(c.path)).length;
        await walk(c.path);
      }
    };
    await walk('');
    return { collections, items };
  } finally {
    log.level = level;
  }
}

/** Where the storage is, for the summary: the folder, or the database URL without its password. */
function storageLocation(config: LoadedConfig['config']): string {
  if (config.storage.type !== 'postgresql') return `the folder ${config.storage.filesystem_folder}`;
  const url = config.storage.postgresql_url;
  if (url === '') return 'the PostgreSQL database of the PG* environment variables';
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return `the database ${u.href}`;
  } catch {
    return 'the PostgreSQL database';
  }
}

async function verify(loaded: LoadedConfig, log: Logger): Promise<void> {
  const storage = openStorage(loaded.config, log);
  // Changes nothing a crash left behind, so that it is reported.
  await storage.open({ inspectOnly: true });
  let problems = 0;
  const ok = await storage.verify(
    (problem) => {
      problems++;
      process.stdout.write(`${problem}\n`);
    },
    verifierFor(createPlugins(pluginSettings(loaded.config))),
  );
  const { collections, items } = await countStorage(storage, log);
  await storage.close();
  const checked = `Checked ${storageLocation(loaded.config)}: ${collections} collections, ${items} items`;
  process.stdout.write(ok ? `${checked}: no problems found\n` : `${checked}: ${problems} problem(s)\n`);
  process.exit(ok ? 0 : 1);
}

/** `--verify-item FILE` and `--verify-sharing`: report on stdout, exit with their status. */
async function runVerifyFlag(
  action: 'verify-item' | 'verify-sharing',
  file: string,
  loaded: LoadedConfig,
  log: Logger,
): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  if (action === 'verify-item') process.exit(await verifyItemFile(file, loaded.config, out));
  const storage = openStorage(loaded.config, log);
  await storage.open({ inspectOnly: true });
  try {
    const report = await verifySharing(loaded.config, storage);
    report.lines.forEach(out);
    process.exitCode = report.status;
  } finally {
    await storage.close();
  }
  process.exit();
}

async function main(): Promise<void> {
  if (process.argv[2] === 'storage') {
    const { runStorageCommand } = await import('./storage-command.js');
    process.exit(await runStorageCommand(process.argv.slice(3)));
  }
  if (process.argv[2] === 'user') {
    const { runUserCommand } = await import('./user-command.js');
    process.exit(
      await runUserCommand(process.argv.slice(3), {
        input: process.stdin,
        prompt: process.stderr,
        out: (s) => process.stdout.write(s),
        err: (s) => process.stderr.write(s),
      }),
    );
  }
  let state;
  try {
    state = load(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ArgsError || e instanceof ConfigError) fail(e.message);
    throw e;
  }
  let { loaded } = state;
  let firstRun: FirstRun | undefined;
  if (state.firstRun) {
    firstRun = await firstRunConfig(loaded, state.action === 'serve');
    loaded = firstRun.loaded;
  }
  const log = createLogger(loaded.config);
  const report = firstRun === undefined ? startupReport(loaded) : { info: [], warn: [] };
  for (const line of report.info) log.info(line);
  for (const w of loaded.warnings) log.warn(w);
  for (const u of loaded.unsupported)
    log.warn(`option ${u} is set but not yet supported by Almanac; it has no effect`);
  if (state.action === 'verify-storage') return verify(loaded, log);
  if (state.action === 'verify-item' || state.action === 'verify-sharing')
    return runVerifyFlag(state.action, state.verifyItem, loaded, log);
  // Signals are handled from before the server listens: a supervisor's SIGTERM during start-up stops
  // it as cleanly as later, once it is up.
  let almanac: Almanac | undefined;
  let stopping = false;
  const closeAndExit = (a: Almanac): void => void a.close().then(() => process.exit(0));
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received, finishing requests in progress`);
    if (almanac !== undefined) closeAndExit(almanac);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    almanac = await startAlmanac(loaded.config, log);
  } catch (e) {
    // The first user's password is shown by the run that serves: a failed one keeps no users file.
    firstRun?.undo();
    fail(e instanceof Error ? e.message : String(e));
  }
  if (stopping) return closeAndExit(almanac);
  for (const line of firstRun?.report ?? []) log.info(line);
  for (const w of report.warn) log.warn(w);
}

await main();
