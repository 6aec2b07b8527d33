/**
 * The README's commands, run as written: `npx almanac …` from the repository folder, the `almanac user`
 * examples, and the HTTPS section (its openssl commands, config snippets and curl checks against a
 * server started with that config). Paths under /etc/almanac/ go to a temporary folder, the port
 * 5232 to a free one, and curl reaches dav.example.org on 127.0.0.1; nothing else is changed.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCommand, type CommandResult } from '../helpers/command.js';
import { freePort } from '../helpers/net.js';

const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'almanac-readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Block {
  readonly lang: string;
  readonly text: string;
}

/** The fenced code blocks of the README section under `heading` (up to the next heading as deep), in order. */
function blocks(heading: string): Block[] {
  const depth = /^#+/.exec(heading)?.[0].length ?? 2;
  const out: Block[] = [];
  let inSection = false;
  let fence: { lang: string; lines: string[] } | undefined;
  for (const line of README.split('\n')) {
    if (fence !== undefined) {
      if (line === '```') {
        if (inSection) out.push({ lang: fence.lang, text: fence.lines.map((l) => `${l}\n`).join('') });
        fence = undefined;
      } else fence.lines.push(line);
      continue;
    }
    const open = /^```(\w*)$/.exec(line);
    if (open) fence = { lang: open[1] ?? '', lines: [] };
    const h = /^(#+) /.exec(line);
    if (h?.[1] !== undefined && h[1].length <= depth) inSection = line === heading;
  }
  assert.ok(out.length > 0, `README has code under ${heading}`);
  return out;
}

/** Runs shell text in the repository folder (where the README's `npx almanac` is meant to run). */
function sh(script: string, env: NodeJS.ProcessEnv = {}, input = ''): Promise<CommandResult> {
  return runCommand('sh', ['-e', '-c', script], {
    cwd: ROOT,
    env: { HOME: join(dir, 'home'), ALMANAC_CONFIG: undefined, npm_config_update_notifier: 'false', ...env },
    input,
  });
}

/** The README's paths and port, moved into the test's folder and a free port. */
function localize(text: string, etc: string, port: number): string {
  return text
    .replaceAll('/etc/almanac/', `${etc}/`)
    .replace(/^hosts = .*$/m, `hosts = 127.0.0.1:${port}`)
    .replaceAll(':5232', `:${port}`)
    .replaceAll('curl ', `curl --resolve dav.example.org:${port}:127.0.0.1 `);
}

/** Each command line of a sh block (continuations joined, comments dropped). */
function commands(block: Block): string[] {
  return block.text
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

void describe('README', () => {
  void it('npx almanac works in the repository folder after npm install, as the first-run section says', async () => {
    const [first] = blocks('## First run').filter((b) => b.lang === 'sh');
    assert.ok(first);
    const help = commands(first).find((c) => c.startsWith('npx almanac --help'));
    assert.equal(help, 'npx almanac --help');
    const r = await sh(help);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage: almanac \[OPTIONS\]/);
    assert.match(r.stdout, /almanac user add\|passwd\|remove\|list/);
  });

  void it('the user commands of "Users" work on the configured htpasswd file', async () => {
    const etc = join(dir, 'users-etc');
    rmSync(etc, { recursive: true, force: true });
    await sh(`mkdir -p ${etc}`);
    writeFileSync(
      join(etc, 'config'),
      `[auth]\ntype = htpasswd\nhtpasswd_filename = ${etc}/users\nhtpasswd_encryption = autodetect\n`,
    );
    const [block] = blocks('### Users').filter((b) => b.lang === 'sh');
    assert.ok(block);
    const lines = commands(block).map((c) => localize(c, etc, 5232));
    assert.equal(lines.length, 5);
    const outputs: string[] = [];
    for (const line of lines) {
      // The first line asks on a terminal; without one it reads the password from standard input.
      const r = await sh(line, { PASSWORD: 'bob pw' }, 'alice pw\nalice pw\n');
      assert.equal(r.status, 0, `${line}: ${r.stderr}`);
      outputs.push(r.stdout);
    }
    assert.match(outputs[0] ?? '', /added alice to .*users \(bcrypt\)/);
    assert.match(outputs[1] ?? '', /added bob to/);
    assert.match(outputs[2] ?? '', /changed the password of alice/);
    assert.match(outputs[3] ?? '', /removed bob from/);
    assert.equal(outputs[4], 'alice  bcrypt\n');
    assert.doesNotMatch(outputs.join(''), /alice pw|bob pw/);
  });

  void it('the HTTPS section: its certificates and config serve TLS, and certificate_authority requires a client certificate', async () => {
    const [certs, config, check, deviceCerts, caConfig, deviceCheck, ...more] =
      blocks('## HTTPS without a proxy');
    assert.deepEqual(
      [certs, config, check, deviceCerts, caConfig, deviceCheck].map((b) => b?.lang),
      ['sh', 'ini', 'sh', 'sh', 'ini', 'sh'],
    );
    assert.equal(more.length, 0);
    if (!certs || !config || !check || !deviceCerts || !caConfig || !deviceCheck) return;
    const etc = join(dir, 'tls-etc');
    const port = await freePort();
    const made = await sh(localize(certs.text, etc, port));
    assert.equal(made.status, 0, made.stderr);
    const server = localize(config.text, etc, port);
    const storage = `[storage]\nfilesystem_folder = ${etc}/collections\n`;
    const base = `${server}${storage}`;

    const plain = await serve(base, async () => {
      const r = await sh(localize(check.text, etc, port));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '302\n');
      assert.match(check.text, /^# 302 /m, 'the README says what it prints');
    });
    assert.match(plain, /Listening on 127\.0\.0\.1:\d+ with TLS/);

    const made2 = await sh(localize(deviceCerts.text, etc, port));
    assert.equal(made2.status, 0, made2.stderr);
    // The second snippet adds its line to the [server] section of the first.
    const caLines = localize(caConfig.text, etc, port).replace(/^\[server\]\n/, '');
    assert.match(caLines, /^certificate_authority = .*devices-ca\.pem\n$/);
    await serve(`${server}${caLines}${storage}`, async () => {
      const script = `cd ${etc}/tls\n${localize(deviceCheck.text, etc, port)}`;
      const r = await sh(script);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '302\n');
      const without = await sh(`cd ${etc}/tls\n${localize(check.text, etc, port)}`);
      assert.equal(without.status, 56, `without a client certificate: ${without.stdout}${without.stderr}`);
      assert.match(deviceCheck.text, /without --cert the handshake fails \(curl exits with status 56\)/);
    });
  });
});

/** Starts `almanac --config <text>` (the README's config), runs `body` while it serves, stops it. */
async function serve(configText: string, body: () => Promise<void>): Promise<string> {
  const file = join(dir, `config-${Date.now()}`);
  writeFileSync(file, configText);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), '--config', file],
    {
      cwd: ROOT,
      env: { ...process.env, ALMANAC_CONFIG: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    for (let i = 0; i < 150 && !/Listening on/.test(log); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(log, /Listening on/, log);
    await body();
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, log);
  return log;
}
