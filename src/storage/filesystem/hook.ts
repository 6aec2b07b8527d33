/**
 * The storage `hook`: a shell command run after each change, with Radicale's `%(name)s`
 * placeholders replaced by shell-quoted values. A failing hook is only logged.
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { ChangeContext } from '../types.js';

/** Python's shlex.quote. */
export function shellQuote(s: string): string {
  if (s === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** Python `%`-formatting with a dict: `%(key)s` and `%%`. Unknown keys throw, as in Python. */
export function formatHook(command: string, values: Readonly<Record<string, string>>): string {
  return command.replace(/%\(([^)]*)\)s|%%/g, (m, key: string | undefined) => {
    if (m === '%%') return '%';
    const v = key === undefined ? undefined : values[key];
    if (v === undefined) throw new Error(`unknown placeholder ${m} in storage hook`);
    return shellQuote(v);
  });
}

export function hookValues(ctx: ChangeContext, cwd: string): Record<string, string> {
  return {
    user: ctx.user === '' ? 'Anonymous' : ctx.user,
    cwd,
    path: ctx.path,
    to_path: ctx.toPath ?? '',
    request: ctx.request,
  };
}

/** Runs the hook and waits for it; never throws. */
export async function runHook(command: string, ctx: ChangeContext, cwd: string, log: Logger): Promise<void> {
  let line: string;
  try {
    line = formatHook(command, hookValues(ctx, cwd));
  } catch (e) {
    log.error({ err: e }, 'storage hook not run');
    return;
  }
  log.debug({ command: line }, 'running storage hook');
  await new Promise<void>((resolve) => {
    const child = spawn('/bin/sh', ['-c', line], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (b: Buffer): void => {
      if (output.length < 4000) output += b.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (e) => {
      log.error({ err: e }, 'storage hook could not start');
      resolve();
    });
    child.on('close', (code, signal) => {
      if (code !== 0) log.error({ code, signal, output }, 'storage hook failed');
      resolve();
    });
  });
}
