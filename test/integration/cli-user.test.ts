/**
 * `almanac user add|passwd|remove|list` on the htpasswd file of the configuration, as an administrator
 * runs it: the password from standard input or typed on a terminal (never echoed, never printed), and
 * a running server accepting exactly the new logins over HTTP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { runCommand, type CommandResult } from '../helpers/command.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'almanac-cli-user-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command without blocking this process, where the server under test runs too. */
function almanac(args: string[], input = '', env: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  return runCommand(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ALMANAC_CONFIG: undefined, ...env },
    input,
  });
}

/**
 * Runs the command on a pseudo-terminal (Python's pty module), answering each prompt with the next
 * of `typed`; returns everything the terminal showed.
 */
async function onTerminal(
  args: string[],
  typed: string[],
): Promise<{ status: number | null; screen: string }> {
  const script = `
import os, pty, sys, json, select
argv, answers = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
screen = b''
pending = b''
while True:
    r, _, _ = select.select([fd], [], [], 30)
    if not r:
        break
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    screen += chunk
    pending += chunk
    if answers and pending.rstrip().endswith(b':'):
        pending = b''
        os.write(fd, answers.pop(0).encode() + b'\\r')
_, status = os.waitpid(pid, 0)
sys.stdout.write(screen.decode('utf-8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;
  const argv = [process.execPath, '--import', 'tsx', MAIN, ...args];
  const r = await runCommand(
    '/usr/bin/python3',
    ['-c', script, JSON.stringify(argv), JSON.stringify(typed)],
    {
      cwd: ROOT,
      env: { ALMANAC_CONFIG: undefined },
    },
  );
  return { status: r.status, screen: r.stdout + r.stderr };
}

async function status(server: RunningAlmanac, user: string, password: string): Promise<number> {
  const res = await fetch(`${server.url}/${user}/`, {
    method: 'PROPFIND',
    headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, Depth: '0' },
  });
  await res.text();
  return res.status;
}

void describe('almanac user', () => {
  const users = join(dir, 'users');
  const config = join(dir, 'config');
  let server: RunningAlmanac;

  before(async () => {
    writeFileSync(
      config,
      `[auth]\ntype = htpasswd\nhtpasswd_filename = ${users}\nhtpasswd_encryption = autodetect\n`,
    );
    writeFileSync(users, '# family accounts\r\nalice:alicepw\r\n\r\n# end\r\n');
    server = await startAlmanac({
      config: { auth: { htpasswd_filename: users, htpasswd_encryption: 'autodetect' } },
    });
  });
  after(() => server?.stop());

  void it('add reads the password from standard input, stores a bcrypt hash, and the server lets the user in', async () => {
    assert.equal(await status(server, 'carol', 'carol secret'), 401);
    const r = await almanac(['user', 'add', 'carol', '--config', config], 'carol secret\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /added carol to .*users \(bcrypt\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /carol secret/);
    const text = readFileSync(users, 'utf8');
    assert.match(text, /\r\ncarol:\$2[aby]\$10\$[./A-Za-z0-9]{53}\r\n$/);
    assert.ok(text.startsWith('# family accounts\r\nalice:alicepw\r\n\r\n# end\r\n'), 'the rest is kept');
    assert.doesNotMatch(text, /carol secret/);
    assert.equal(await status(server, 'carol', 'carol secret'), 207);
    assert.equal(await status(server, 'alice', 'alicepw'), 207);
  });

  void it('refuses to add a user twice, and names with a colon or a newline', async () => {
    const again = await almanac(['user', 'add', 'carol', '--config', config], 'other\n');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /carol already exists .*almanac user passwd carol/);
    for (const bad of ['da:ve', 'da\nve', '#dave', ' dave']) {
      const r = await almanac(['user', 'add', bad, '--config', config], 'pw\n');
      assert.equal(r.status, 2, bad);
    }
    assert.equal(readFileSync(users, 'utf8').split('\n').length, 6, 'nothing added');
  });

  void it('passwd replaces the password in place: the old one is refused, the new one accepted', async () => {
    const r = await almanac(['user', 'passwd', 'alice', '--config', config], 'new alice pw\n');
    assert.equal(r.status, 0, r.stderr);
    const text = readFileSync(users, 'utf8');
    assert.match(text, /^# family accounts\r\nalice:\$2[aby]\$10\$[^\r\n]+\r\n\r\n# end\r\ncarol:/);
    assert.equal(await status(server, 'alice', 'alicepw'), 401);
    assert.equal(await status(server, 'alice', 'new alice pw'), 207);
    const missing = await almanac(['user', 'passwd', 'nobody', '--config', config], 'x\n');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no user nobody/);
  });

  void it('list prints the names and schemes, never a digest', async () => {
    const r = await almanac(['user', 'list', '--config', config]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['alice  bcrypt', 'carol  bcrypt']);
  });

  void it('asks twice on a terminal without echoing what is typed', async () => {
    const typed = await onTerminal(
      ['user', 'add', 'dave', '--config', config],
      ['dave typed pw', 'dave typed pw'],
    );
    assert.equal(typed.status, 0, typed.screen);
    assert.match(typed.screen, /New password for dave: /);
    assert.match(typed.screen, /Retype the new password: /);
    assert.doesNotMatch(typed.screen, /dave typed pw/, 'the password is not echoed');
    assert.doesNotMatch(typed.screen, /\*\*\*/, 'not even as stars');
    assert.equal(await status(server, 'dave', 'dave typed pw'), 207);

    const mismatch = await onTerminal(['user', 'passwd', 'dave', '--config', config], ['one', 'two']);
    assert.equal(mismatch.status, 1, mismatch.screen);
    assert.match(mismatch.screen, /do not match; nothing was changed/);
    assert.equal(await status(server, 'dave', 'dave typed pw'), 207);
  });

  void it('remove takes the user out: the server refuses the login', async () => {
    const r = await almanac(['user', 'remove', 'carol', '--config', config]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await status(server, 'carol', 'carol secret'), 401);
    assert.doesNotMatch(readFileSync(users, 'utf8'), /carol/);
    assert.equal((await almanac(['user', 'remove', 'carol', '--config', config])).status, 1);
  });

  void it('refuses to run on a file it cannot parse, naming file and line, and leaves it alone', async () => {
    const broken = join(dir, 'broken-users');
    const cfg = join(dir, 'broken-config');
    writeFileSync(broken, 'alice:pw\nthis line has no colon\n');
    writeFileSync(cfg, `[auth]\ntype = htpasswd\nhtpasswd_filename = ${broken}\n`);
    for (const args of [['add', 'bob'], ['passwd', 'alice'], ['remove', 'alice'], ['list']]) {
      const r = await almanac(['user', ...args, '--config', cfg], 'pw\n');
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /broken-users, line 2: expected 'user:password'/);
    }
    assert.equal(readFileSync(broken, 'utf8'), 'alice:pw\nthis line has no colon\n');
  });

  void it('writes what the configured encryption checks: md5 on request, plain only when configured', async () => {
    const md5 = await almanac(['user', 'add', 'erin', '--scheme', 'md5', '--config', config], 'erin pw\n');
    assert.equal(md5.status, 0, md5.stderr);
    assert.match(readFileSync(users, 'utf8'), /\nerin:\$apr1\$/);
    assert.equal(await status(server, 'erin', 'erin pw'), 207);

    const plainUsers = join(dir, 'plain-users');
    const plainCfg = join(dir, 'plain-config');
    writeFileSync(
      plainCfg,
      `[auth]\ntype = htpasswd\nhtpasswd_filename = ${plainUsers}\nhtpasswd_encryption = plain\n`,
    );
    const refused = await almanac(
      ['user', 'add', 'frank', '--scheme', 'bcrypt', '--config', plainCfg],
      'pw\n',
    );
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /htpasswd_encryption = plain: the server would not check a bcrypt hash/);
    const plain = await almanac(['user', 'add', 'frank', '--config', plainCfg], 'frank pw\n');
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /stored as plain text/);
    assert.equal(readFileSync(plainUsers, 'utf8'), 'frank:frank pw\n');
    assert.equal(statSync(plainUsers).mode & 0o777, 0o600, 'a new file is private');
  });

  void it('says what to do when the configuration does not use an htpasswd file', async () => {
    const cfg = join(dir, 'denyall-config');
    writeFileSync(cfg, '[server]\nhosts = 127.0.0.1:5232\n');
    const r = await almanac(['user', 'add', 'bob', '--config', cfg], 'pw\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\[auth\] type = denyall \(the default\): .*type = htpasswd/);
  });

  void it('without a config file, manages the first-run users file the server then uses', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const env = { HOME: home, XDG_DATA_HOME: '' };
    const r = await almanac(['user', 'add', 'gina'], 'gina pw\n', env);
    assert.equal(r.status, 0, r.stderr);
    const file = join(home, '.local/share/almanac/users');
    assert.ok(existsSync(file));
    assert.match(readFileSync(file, 'utf8'), /^gina:\$2/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  void it('has a usage text', async () => {
    const help = await almanac(['user', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /almanac user add NAME/);
    assert.match(help.stdout, /almanac user passwd NAME/);
    const none = await almanac(['user']);
    assert.equal(none.status, 2);
  });
});
