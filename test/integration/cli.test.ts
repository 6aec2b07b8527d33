/**
 * The `almanac` command as a user runs it: --version, --help, config errors, --verify-storage, a
 * server started from the command line that answers and stops cleanly on SIGTERM, and the first run.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { copyFixture, freePort } from '../helpers/radicale.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');

/** Temporary folders of these tests, removed at the end. */
const made: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function almanac(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the almanac command', () => {
  it('prints its version and a help generated from the schema', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = almanac(['--version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), pkg.version);
    const h = almanac(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--server-max-connections/);
    assert.match(h.stdout, /--auth-htpasswd-encryption/);
    assert.match(h.stdout, /autodetect/);
  });

  it('refuses an unknown option in a config file, naming file, section and option', () => {
    const dir = tempDir('almanac-cli-');
    const cfg = join(dir, 'config');
    writeFileSync(cfg, '[server]\nmax_connections = lots\n');
    const r = almanac(['--config', cfg]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(cfg.replace(/[/.]/g, '\\$&')));
    assert.match(r.stderr, /max_connections/);
    assert.match(r.stderr, /server/);
    writeFileSync(cfg, '[server]\nno_such_option = 1\n');
    const r2 = almanac(['--config', cfg]);
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /no_such_option/);
  });

  it('verifies a storage folder: Radicale fixture clean, a broken item and a duplicate UID reported', () => {
    const dir = copyFixture();
    const ok = almanac(['--config', '', '--storage-filesystem-folder', dir, '--verify-storage']);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const work = join(dir, 'collection-root/alice/work');
    writeFileSync(join(work, 'broken.ics'), 'BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n');
    writeFileSync(join(work, 'dup.ics'), readFileSync(join(work, 'review.ics')));
    const bad = almanac(['--config', '', '--storage-filesystem-folder', dir, '--verify-storage']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /broken\.ics/);
    assert.match(bad.stdout, /review-1@example\.org|dup\.ics/);
  });

  it('serves from the command line and finishes an in-flight request on SIGTERM, exit 0', async () => {
    const dir = tempDir('almanac-serve-');
    const users = join(dir, 'users');
    writeFileSync(users, 'alice:alicepw\n');
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        '--config',
        '',
        '--server-hosts',
        `127.0.0.1:${port}`,
        '--storage-filesystem-folder',
        join(dir, 'collections'),
        '--auth-type',
        'htpasswd',
        '--auth-htpasswd-filename',
        users,
        '--auth-htpasswd-encryption',
        'plain',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        up = await fetch(`http://127.0.0.1:${port}/`, { method: 'OPTIONS' }).then(
          () => true,
          () => false,
        );
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, `server did not start: ${log}`);
      const auth = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;
      const res = await fetch(`http://127.0.0.1:${port}/alice/`, {
        method: 'PROPFIND',
        headers: { Authorization: auth, Depth: '0' },
      });
      assert.equal(res.status, 207);
      await res.text();
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.match(log, /SIGTERM/);
  });

  it('first run: 127.0.0.1:5232-style defaults, XDG data folder and a generated user it tells about', async () => {
    const home = tempDir('almanac-home-');
    const port = await freePort();
    // Only the port is chosen on the command line; everything else is the first-run default.
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--server-hosts', `127.0.0.1:${port}`], {
      cwd: ROOT,
      env: { ...process.env, HOME: home, XDG_DATA_HOME: '', ALMANAC_CONFIG: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 100 && !/To choose otherwise/.test(log); i++)
        await new Promise((r) => setTimeout(r, 100));
      const m = /created the first user: (\S+) with password (\S+)/.exec(log);
      assert.ok(m, log);
      const usersFile = join(home, '.local/share/almanac/users');
      assert.ok(existsSync(usersFile));
      assert.doesNotMatch(readFileSync(usersFile, 'utf8'), new RegExp(m[2] ?? 'x'), 'password stored hashed');
      const auth = `Basic ${Buffer.from(`${m[1]}:${m[2]}`).toString('base64')}`;
      const ok = await fetch(`http://127.0.0.1:${port}/${m[1]}/`, {
        method: 'PROPFIND',
        headers: { Authorization: auth, Depth: '0' },
      });
      assert.equal(ok.status, 207);
      await ok.text();
      const anon = await fetch(`http://127.0.0.1:${port}/${m[1]}/`, {
        method: 'PROPFIND',
        headers: { Depth: '0' },
      });
      assert.equal(anon.status, 401, 'not open to anyone');
      await anon.text();
      assert.ok(existsSync(join(home, '.local/share/almanac/collections/collection-root', m[1] ?? '')));
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });
});
