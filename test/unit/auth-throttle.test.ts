// Per-address throttling of failed logins, with a fake clock.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAuth } from '../../src/auth/create.js';
import { memoryLogger, testConfig } from '../../src/auth/testing/config.js';
import { LoginThrottle } from '../../src/auth/throttle.js';

describe('LoginThrottle', () => {
  it('blocks after the threshold with exponentially growing Retry-After, capped', () => {
    let now = 0;
    const t = new LoginThrottle({ threshold: 3, now: () => now, maxBlockMs: 10_000 });
    t.recordFailure('a');
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 0);
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 2);
    assert.equal(t.retryAfter('b'), 0, 'other addresses are not affected');
    now += 2000;
    assert.equal(t.retryAfter('a'), 0);
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 4);
    now += 4000;
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 8);
    now += 8000;
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 10, 'capped at maxBlockMs');
  });

  it('a success or a quiet period forgets the address', () => {
    let now = 0;
    const t = new LoginThrottle({ threshold: 2, quietMs: 60_000, now: () => now });
    t.recordFailure('a');
    t.recordSuccess('a');
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 0, 'count restarted after the success');
    now += 61_000;
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 0, 'count restarted after the quiet time');
    t.recordFailure('a');
    assert.equal(t.retryAfter('a'), 2);
  });

  it('remembers at most maxEntries addresses, dropping the least recently seen', () => {
    const t = new LoginThrottle({ threshold: 1, maxEntries: 100, now: () => 0 });
    t.recordFailure('first');
    for (let i = 0; i < 200; i++) t.recordFailure(`10.0.0.${i}`);
    assert.equal(t.size, 100);
    assert.equal(t.retryAfter('first'), 0, 'the oldest address was dropped');
    assert.ok(t.retryAfter('10.0.0.199') > 0);
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
