/**
 * External tools for interop tests. Missing outside CI: the test is skipped with the exact
 * `apt-get install` it needs. Missing in CI (CI=true): the test fails, since CI must install it.
 */
import type { TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function requireTool(
  t: TestContext,
  what: string,
  aptPackage: string,
  present: () => boolean,
): boolean {
  if (present()) return true;
  const message = `${what} is missing: apt-get install ${aptPackage}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI must install it in .ci/run)`);
  t.skip(message);
  return false;
}
