/**
 * A command run to its end without blocking the test's own process (where a server under test may be
 * running too): its exit status and what it printed.
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  readonly cwd?: string;
  /** Added to (or, when undefined, removed from) this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the command's standard input, which is then closed. */
  readonly input?: string;
}

export function runCommand(
  file: string,
  args: readonly string[],
  opts: CommandOptions = {},
): Promise<CommandResult> {
  const child = spawn(file, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // A command that does not read its input may exit before it is written: that EPIPE is no failure
  // of the test (its status and output say what happened), and unhandled it would crash the file.
  child.stdin.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') stderr += `stdin: ${e.message}\n`;
  });
  child.stdin.end(opts.input ?? '');
  return new Promise((res) => child.on('close', (status) => res({ status, stdout, stderr })));
}
