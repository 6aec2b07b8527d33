/**
 * [auth] type = pam through Debian's `pamtester` (no native PAM binding is needed): the password goes on
 * stdin, exit status 0 means success. pam_group_membership is checked with `id -Gn`, whose groups are
 * also handed to [group] type = from_auth.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { FAILED, type PasswordBackend } from '../backend.js';

const TIMEOUT_MS = 15_000;

/** The path of an executable on PATH (plus the sbin folders and `extraDirs`), or undefined. */
export async function findExecutable(
  name: string,
  extraDirs: readonly string[] = [],
): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '/usr/bin:/bin')
    .split(delimiter)
    .concat('/usr/sbin', '/sbin', ...extraDirs);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
}

function run(cmd: string, args: readonly string[], stdin: string): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'], timeout: TIMEOUT_MS });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

export async function createPamBackend(config: Config, log: Logger): Promise<PasswordBackend> {
  const pamtester = await findExecutable('pamtester');
  if (pamtester === undefined) {
    throw new Error('[auth] type = pam needs the pamtester program: apt-get install pamtester');
  }
  const service = config.auth.pam_service;
  const required = config.auth.pam_group_membership;
  return {
    cacheable: true,
    async login(user, password) {
      if (user.startsWith('-')) return FAILED; // never let a login look like an option
      try {
        const res = await run(pamtester, [service, user, 'authenticate'], `${password}\n`);
        if (res.code !== 0) return FAILED;
        const groups = (await run('id', ['-Gn', '--', user], '')).stdout.trim().split(/\s+/).filter(Boolean);
        if (required !== '' && !groups.includes(required)) {
          log.warn(`pam: ${JSON.stringify(user)} is not in the required group ${JSON.stringify(required)}`);
          return FAILED;
        }
        return { ok: true, groups };
      } catch (err) {
        log.error({ err }, `pam: cannot run pamtester: ${String(err)}`);
        return FAILED;
      }
    },
    close: () => Promise.resolve(),
  };
}
