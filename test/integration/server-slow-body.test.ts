/**
 * Slow request bodies (issue 18 item 11): one user sending eight uploads a byte at a time used to hold
 * every max_connections slot, so nobody else was answered until they ended. A body now arrives without
 * holding a slot, one user reads at most half of the body permits at once, and a body that falls under
 * [server] body_min_rate after the grace period (`timeout`) is cut with 408.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac } from '../helpers/almanac.js';
import { DavClient, mkcalendar, put, vevent } from './helpers/dav-client.js';
import { RawClient, sleep } from './server-support.js';

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Starts a PUT of `event` and sends its body one byte every `everyMs` until stopped. */
async function tricklingPut(port: number, path: string, event: string, everyMs: number) {
  const client = await RawClient.open(port);
  client.write(
    `PUT ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('alice', 'alicepw')}\r\n` +
      `Content-Type: text/calendar\r\nContent-Length: ${Buffer.byteLength(event)}\r\n\r\n`,
  );
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < event.length && !client.socket.destroyed) client.write(event[sent++] ?? '');
  }, everyMs);
  return {
    client,
    stop: () => {
      clearInterval(timer);
      client.destroy();
    },
  };
}

describe('slow request bodies', () => {
  it('eight uploads trickling from one user keep no other user waiting', { timeout: 60_000 }, async () => {
    const server = await startAlmanac({ config: { server: { max_connections: '8', timeout: '30' } } });
    const c = new DavClient(server.url);
    const attackers: Awaited<ReturnType<typeof tricklingPut>>[] = [];
    try {
      assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
      assert.equal((await mkcalendar(c, '/bob/cal/', 'bob')).status, 201);
      for (let i = 0; i < 8; i++) {
        attackers.push(await tricklingPut(server.port, `/alice/cal/slow${i}.ics`, vevent(`slow${i}`), 200));
      }
      await sleep(500); // every slow PUT is in its handler, reading its body
      // Bob is answered while all eight are still sending (bounded: the test gives up after 10 s).
      const bob = (async () => {
        const p1 = await c.propfind('/bob/cal/', [], '1', 'bob');
        const p2 = await put(c, '/bob/cal/b.ics', vevent('b'), 'bob');
        return [p1.status, p2.status];
      })();
      const answered = await Promise.race([bob, sleep(10_000).then(() => 'still waiting')]);
      assert.deepEqual(answered, [207, 201]);
      for (const a of attackers) {
        assert.equal(a.client.socket.destroyed, false, 'the slow uploads were not cut to make room');
        assert.equal(a.client.received, '', 'and none of them was answered yet');
      }
      // Her own requests without a body still go through (those with one wait for her share of bodies).
      assert.equal((await c.request('GET', '/alice/cal/', { user: 'alice' })).status, 200);
    } finally {
      for (const a of attackers) a.stop();
      await server.stop();
    }
  });

  it(
    'a body under body_min_rate after the grace period is cut with 408 and nothing is stored',
    { timeout: 30_000 },
    async () => {
      const logLines: string[] = [];
      const server = await startAlmanac({
        config: { server: { timeout: '1', body_min_rate: '100' }, logging: { level: 'info' } },
        logLines,
      });
      const c = new DavClient(server.url);
      try {
        assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
        // One byte every 200 ms never leaves the socket idle for `timeout`, but stays far under 100 bytes/s.
        const slow = await tricklingPut(server.port, '/alice/cal/slow.ics', vevent('slow'), 200);
        try {
          const answer = await slow.client.waitFor(/\r\n\r\n[\s\S]*too slow/);
          assert.match(answer, /^HTTP\/1\.1 408 /);
          assert.match(answer, /\r\nConnection: close\r\n/i);
        } finally {
          slow.stop();
        }
        assert.equal((await c.request('GET', '/alice/cal/slow.ics', { user: 'alice' })).status, 404);
        assert.ok(
          logLines.some((l) => /408 response for PUT .*limitHit=body_min_rate/.test(l)),
          logLines.join('\n'),
        );
        // A body arriving at a normal pace is stored.
        assert.equal((await put(c, '/alice/cal/fast.ics', vevent('fast'))).status, 201);
      } finally {
        await server.stop();
      }
    },
  );
});
