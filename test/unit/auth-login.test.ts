// The login pipeline: Basic decoding, normalisation options, validation, cache, delays, identity headers.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseBasic } from '../../src/auth/basic.js';
import { createAuth, type AuthTestOptions } from '../../src/auth/create.js';
import { FailureDelay } from '../../src/auth/delay.js';
import { memoryLogger } from '../helpers/logger.js';
import { testConfig, type ConfigOverrides } from '../helpers/config.js';
import type { AuthOutcome, AuthRequest } from '../../src/auth/types.js';
import { invalidUserReason, normaliseLogin } from '../../src/auth/username.js';

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function request(authorization?: string, extra: Partial<AuthRequest> = {}): AuthRequest {
  return { authorization, headers: {}, clientAddress: '192.0.2.1', identityHeadersTrusted: false, ...extra };
}

let dir = '';
let users = '';
let pluginPath = '';
interface PluginState {
  calls: number;
}
const state = globalThis as unknown as { almanacAuthTestPlugin: PluginState };
state.almanacAuthTestPlugin = { calls: 0 };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'almanac-auth-'));
  users = join(dir, 'users');
  await writeFile(users, 'alice:alicepw\nbob:bobpw\nÉlodie:pw€\n');
  pluginPath = join(dir, 'plugin.mjs');
  await writeFile(
    pluginPath,
    `export function createAuth() {
       const s = globalThis.almanacAuthTestPlugin;
       return { cacheable: true, login(user, password) { s.calls++; return password === 'right' ? (user === 'renamed' ? 'other' : true) : false; } };
     }\n`,
  );
});
after(() => rm(dir, { recursive: true, force: true }));

async function make(overrides: ConfigOverrides, test: AuthTestOptions = {}) {
  const { log, lines } = memoryLogger();
  const config = testConfig({
    ...overrides,
    auth: { type: 'htpasswd', htpasswd_filename: users, delay: 1, ...overrides.auth },
  });
  return { auth: await createAuth(config, log, { random: () => 0.5, ...test }), lines };
}

function kind(o: AuthOutcome): string {
  return o.kind === 'user' ? `user:${o.user}` : o.kind;
}

