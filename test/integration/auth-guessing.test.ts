/**
 * Password guessing: 50 wrong passwords from one client address are each delayed and later refused
 * with 429, while a second user on another address is served at full speed, even with only two
 * max_connections slots (the delayed answers do not hold them).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startAlmanac } from '../helpers/almanac.js';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  ms: number;
}

function propfind(
  port: number,
  from: string,
  user: string,
  password: string,
  path: string,
  forwardedFor?: string,
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        method: 'PROPFIND',
        path,
        agent: false,
        headers: {
          Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
          Depth: '0',
          ...(forwardedFor === undefined ? {} : { 'X-Forwarded-For': forwardedFor }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const ra = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: ra, ms: performance.now() - started });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function bobRun(port: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < 100; i++) {
    const a = await propfind(port, '127.0.0.4', 'bob', 'bobpw', '/bob/');
    assert.equal(a.status, 207);
  }
  return performance.now() - started;
}

describe('password guessing', () => {
  it('delays and then refuses an attacking address while another user is served at full speed', async () => {
    const server = await startAlmanac({
      config: { auth: { delay: '0.3' }, server: { max_connections: '2' } },
    });
    try {
      await propfind(server.port, '127.0.0.4', 'bob', 'bobpw', '/bob/'); // creates the principal
      const quiet = await bobRun(server.port);

      // The attack: 50 wrong passwords, 10 at a time, from 127.0.0.3.
      const answers: Answer[] = [];
      const attack = (async () => {
        for (let round = 0; round < 5; round++) {
          const batch = Array.from({ length: 10 }, (_, i) =>
            propfind(server.port, '127.0.0.3', 'alice', `guess-${round}-${i}`, '/alice/'),
          );
          answers.push(...(await Promise.all(batch)));
        }
      })();
      const during = await bobRun(server.port);
      await attack;

      const refused = answers.filter((a) => a.status === 401);
      const throttled = answers.filter((a) => a.status === 429);
      assert.equal(refused.length + throttled.length, 50, 'every guess is refused');
      assert.ok(refused.length >= 5, 'the first guesses get 401');
      assert.ok(throttled.length >= 10, `later guesses get 429 (got ${throttled.length})`);
      // Each failed login is held back (delay 0.3 s × 0.5..1.5).
      for (const a of refused) assert.ok(a.ms >= 140, `a 401 came after only ${a.ms.toFixed(0)} ms`);
      for (const a of throttled) assert.match(a.retryAfter ?? '', /^\d+$/);
      // Bob, on another address, is not slowed down by the attack (ratio against the quiet run).
      assert.ok(
        during / quiet < 3,
        `bob took ${during.toFixed(0)} ms during the attack vs ${quiet.toFixed(0)} ms quiet`,
      );
    } finally {
      await server.stop();
    }
  });
});

describe('the log of one wrong password', () => {
  it('names the failed login, and no limit, since none was hit', async () => {
    const logLines: string[] = [];
    const server = await startAlmanac({ config: { logging: { level: 'info' } }, logLines });
    try {
      const a = await propfind(server.port, '127.0.0.3', 'alice', 'wrong', '/alice/');
      assert.equal(a.status, 401);
      assert.ok(
        logLines.some((l) =>
          /Failed login attempt from 127\.0\.0\.3: "alice" \(wrong user name or password\)/.test(l),
        ),
        logLines.join('\n'),
      );
      const end = logLines.find((l) => /401 response for PROPFIND/.test(l));
      assert.ok(end, logLines.join('\n'));
      assert.doesNotMatch(end, /limitHit/);
    } finally {
      await server.stop();
    }
  });
});

describe('guessing that a successful login used to excuse', () => {
  it('an attacker logging in with their own account between guesses is throttled after 10 guesses', async () => {
    const server = await startAlmanac();
    try {
      const statuses: number[] = [];
      // 10 connections at a time, each round: bob (the attacker's own account) logs in, then guesses alice.
      for (let round = 0; round < 4; round++) {
        const batch = Array.from({ length: 10 }, async (_, i) => {
          assert.equal((await propfind(server.port, '127.0.0.3', 'bob', 'bobpw', '/bob/')).status, 207);
          return (await propfind(server.port, '127.0.0.3', 'alice', `guess-${round}-${i}`, '/alice/')).status;
        });
        statuses.push(...(await Promise.all(batch)));
      }
      assert.equal(statuses.filter((s) => s === 401).length, 10, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 429).length, 30, statuses.join(','));
      // alice herself, from another address, is not affected.
      assert.equal((await propfind(server.port, '127.0.0.4', 'alice', 'alicepw', '/alice/')).status, 207);
    } finally {
      await server.stop();
    }
  });

  it('guesses at one user from many addresses are bounded; her own address still logs in', async () => {
    // The test client is 127.0.0.1, a trusted proxy by default: X-Forwarded-For names each "client".
    const server = await startAlmanac();
    try {
      const own = await propfind(server.port, '127.0.0.1', 'alice', 'alicepw', '/alice/', '198.51.100.1');
      assert.equal(own.status, 207);
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const a = await propfind(server.port, '127.0.0.1', 'alice', `guess${i}`, '/alice/', `203.0.113.${i}`);
        statuses.push(a.status);
      }
      assert.deepEqual(statuses.slice(0, 30), Array<number>(30).fill(401), statuses.join(','));
      assert.deepEqual(statuses.slice(30), Array<number>(10).fill(429), statuses.join(','));
      const again = await propfind(server.port, '127.0.0.1', 'alice', 'alicepw', '/alice/', '198.51.100.1');
      assert.equal(again.status, 207);
      const bob = await propfind(server.port, '127.0.0.1', 'bob', 'bobpw', '/bob/', '203.0.113.99');
      assert.equal(bob.status, 207, 'other users are not affected');
    } finally {
      await server.stop();
    }
  });

  it('addresses of one IPv6 /64 count as one client', async () => {
    const server = await startAlmanac();
    try {
      const statuses: number[] = [];
      for (let i = 1; i <= 11; i++) {
        const from = `2001:db8:0:1::${i.toString(16)}`;
        statuses.push((await propfind(server.port, '127.0.0.1', 'alice', `g${i}`, '/alice/', from)).status);
      }
      assert.deepEqual(statuses, [...Array<number>(10).fill(401), 429]);
      const other = await propfind(
        server.port,
        '127.0.0.1',
        'alice',
        'alicepw',
        '/alice/',
        '2001:db8:0:2::1',
      );
      assert.equal(other.status, 207, 'another /64 is another client');
    } finally {
      await server.stop();
    }
  });
});
