#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 node --max-semi-space-size=4 --heap-growing-percent=20
/**
 * The `almanac` command: parse flags, load the configuration, then serve (or verify the storage).
 * The shebang's environment and node flags keep resident memory low (see src/cli/node-flags.ts);
 * `npm start`, the systemd unit in README.md and the benchmark use the same ones.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArgsError, parseArgs } from '../config/args.js';
import { helpText } from '../config/help.js';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log/logger.js';
import { firstRunConfig } from './first-run.js';
import { openStorage, startAlmanac } from './start.js';

function version(): string {
  const pkgPath = fileURLToPath(new URL('../../package.json', import.meta.url));
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

function fail(message: string): never {
  process.stderr.write(`almanac: ${message}\n`);
  process.exit(2);
}

function load(argv: string[]): { loaded: LoadedConfig; action: string; firstRun: boolean } {
  const args = parseArgs(argv);
  if (args.action === 'help') {
    process.stdout.write(helpText());
    process.exit(0);
  }
  if (args.action === 'version') {
    process.stdout.write(`${version()}\n`);
    process.exit(0);
  }
  const values: Record<string, Record<string, string>> = { ...args.values };
  if (args.debug) values.logging = { ...values.logging, level: 'debug' };
  const opts = args.configPaths !== undefined ? { paths: args.configPaths, args: values } : { args: values };
  const loaded = loadConfig(opts);
  const firstRun =
    loaded.files.every((f) => !f.loaded) && args.configPaths === undefined && !process.env.ALMANAC_CONFIG;
  return { loaded, action: args.action, firstRun };
}

async function verify(loaded: LoadedConfig, log: Logger): Promise<void> {
  const storage = openStorage(loaded.config, log);
  await storage.open();
  let problems = 0;
  const ok = await storage.verify((p) => {
    problems++;
    process.stdout.write(`${p}\n`);
  });
  await storage.close();
  process.stdout.write(ok ? 'Storage verified: no problems found\n' : `Storage has ${problems} problem(s)\n`);
  process.exit(ok ? 0 : 1);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'storage') {
    const { runStorageCommand } = await import('./storage-command.js');
    process.exit(await runStorageCommand(process.argv.slice(3)));
  }
  let state;
  try {
    state = load(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ArgsError || e instanceof ConfigError) fail(e.message);
    throw e;
  }
  let { loaded } = state;
  const bootLog = createLogger(loaded.config);
  if (state.firstRun) loaded = await firstRunConfig(loaded, bootLog);
  const log = createLogger(loaded.config);
  for (const w of loaded.warnings) log.warn(w);
  for (const u of loaded.unsupported)
    log.warn(`option ${u} is set but not yet supported by Almanac; it has no effect`);
  if (state.action === 'verify-storage') return verify(loaded, log);
  let almanac;
  try {
    almanac = await startAlmanac(loaded.config, log);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received, finishing requests in progress`);
    void almanac.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
