// Starts Almanac and Radicale as child processes on loopback, each on its own data folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseShebang, type NodeCommand } from '../src/cli/node-flags.js';
import { freePort } from '../test/helpers/net.js';
import { serverArgs } from '../test/helpers/radicale.js';

export { freePort };

/** 'almanac-pg': Almanac on PostgreSQL beside Almanac on its folder (`--storage both`). */
export type ServerKind = 'almanac' | 'almanac-pg' | 'radicale';

export interface RunningServer {
  kind: ServerKind;
  port: number;
  pid: number;
  baseUrl: string;
  /** Last lines of stderr, for error reports. */
  stderrTail: () => string;
  stop: () => Promise<void>;
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

const almanacExtraArgs = new Map<ServerKind, string[]>();

/** Extra command-line flags for an Almanac kind (e.g. PostgreSQL storage instead of the folder). */
export function setAlmanacExtraArgs(args: string[], kind: ServerKind = 'almanac'): void {
  almanacExtraArgs.set(kind, args);
}

const ALMANAC_SCRIPT = 'dist/cli/main.js';

/** The environment and node flags of the built `almanac` bin's shebang: the bench runs what users run. */
export function almanacNodeCommand(): NodeCommand {
  const firstLine = readFileSync(join(REPO, ALMANAC_SCRIPT), 'utf8').split('\n', 1)[0] ?? '';
  const cmd = parseShebang(firstLine);
  if (cmd === undefined)
    throw new Error(`${ALMANAC_SCRIPT}: unexpected first line ${JSON.stringify(firstLine)}`);
  return cmd;
}

function commandFor(
  kind: ServerKind,
  port: number,
  folder: string,
  htpasswd: string,
): [string, string[], NodeJS.ProcessEnv] {
  const common = [...serverArgs(port, folder, htpasswd), '--logging-level', 'warning'];
  // The built server, as users run it (tsx would add its compiler to the measured memory).
  if (kind !== 'radicale') {
    const { env, flags } = almanacNodeCommand();
    const args = [...flags, ALMANAC_SCRIPT, ...common, ...(almanacExtraArgs.get(kind) ?? [])];
    return [process.execPath, args, { ...process.env, ...env }];
  }
  return ['/usr/bin/python3', ['-m', 'radicale', ...common], process.env];
}

export async function startServer(
  kind: ServerKind,
  folder: string,
  htpasswd: string,
): Promise<RunningServer> {
  const port = await freePort();
  const [cmd, args, env] = commandFor(kind, port, folder, htpasswd);
  const child: ChildProcess = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid === undefined) throw new Error(`${kind}: spawn failed`);
  return {
    kind,
    port,
    pid: child.pid,
    baseUrl: `http://127.0.0.1:${port}`,
    stderrTail: () => tail,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process in KiB (VmRSS), or -1 when it cannot be read. */
export async function rssKiB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m?.[1] !== undefined ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}
