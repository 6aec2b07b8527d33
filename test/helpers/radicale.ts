/**
 * The Radicale 3.1.8 fixture (a data folder the real Radicale wrote, kept in test/fixtures with the
 * answers it gave in expected.json) and Debian's Radicale itself, for tests that compare with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './net.js';

export { freePort };

export const FIXTURE = resolve(import.meta.dirname, '../fixtures/radicale-3.1.8');
export const FIXTURE_HTPASSWD = join(FIXTURE, 'htpasswd');

function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) makeWritable(p);
    else chmodSync(p, 0o644);
  }
}

/** Fixture copies of this test process, removed when it exits (each test file runs in its own). */
const copies: string[] = [];
process.on('exit', () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A writable copy of the fixture folder (the original is read-only). */
export function copyFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'almanac-fixture-'));
  copies.push(dir);
  cpSync(FIXTURE, dir, { recursive: true });
  makeWritable(dir);
  return dir;
}

export interface RunningRadicale {
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  stop(): void;
}

/**
 * The flags both Radicale and Almanac take (same names): loopback port, data folder, plain htpasswd
 * users, no failed-login delay.
 */
export function serverArgs(port: number, folder: string, htpasswd: string): string[] {
  return [
    '--config',
    '',
    '--server-hosts',
    `127.0.0.1:${port}`,
    '--storage-filesystem-folder',
    folder,
    '--auth-type',
    'htpasswd',
    '--auth-htpasswd-filename',
    htpasswd,
    '--auth-htpasswd-encryption',
    'plain',
    '--auth-delay',
    '0',
  ];
}

/** Starts Debian's Radicale (/usr/bin/python3 -m radicale) on a folder, with plain htpasswd users. */
export async function startRadicale(folder: string, htpasswd = FIXTURE_HTPASSWD): Promise<RunningRadicale> {
  const port = await freePort();
  const proc = spawn('/usr/bin/python3', ['-m', 'radicale', ...serverArgs(port, folder, htpasswd)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    try {
      await fetch(`${url}/`, { method: 'OPTIONS' });
      return { url, port, proc, stop: () => proc.kill() };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  proc.kill();
  throw new Error('Radicale did not start');
}