describe('Basic header', () => {
  it('decodes UTF-8 credentials and splits at the first colon', () => {
    assert.deepEqual(parseBasic(basic('Élodie', 'p:w€')), {
      kind: 'credentials',
      login: 'Élodie',
      password: 'p:w€',
    });
  });
  it('other schemes are no credentials; broken Basic is malformed', () => {
    assert.deepEqual(parseBasic('Bearer abc'), { kind: 'none' });
    assert.deepEqual(parseBasic(undefined), { kind: 'none' });
    assert.deepEqual(parseBasic('Basic !!!'), { kind: 'malformed' });
    assert.deepEqual(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`), { kind: 'malformed' });
  });
  it('falls back to ISO-8859-1 for bytes that are not UTF-8', () => {
    const token = Buffer.from('j\xf6rg:pw', 'latin1').toString('base64');
    assert.deepEqual(parseBasic(`Basic ${token}`), { kind: 'credentials', login: 'jörg', password: 'pw' });
  });
});

describe('user names', () => {
  const opts = {
    lc_username: false,
    uc_username: false,
    urldecode_username: false,
    strip_domain: false,
    policy: 'minimal',
  };
  it('normalises in Radicale order: case, urldecode, strip_domain', () => {
    assert.equal(
      normaliseLogin('Alice%40Example.org', {
        ...opts,
        lc_username: true,
        urldecode_username: true,
        strip_domain: true,
      }),
      'alice',
    );
    assert.equal(normaliseLogin('alice', { ...opts, uc_username: true }), 'ALICE');
    assert.equal(normaliseLogin('a%zz', { ...opts, urldecode_username: true }), undefined);
  });
  it('rejects names that are not safe path segments (3.8 rules)', () => {
    for (const bad of ['a/b', '.', '..', 'a\u0001b', 'a:b', '@a', 'a@', 'a@b@c', '']) {
      assert.notEqual(invalidUserReason(bad, 'none'), undefined, bad);
    }
    for (const good of ['alice', 'a.b', 'alice@example.org', '...', 'Élodie'])
      assert.equal(invalidUserReason(good, 'minimal'), undefined, good);
  });
  it('applies the validate_user_value policies', () => {
    assert.notEqual(invalidUserReason('a*b', 'minimal'), undefined);
    assert.equal(invalidUserReason('a*b', 'none'), undefined);
    assert.equal(invalidUserReason('Élodie', 'unicode-letter'), undefined);
    assert.notEqual(invalidUserReason('a!b', 'unicode-letter'), undefined);
    assert.equal(invalidUserReason('Élodie', 'no-unicode'), undefined);
    assert.notEqual(invalidUserReason('Ελένη', 'no-unicode'), undefined);
    assert.equal(invalidUserReason('a.b-c_d@e', 'strict'), undefined);
    assert.notEqual(invalidUserReason('Élodie', 'strict'), undefined);
  });
});

describe('createAuth pipeline', () => {
  it('htpasswd: right password logs in, wrong one fails with a delay, no header is anonymous', async () => {
    const { auth, lines } = await make({});
    assert.equal(auth.style, 'basic');
    assert.equal(kind(await auth.authenticate(request(basic('alice', 'alicepw')))), 'user:alice');
    assert.equal(kind(await auth.authenticate(request(basic('Élodie', 'pw€')))), 'user:Élodie');
    const failed = await auth.authenticate(request(basic('alice', 'S3cr3tGuess')));
    assert.equal(failed.kind, 'failed');
    assert.ok(
      failed.kind === 'failed' && failed.delayMs >= 1000,
      'delay × U(0.5,1.5) with random 0.5 is 1 s',
    );
    assert.equal(kind(await auth.authenticate(request())), 'anonymous');
    assert.equal(kind(await auth.authenticate(request(basic('', 'x')))), 'anonymous');
    assert.equal(kind(await auth.authenticate(request('Basic ###'))), 'failed');
    assert.ok(lines.some((l) => l.includes('Failed login attempt from 192.0.2.1')));
    assert.ok(
      !lines.some((l) => l.includes('alicepw') || l.includes('S3cr3tGuess')),
      'passwords are never logged',
    );
    assert.equal(auth.deniedDelayMs(), 1000);
  });

  it('lc_username + strip_domain + urldecode_username before the backend', async () => {
    const { auth } = await make({
      auth: { lc_username: true, strip_domain: true, urldecode_username: true },
    });
    assert.equal(
      kind(await auth.authenticate(request(basic('ALICE%40example.org', 'alicepw')))),
      'user:alice',
    );
  });

  it('lc_username and uc_username together are a start-up error', async () => {
    await assert.rejects(make({ auth: { lc_username: true, uc_username: true } }), /mutually exclusive/);
  });

  it('invalid names fail without reaching the backend', async () => {
    const { auth } = await make({ auth: { type: 'none' } });
    for (const bad of ['../etc', 'a/b', '@x', 'a@b@c']) {
      assert.equal(kind(await auth.authenticate(request(basic(bad, 'x')))), 'failed', bad);
    }
    assert.equal(kind(await auth.authenticate(request(basic('x*', 'x')))), 'failed');
  });

  it('remote_ip_source = X-Remote-Addr hands the backend the address a trusted proxy names', async () => {
    const seen: string[] = [];
    (globalThis as unknown as { almanacAddressPlugin: string[] }).almanacAddressPlugin = seen;
    const path = join(dir, 'address-plugin.mjs');
    await writeFile(
      path,
      `export function createAuth() {
         return { login(user, password, ctx) { globalThis.almanacAddressPlugin.push(ctx.clientAddress); return true; } };
       }\n`,
    );
    const headers = { 'x-remote-addr': '198.51.100.7' };
    const login = (trusted: boolean) =>
      request(basic('alice', 'x'), { headers, identityHeadersTrusted: trusted });
    const byHeader = (await make({ auth: { type: path, remote_ip_source: 'X-Remote-Addr' } })).auth;
    assert.equal(kind(await byHeader.authenticate(login(true))), 'user:alice');
    // From a peer that is not a trusted proxy the header is not believed.
    assert.equal(kind(await byHeader.authenticate(login(false))), 'user:alice');
    const byPeer = (await make({ auth: { type: path } })).auth;
    assert.equal(kind(await byPeer.authenticate(login(true))), 'user:alice');
    assert.deepEqual(seen, ['198.51.100.7', '192.0.2.1', '192.0.2.1']);
  });

  it('type none: anyone with any password; denyall: nobody', async () => {
    const none = (await make({ auth: { type: 'none' } })).auth;
    assert.equal(kind(await none.authenticate(request(basic('zoe', '')))), 'user:zoe');
    const { auth: deny, lines } = await make({ auth: { type: 'denyall' } });
    assert.equal(kind(await deny.authenticate(request(basic('alice', 'alicepw')))), 'failed');
    assert.equal(kind(await deny.authenticate(request())), 'anonymous');
    // The log says why: the configuration, not the password alice typed.
    const failed = lines.filter((l) => l.includes('Failed login attempt'));
    assert.equal(failed.length, 1, failed.join('\n'));
    assert.match(failed[0] ?? '', /\[auth\] type = denyall refuses every login/);
    assert.doesNotMatch(failed[0] ?? '', /wrong user name or password/);
  });

  it('identity headers are believed only from trusted peers; Basic is ignored for them', async () => {
    for (const [type, header] of [
      ['http_x_remote_user', 'x-remote-user'],
      ['http_remote_user', 'remote-user'],
      ['remote_user', 'remote-user'],
    ] as const) {
      const { auth } = await make({ auth: { type, lc_username: true } });
      assert.equal(auth.style, 'external');
      const trusted = await auth.authenticate(
        request(undefined, { headers: { [header]: 'Alice' }, identityHeadersTrusted: true }),
      );
      assert.equal(kind(trusted), 'user:alice', type);
      const untrusted = await auth.authenticate(request(undefined, { headers: { [header]: 'alice' } }));
      assert.equal(untrusted.kind, 'forbidden', type);
      assert.equal(kind(await auth.authenticate(request(basic('alice', 'x')))), 'anonymous', type);
      const bad = await auth.authenticate(
        request(undefined, { headers: { [header]: '../x' }, identityHeadersTrusted: true }),
      );
      assert.equal(bad.kind, 'failed', type);
    }
  });

  it('a plugin module gets the whole pipeline, incl. a renamed user', async () => {
    state.almanacAuthTestPlugin.calls = 0;
    const { auth } = await make({ auth: { type: pluginPath } });
    assert.equal(kind(await auth.authenticate(request(basic('alice', 'right')))), 'user:alice');
    assert.equal(kind(await auth.authenticate(request(basic('renamed', 'right')))), 'user:other');
    assert.equal(kind(await auth.authenticate(request(basic('alice', 'bad')))), 'failed');
    assert.equal(state.almanacAuthTestPlugin.calls, 3);
    await assert.rejects(make({ auth: { type: join(dir, 'missing.mjs') } }), /cannot load the plugin module/);
  });

  it('cache_logins: successes and failures are cached for their expiry, keyed by password', async () => {
    state.almanacAuthTestPlugin.calls = 0;
    let clock = 1_000_000;
    const { auth } = await make(
      {
        auth: {
          type: pluginPath,
          cache_logins: true,
          cache_successful_logins_expiry: 15,
          cache_failed_logins_expiry: 90,
        },
      },
      { now: () => clock },
    );
    const login = async (pw: string) => kind(await auth.authenticate(request(basic('alice', pw))));
    assert.equal(await login('right'), 'user:alice');
    assert.equal(await login('right'), 'user:alice');
    assert.equal(state.almanacAuthTestPlugin.calls, 1, 'second success from the cache');
    assert.equal(await login('bad'), 'failed');
    assert.equal(await login('bad'), 'failed');
    assert.equal(state.almanacAuthTestPlugin.calls, 2, 'second failure from the cache');
    clock += 16_000;
    assert.equal(await login('right'), 'user:alice');
    assert.equal(state.almanacAuthTestPlugin.calls, 3, 'success expired after 15 s');
    assert.equal(await login('bad'), 'failed');
    assert.equal(state.almanacAuthTestPlugin.calls, 3, 'failure still cached at 16 s');
    clock += 75_000;
    assert.equal(await login('bad'), 'failed');
    assert.equal(state.almanacAuthTestPlugin.calls, 4, 'failure expired after 90 s');
  });

  it('without cache_logins every login reaches the backend', async () => {
    state.almanacAuthTestPlugin.calls = 0;
    const { auth } = await make({ auth: { type: pluginPath } });
    await auth.authenticate(request(basic('alice', 'right')));
    await auth.authenticate(request(basic('alice', 'right')));
    assert.equal(state.almanacAuthTestPlugin.calls, 2);
  });

  it('groups from an htgroup file come with the outcome', async () => {
    const groupsFile = join(dir, 'groups');
    await writeFile(groupsFile, '# groups\nstaff: alice bob\nadmins: alice\nstaff: carol\n');
    const { auth } = await make({ group: { type: 'htgroup', htgroup_filename: groupsFile } });
    const out = await auth.authenticate(request(basic('alice', 'alicepw')));
    assert.ok(out.kind === 'user');
    assert.deepEqual([...out.groups].sort(), ['admins', 'staff']);
    const bob = await auth.authenticate(request(basic('bob', 'bobpw')));
    assert.ok(bob.kind === 'user');
    assert.deepEqual([...bob.groups], ['staff']);
  });

  it('reads the htgroup file in [encoding] stock, as Radicale does', async () => {
    const groupsFile = join(dir, 'groups-latin1');
    await writeFile(groupsFile, Buffer.from('équipe: élodie alice\n', 'latin1'));
    const { auth } = await make({
      auth: { type: 'none' },
      group: { type: 'htgroup', htgroup_filename: groupsFile },
      encoding: { stock: 'iso-8859-1' },
    });
    const out = await auth.authenticate(request(basic('élodie', 'x')));
    assert.ok(out.kind === 'user');
    assert.deepEqual([...out.groups], ['équipe']);
  });
});

describe('failure delay', () => {
  it('is delay × U(0.5, 1.5) plus padding up to the slowest failure seen', () => {
    const d = new FailureDelay(1, () => 0);
    assert.equal(d.afterFailure(300), 500);
    assert.equal(d.afterFailure(0), 800, 'a fast failure is padded to the 300 ms one');
    assert.equal(d.afterFailure(100), 700);
    assert.equal(new FailureDelay(2, () => 1).randomDelayMs(), 3000);
    assert.equal(new FailureDelay(0).afterFailure(0), 0);
  });
});
