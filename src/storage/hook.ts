/**
 * The storage `hook`: a shell command run after each change, with Radicale's `%(name)s`
 * placeholders replaced by shell-quoted values, as Radicale 3.8 fills them: %(cwd)s the storage folder
 * (where the command runs), %(path)s the changed path inside the collection root
 * (`<folder>/collection-root/alice/cal/x.ics`), %(to_path)s the same for a MOVE's destination (empty,
 * not even quotes, otherwise), %(request)s the method (`NONE` for principal creation), %(user)s the
 * login or `Anonymous`. A failing hook is only logged.
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { ChangeContext } from './types.js';

/** Python's shlex.quote. */
export function shellQuote(s: string): string {
  if (s === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/**
 * Python `%`-formatting with a dict: `%(key)s` and `%%`. Unknown keys throw, as in Python. The values
 * are inserted as given: quote them first (hookValues does).
 */
export function formatHook(command: string, values: Readonly<Record<string, string>>): string {
  return command.replace(/%\(([^)]*)\)s|%%/g, (m, key: string | undefined) => {
    if (m === '%%') return '%';
    const v = key === undefined ? undefined : values[key];
    if (v === undefined) throw new Error(`unknown placeholder ${m} in storage hook`);
    return v;
  });
}

export interface HookPlace {
  /** Where the command runs (%(cwd)s): the storage folder. */
  readonly cwd: string;
  /** The folder request paths are under (%(path)s); '' when there is none (PostgreSQL). */
  readonly root: string;
}

/** The shell-quoted placeholder values for one change. */
export function hookValues(ctx: ChangeContext, place: HookPlace): Record<string, string> {
  return {
    user: shellQuote(ctx.user === '' ? 'Anonymous' : ctx.user),
    cwd: shellQuote(place.cwd),
    path: shellQuote(place.root + ctx.path),
    // Radicale leaves an absent destination empty rather than quoting an empty string.
    to_path: ctx.toPath === undefined || ctx.toPath === '' ? '' : shellQuote(place.root + ctx.toPath),
    request: shellQuote(ctx.request),
  };
}

/** Runs the hook and waits for it; never throws. */
export async function runHook(
  command: string,
  ctx: ChangeContext,
  place: HookPlace,
  log: Logger,
): Promise<void> {
  const cwd = place.cwd;
  let line: string;
  try {
    line = formatHook(command, hookValues(ctx, place));
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
