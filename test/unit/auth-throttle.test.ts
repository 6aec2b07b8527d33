// Per-address throttling of failed logins, with a fake clock.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAuth } from '../../src/auth/create.js';
import { memoryLogger } from '../helpers/logger.js';
import { testConfig } from '../helpers/config.js';
import { DEFAULT_THROTTLE, LoginThrottle } from '../../src/auth/throttle.js';

describe('LoginThrottle', () => {
  it('blocks a client guessing one user after the threshold, exponentially, capped', () => {
    let now = 0;
    const t = new LoginThrottle({ threshold: 3, now: () => now, maxBlockMs: 10_000 });
    t.recordFailure('10.0.0.1', 'alice');
    t.recordFailure('10.0.0.1', 'alice');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 0);
    t.recordFailure('10.0.0.1', 'alice');
    assert.deepEqual(t.check('10.0.0.1', 'alice'), { retryAfter: 2, scope: 'client and user' });
    assert.equal(t.retryAfter('10.0.0.2', 'alice'), 0, 'other clients are not affected');
    assert.equal(t.retryAfter('10.0.0.1', 'bob'), 0, 'nor other users from this client');
    now += 2000;
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 0);
    t.recordFailure('10.0.0.1', 'alice');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 4);
    now += 4000;
    t.recordFailure('10.0.0.1', 'alice');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 8);
    now += 8000;
    t.recordFailure('10.0.0.1', 'alice');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 10, 'capped at maxBlockMs');
  });

  it("a success clears only that user's count from that client; a quiet period forgets", () => {
    let now = 0;
    const t = new LoginThrottle({ threshold: 2, clientThreshold: 100, quietMs: 60_000, now: () => now });
    t.recordFailure('10.0.0.1', 'alice');
    t.recordSuccess('10.0.0.1', 'alice');
    t.recordFailure('10.0.0.1', 'alice');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 0, 'count restarted after the success');
    now += 61_000;
    t.recordFailure('10.0.0.1', 'alice');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 0, 'count restarted after the quiet time');
    t.recordFailure('10.0.0.1', 'alice');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 2);
    // Bob's success from the same client does not help alice's guesser.
    t.recordSuccess('10.0.0.1', 'bob');
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 2);
  });

  it('an attacker with a valid account of their own cannot reset the count by logging in', () => {
    const t = new LoginThrottle({ now: () => 0 });
    const victims = ['alice', 'carol', 'dave', 'erin'];
    let guesses = 0;
    while (t.retryAfter('10.0.0.9', victims[guesses % victims.length]) === 0 && guesses < 1000) {
      t.recordFailure('10.0.0.9', victims[guesses % victims.length]);
      t.recordSuccess('10.0.0.9', 'mallory');
      guesses++;
    }
    assert.equal(guesses, DEFAULT_THROTTLE.clientThreshold);
    assert.deepEqual(t.check('10.0.0.9', 'mallory'), { retryAfter: 2, scope: 'client' });
    assert.equal(t.retryAfter('10.0.0.10', 'alice'), 0, 'another client may still log in');
  });

  it("guesses at one user from many addresses are bounded, but the user's own clients are not locked out", () => {
    const t = new LoginThrottle({ now: () => 0 });
    t.recordSuccess('198.51.100.1', 'alice'); // alice's phone, earlier
    let guesses = 0;
    for (let i = 0; i < 100; i++) {
      const attacker = `203.0.113.${i}`;
      if (t.retryAfter(attacker, 'alice') > 0) continue;
      t.recordFailure(attacker, 'alice');
      guesses++;
    }
    assert.equal(guesses, DEFAULT_THROTTLE.userThreshold);
    assert.deepEqual(t.check('203.0.113.200', 'alice'), { retryAfter: 2, scope: 'user' });
    assert.equal(t.retryAfter('198.51.100.1', 'alice'), 0, "alice's known client still gets in");
    assert.equal(t.retryAfter('203.0.113.200', 'bob'), 0, 'other users are not affected');
  });

  it('counts an IPv6 /64 as one client, and IPv4-mapped addresses as IPv4', () => {
    const t = new LoginThrottle({ threshold: 3, now: () => 0 });
    for (const a of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::9'])
      t.recordFailure(a, 'alice');
    assert.equal(t.retryAfter('2001:db8:1:2:abcd::1', 'alice'), 2);
    assert.equal(t.retryAfter('2001:db8:1:3::1', 'alice'), 0, 'another /64');
    for (let i = 0; i < 3; i++) t.recordFailure('::ffff:192.0.2.1', 'bob');
    assert.equal(t.retryAfter('192.0.2.1', 'bob'), 2);
  });

  it('credentials that cannot be decoded count for the client only', () => {
    const t = new LoginThrottle({ clientThreshold: 2, now: () => 0 });
    t.recordFailure('10.0.0.1');
    t.recordFailure('10.0.0.1');
    assert.deepEqual(t.check('10.0.0.1'), { retryAfter: 2, scope: 'client' });
    assert.equal(t.retryAfter('10.0.0.1', 'alice'), 2);
    assert.equal(t.size.users, 0);
  });

  it('remembers at most maxEntries keys of each kind, dropping the least recently seen', () => {
    const t = new LoginThrottle({ threshold: 1, clientThreshold: 1, maxEntries: 100, now: () => 0 });
    t.recordFailure('10.1.0.1', 'first');
    for (let i = 0; i < 200; i++) t.recordFailure(`10.0.0.${i}`, `user${i}`);
    assert.deepEqual(t.size, { pairs: 100, clients: 100, users: 100 });
    assert.equal(t.retryAfter('10.1.0.1', 'first'), 0, 'the oldest entries were dropped');
    assert.ok(t.retryAfter('10.0.0.199', 'user199') > 0);
  });
});

