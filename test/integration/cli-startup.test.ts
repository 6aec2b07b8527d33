/**
 * What the server says when it starts, as a first-time administrator reads it: which config files it
 * read, that nobody can log in under `[auth] type = denyall` and how to change it, the first user's
 * password only from a run that listens, and a missing users file named by its option.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../helpers/net.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'almanac-cli-startup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Started {
  /** Resolves with the exit status; the server is stopped with SIGTERM once `until` shows in the log. */
  readonly exit: Promise<number | null>;
  log(): string;
}

/** Runs the server until its log matches `until` (then SIGTERM) or it exits by itself. */
function run(args: string[], until: RegExp, env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ALMANAC_CONFIG: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const onData = (c: Buffer): void => {
    log += c.toString();
    if (until.test(log)) child.kill('SIGTERM');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const exit = new Promise<number | null>((r) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      r(code);
    }),
  );
  return { exit, log: () => log };
}

void describe('start-up messages', () => {
  void it('a config file without [auth]: names the files read, says denyall is in force and how to change it', async () => {
    const port = await freePort();
    const cfg = join(dir, 'config');
    writeFileSync(
      cfg,
      `[server]\nhosts = 127.0.0.1:${port}\n[storage]\nfilesystem_folder = ${join(dir, 'data')}\n`,
    );
    const s = run(['--config', cfg, `--config=?${join(dir, 'absent')}`], /WARNING/);
    assert.equal(await s.exit, 0, s.log());
    const log = s.log();
    assert.match(
      log,
      new RegExp(`Config files read: ${cfg.replace(/[/.]/g, '\\$&')} \\(not found, optional: .*absent\\)`),
    );
    assert.match(
      log,
      /\[WARNING\] \[auth\] type = denyall \(the default when a config file sets no \[auth\] type/,
    );
    assert.match(log, /every login is refused/);
    assert.match(log, /"type = htpasswd" and "htpasswd_filename = \/path\/to\/users" in .*config/);
    assert.match(log, /npx almanac user add NAME/);
    assert.ok(log.indexOf('Listening on') < log.indexOf('denyall'), 'said last, where it is seen');
  });

  void it('an explicit denyall is named with the file that sets it', async () => {
    const port = await freePort();
    const cfg = join(dir, 'explicit-config');
    writeFileSync(
      cfg,
      `[server]\nhosts = 127.0.0.1:${port}\n[auth]\ntype = denyall\n[storage]\nfilesystem_folder = ${join(dir, 'data')}\n`,
    );
    const s = run(['--config', cfg], /WARNING/);
    assert.equal(await s.exit, 0, s.log());
    assert.match(s.log(), new RegExp(`type = denyall \\(set in ${cfg.replace(/[/.]/g, '\\$&')}\\)`));
  });

  void it('no warning when logins are possible', async () => {
    const port = await freePort();
    const users = join(dir, 'users');
    writeFileSync(users, 'alice:pw\n');
    const s = run(
      [
        '--config',
        '',
        '--server-hosts',
        `127.0.0.1:${port}`,
        '--storage-filesystem-folder',
        join(dir, 'data'),
        '--auth-type',
        'htpasswd',
        '--auth-htpasswd-filename',
        users,
      ],
      /Listening on/,
    );
    assert.equal(await s.exit, 0, s.log());
    assert.doesNotMatch(s.log(), /denyall|WARNING/);
    assert.match(s.log(), /No config file read/);
  });

  void it('a missing htpasswd file stops the start naming [auth] htpasswd_filename', async () => {
    const s = run(
      [
        '--config',
        '',
        '--server-hosts',
        '127.0.0.1:0',
        '--storage-filesystem-folder',
        join(dir, 'data'),
        '--auth-type',
        'htpasswd',
        '--auth-htpasswd-filename',
        '/nonexistent/users',
      ],
      /^$/,
    );
    assert.equal(await s.exit, 2);
    assert.match(s.log(), /almanac: \[auth\] htpasswd_filename = \/nonexistent\/users: no such file/);
    assert.match(s.log(), /npx almanac user add NAME/);
  });

  void it('first run on a busy port shows no password and keeps no users file; the run that listens shows it', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const env = { HOME: home, XDG_DATA_HOME: '' };
    const users = join(home, '.local/share/almanac/users');
    const busy = createServer();
    const port = await new Promise<number>((r) =>
      busy.listen(0, '127.0.0.1', () => r((busy.address() as { port: number }).port)),
    );
    const failed = run(['--server-hosts', `127.0.0.1:${port}`], /^$/, env);
    const code = await failed.exit;
    await new Promise<void>((r) => busy.close(() => r()));
    assert.equal(code, 2, failed.log());
    assert.match(failed.log(), /address already in use \(EADDRINUSE\)/);
    assert.doesNotMatch(failed.log(), /password|listening on/i);
    assert.equal(existsSync(users), false, 'the next run creates the first user again');

    const ok = run(['--server-hosts', `127.0.0.1:${port}`], /To choose otherwise/, env);
    assert.equal(await ok.exit, 0, ok.log());
    const log = ok.log();
    assert.match(log, /created the first user: \S+ with password \S+/);
    assert.ok(log.indexOf('Listening on') < log.indexOf('created the first user'), 'after listening');
    assert.ok(existsSync(users));

    const again = run(['--server-hosts', `127.0.0.1:${port}`], /To choose otherwise/, env);
    assert.equal(await again.exit, 0, again.log());
    assert.doesNotMatch(again.log(), /with password/);
    assert.match(again.log(), /a forgotten password: npx almanac user passwd \S+/);
  });
});
