/**
 * Interop tests drive real external programs. When one is missing, the test is skipped with the exact
 * install command (visible in the test report), except in CI where a missing tool is a failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** Whether `cmd` (an absolute path or a name on PATH) can be run. */
export function haveTool(cmd: string): boolean {
  if (cmd.startsWith('/')) return existsSync(cmd);
  return spawnSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/**
 * True when `cmd` is available. Otherwise skips the test (`t.skip`, with the apt-get command) and
 * returns false, or throws when CI=true so that a broken CI image cannot pass silently.
 */
export function requireTool(t: TestContext, cmd: string, aptPackage: string): boolean {
  if (haveTool(cmd)) return true;
  const msg = `${cmd} not found: apt-get install ${aptPackage}`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}

/** The same for a Python module importable by Debian's /usr/bin/python3. */
export function requirePythonModule(t: TestContext, module: string, aptPackage: string): boolean {
  if (!requireTool(t, '/usr/bin/python3', 'python3')) return false;
  const ok = spawnSync('/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
  if (ok) return true;
  const msg = `python module ${module} not found: apt-get install ${aptPackage}`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}