describe('throttling in createAuth', () => {
  it('answers throttled without checking the password, and other addresses still log in', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'almanac-throttle-'));
    try {
      const users = join(dir, 'users');
      await writeFile(users, 'alice:pw\n');
      let now = 0;
      const { log } = memoryLogger();
      const config = testConfig({ auth: { type: 'htpasswd', htpasswd_filename: users } });
      const auth = await createAuth(config, log, { now: () => now, throttle: { threshold: 10 } });
      const header = (pw: string) => `Basic ${Buffer.from(`alice:${pw}`).toString('base64')}`;
      const req = (pw: string, clientAddress = '198.51.100.7') => ({
        authorization: header(pw),
        headers: {},
        clientAddress,
        identityHeadersTrusted: false,
      });
      for (let i = 0; i < 10; i++) assert.equal((await auth.authenticate(req('bad'))).kind, 'failed');
      const blocked = await auth.authenticate(req('pw'));
      assert.deepEqual(blocked, { kind: 'throttled', retryAfter: 2 });
      assert.equal((await auth.authenticate(req('pw', '198.51.100.8'))).kind, 'user');
      now += 2000;
      assert.equal(
        (await auth.authenticate(req('pw'))).kind,
        'user',
        'the right password works after the block',
      );
      assert.equal(
        (await auth.authenticate(req('bad'))).kind,
        'failed',
        'and the count was reset by the success',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('throttling in createAuth: one valid account does not buy unlimited guesses', () => {
  it('guesses at alice from a client that keeps logging in as bob are throttled after 10', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'almanac-throttle-'));
    try {
      const users = join(dir, 'users');
      await writeFile(users, 'alice:alicepw\nbob:bobpw\n');
      const { log } = memoryLogger();
      const config = testConfig({ auth: { type: 'htpasswd', htpasswd_filename: users } });
      const auth = await createAuth(config, log, { now: () => 0 });
      const req = (login: string) => ({
        authorization: `Basic ${Buffer.from(login).toString('base64')}`,
        headers: {},
        clientAddress: '198.51.100.7',
        identityHeadersTrusted: false,
      });
      const kinds: string[] = [];
      for (let i = 0; i < 30; i++) {
        assert.equal((await auth.authenticate(req('bob:bobpw'))).kind, 'user');
        kinds.push((await auth.authenticate(req(`alice:guess${i}`))).kind);
      }
      assert.deepEqual(kinds.slice(0, 10), Array<string>(10).fill('failed'));
      assert.deepEqual(kinds.slice(10), Array<string>(20).fill('throttled'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
