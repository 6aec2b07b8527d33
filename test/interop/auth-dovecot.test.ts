// [auth] type = dovecot and type = imap against a real Dovecot (Debian dovecot-core + dovecot-imapd),
// started from a private config in a temp folder (its own base_dir, passwd-file, free loopback ports).
// The master process must start as root (it drops privileges for its children), so outside root the
// test is skipped with a message; the protocol details are also covered by fakes in
// test/unit/auth-remote.test.ts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { findExecutable } from '../../src/auth/backends/pam.js';
import { createAuth } from '../../src/auth/create.js';
import { memoryLogger } from '../helpers/logger.js';
import { testConfig, type ConfigOverrides } from '../helpers/config.js';
import type { Auth } from '../../src/auth/types.js';
import { freePort } from '../helpers/net.js';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

let dir = '';
let dovecot: ChildProcess | undefined;
let skipReason: string | undefined;
let imapPort = 0;
let authPort = 0;

before(async () => {
  const bin = await findExecutable('dovecot');
  if (bin === undefined || (await findExecutable('imap', ['/usr/lib/dovecot'])) === undefined) {
    skipReason = 'dovecot not installed: apt-get install dovecot-core dovecot-imapd';
    return;
  }
  if (process.getuid?.() !== 0) {
    skipReason = 'dovecot needs to start as root';
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'almanac-dovecot-'));
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'mail'), { mode: 0o777 });
  await chmod(join(dir, 'mail'), 0o777);
  await writeFile(join(dir, 'users'), 'alice:{PLAIN}alicepw\nbob@example.org:{PLAIN}pässwörd€\n');
  imapPort = await freePort();
  authPort = await freePort();
  const conf = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:${dir}/mail/%u
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service auth {
  unix_listener auth-client {
    path = ${dir}/auth-client
    mode = 0666
  }
  inet_listener {
    address = 127.0.0.1
    port = ${authPort}
  }
}
`;
  await writeFile(join(dir, 'dovecot.conf'), conf);
  dovecot = spawn(bin, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  for (let i = 0; !((await canConnect(imapPort)) && (await canConnect(authPort))); i++) {
    if (i > 100)
      throw new Error(`dovecot did not start: ${await readFile(join(dir, 'log'), 'utf8').catch(() => '')}`);
    await sleep(100);
  }
});

after(async () => {
  dovecot?.kill();
  await sleep(300);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function make(auth: ConfigOverrides['auth']): Promise<Auth> {
  return createAuth(testConfig({ auth: { delay: 0, ...auth } }), memoryLogger().log, {
    throttle: { threshold: 1000, clientThreshold: 1000, userThreshold: 1000 },
  });
}

async function kind(auth: Auth, user: string, password: string): Promise<string> {
  const out = await auth.authenticate({
    authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`,
    headers: {},
    clientAddress: '127.0.0.1',
    identityHeadersTrusted: false,
  });
  return out.kind === 'user' ? `user:${out.user}` : out.kind;
}

describe('real dovecot', () => {
  it('dovecot auth protocol over the unix socket and TCP', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const unix = await make({ type: 'dovecot', dovecot_socket: join(dir, 'auth-client') });
    assert.equal(await kind(unix, 'alice', 'alicepw'), 'user:alice');
    assert.equal(await kind(unix, 'bob@example.org', 'pässwörd€'), 'user:bob@example.org');
    assert.equal(await kind(unix, 'alice', 'wrong'), 'failed');
    const tcp = await make({
      type: 'dovecot',
      dovecot_connection_type: 'AF_INET',
      dovecot_host: '127.0.0.1',
      dovecot_port: authPort,
    });
    assert.equal(await kind(tcp, 'alice', 'alicepw'), 'user:alice');
    assert.equal(await kind(tcp, 'nobody', 'x'), 'failed');
  });

  it('imap login (AUTHENTICATE PLAIN) with imap_append_domain', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const imap = await make({ type: 'imap', imap_host: `127.0.0.1:${imapPort}`, imap_security: 'none' });
    assert.equal(await kind(imap, 'alice', 'alicepw'), 'user:alice');
    assert.equal(await kind(imap, 'alice', 'wrong'), 'failed');
    const withDomain = await make({
      type: 'imap',
      imap_host: `127.0.0.1:${imapPort}`,
      imap_security: 'none',
      imap_append_domain: 'example.org',
    });
    assert.equal(await kind(withDomain, 'bob', 'pässwörd€'), 'user:bob');
  });
});
