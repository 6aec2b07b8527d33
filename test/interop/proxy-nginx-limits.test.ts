/**
 * The limits the seed reminds of, enforced by Almanac behind nginx: an upload larger than
 * max_content_length gets 413 (nginx itself would allow it), and an upload that stalls is cut after
 * `timeout` (nginx streams the body with proxy_request_buffering off, so the stall reaches Almanac). Nothing
 * is stored either way, and the log says which limit was hit.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startAlmanac } from '../helpers/almanac.js';
import { httpRequest, nginxDir, requireTools, startNginx, type RunningNginx } from './helpers/nginx.js';

const ALICE = ['alice', 'alicepw'] as const;

function location(almanacPort: number, extra = ''): string {
  return `
    location /radicale/ {
        proxy_pass        http://127.0.0.1:${almanacPort}/;
        proxy_set_header  X-Script-Name /radicale;
        proxy_set_header  X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_pass_header Authorization;
        # nginx's own limits are generous, so Almanac's are the ones that bite.
        client_max_body_size 10m;
        client_body_timeout  60s;
        proxy_read_timeout   60s;
        proxy_send_timeout   60s;
        ${extra}
    }`;
}

function eventOfSize(bytes: number): string {
  const head = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:big\r\n';
  const tail = 'DTSTAMP:20240101T000000Z\r\nDTSTART:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
  const filler = Math.max(0, bytes - head.length - tail.length - 'DESCRIPTION:\r\n'.length);
  return `${head}DESCRIPTION:${'x'.repeat(filler)}\r\n${tail}`;
}

function storedItems(folder: string, calendar: string): string[] {
  return readdirSync(join(folder, 'collection-root', 'alice', calendar)).filter((f) => !f.startsWith('.'));
}

/** Sends headers and part of the body through nginx, then goes silent; resolves with nginx's status line. */
function stalledUpload(port: number, path: string, declared: number, sent: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
    socket.write(
      `PUT ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n` +
        `Authorization: Basic ${Buffer.from(ALICE.join(':')).toString('base64')}\r\n` +
        `Content-Type: text/calendar\r\nContent-Length: ${declared}\r\n\r\n` +
        eventOfSize(declared).slice(0, sent),
    );
  });
}

/** Almanac (logging at info) behind nginx with the documented location; both stop with the test. */
async function behindNginx(t: TestContext): Promise<{ nginx: RunningNginx; logLines: string[] }> {
  const logLines: string[] = [];
  const almanac = await startAlmanac({ config: { logging: { level: 'info' } }, logLines });
  t.after(() => almanac.stop());
  const nginx = await startNginx(nginxDir(), { locations: location(almanac.port) });
  t.after(() => nginx.stop());
  return { nginx, logLines };
}

describe('limits behind nginx', () => {
  it('answers 413 to an upload over max_content_length, stores nothing and logs the limit', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const logLines: string[] = [];
    const almanac = await startAlmanac({
      config: { server: { max_content_length: '2000' }, logging: { level: 'info' } },
      logLines,
    });
    t.after(() => almanac.stop());
    const nginx = await startNginx(nginxDir(), { locations: location(almanac.port) });
    t.after(() => nginx.stop());
    const cal = `${nginx.url}/radicale/alice/cal/`;
    assert.equal((await httpRequest(cal, 'MKCALENDAR', { auth: ALICE })).status, 201);

    const big = await httpRequest(`${cal}big.ics`, 'PUT', {
      auth: ALICE,
      body: eventOfSize(5000),
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(big.status, 413, nginx.errorLog());
    assert.deepEqual(storedItems(almanac.folder, 'cal'), []);
    assert.equal((await httpRequest(`${cal}big.ics`, 'GET', { auth: ALICE })).status, 404);
    assert.ok(
      logLines.some((l) => l.includes('limitHit=max_content_length')),
      logLines.join('\n'),
    );

    // A body under the limit passes the same way.
    const small = await httpRequest(`${cal}small.ics`, 'PUT', {
      auth: ALICE,
      body: eventOfSize(1000).replace('UID:big', 'UID:small'),
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(small.status, 201);
    assert.equal(storedItems(almanac.folder, 'cal').length, 1);
  });

  it('throttles failed logins per real client (X-Forwarded-For), not the proxy as a whole', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const { nginx, logLines } = await behindNginx(t);
    const url = `${nginx.url}/radicale/alice/`;
    // Two clients reach nginx from different loopback addresses; Almanac only sees nginx's connections.
    const statuses: number[] = [];
    for (let i = 0; i < 12 && !statuses.includes(429); i++) {
      const r = await httpRequest(url, 'PROPFIND', { auth: ['alice', 'wrong'], localAddress: '127.0.0.4' });
      statuses.push(r.status);
      if (r.status === 429) assert.match(r.headers['retry-after'] ?? '', /^\d+$/);
    }
    assert.equal(statuses.at(-1), 429, statuses.join(','));
    assert.ok(
      statuses.slice(0, -1).every((s) => s === 401),
      statuses.join(','),
    );
    const other = await httpRequest(url, 'PROPFIND', { auth: ALICE, localAddress: '127.0.0.5' });
    assert.equal(other.status, 207);
    assert.ok(
      logLines.some((l) => l.includes('too many failed logins from 127.0.0.4') && l.includes('throttled')),
      logLines.join('\n'),
    );
    assert.ok(
      logLines.some((l) => l.includes('limitHit="failed-login rate"')),
      logLines.join('\n'),
    );
  });

  it("a client's own Forwarded or X-Forwarded-For header changes neither its throttling nor its logged address", async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const { nginx, logLines } = await behindNginx(t);
    const statuses: number[] = [];
    // Each guess claims another address: nginx passes Forwarded through and appends to X-Forwarded-For.
    for (let i = 1; i <= 12 && !statuses.includes(429); i++) {
      const r = await httpRequest(`${nginx.url}/radicale/alice/`, 'PROPFIND', {
        auth: ['alice', `guess-${i}`],
        localAddress: '127.0.0.4',
        headers: { Forwarded: `for=203.0.113.${i}`, 'X-Forwarded-For': `198.51.100.${i}` },
      });
      statuses.push(r.status);
    }
    assert.equal(statuses.at(-1), 429, statuses.join(','));
    assert.equal(statuses.length, 11, statuses.join(','));
    const forgedLines = logLines.filter((l) => /203\.0\.113\.|198\.51\.100\./.test(l));
    assert.deepEqual(forgedLines, [], 'forged addresses in the log');
    assert.ok(
      logLines.some((l) => l.includes('received from 127.0.0.4 (via 127.0.0.1)')),
      logLines.join('\n'),
    );
    // Another address still logs in: the forger could not lock it out by claiming it.
    const lockout = await httpRequest(`${nginx.url}/radicale/alice/`, 'PROPFIND', {
      auth: ['alice', 'wrong'],
      localAddress: '127.0.0.6',
      headers: { Forwarded: 'for=127.0.0.5', 'X-Forwarded-For': '127.0.0.5' },
    });
    assert.equal(lockout.status, 401);
    const victim = await httpRequest(`${nginx.url}/radicale/alice/`, 'PROPFIND', {
      auth: ALICE,
      localAddress: '127.0.0.5',
    });
    assert.equal(victim.status, 207);
  });

  it(
    'cuts an upload that stalls for `timeout`, stores nothing and logs the limit',
    { timeout: 30_000 },
    async (t: TestContext) => {
      if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
      const logLines: string[] = [];
      const almanac = await startAlmanac({
        config: { server: { timeout: '2' }, logging: { level: 'info' } },
        logLines,
      });
      t.after(() => almanac.stop());
      const nginx = await startNginx(nginxDir(), {
        locations: location(almanac.port, 'proxy_request_buffering off;'),
      });
      t.after(() => nginx.stop());
      const cal = `${nginx.url}/radicale/alice/cal/`;
      assert.equal((await httpRequest(cal, 'MKCALENDAR', { auth: ALICE })).status, 201);

      // nginx waits 60 s for the client and for Almanac; only Almanac's 2 s timeout can end this early.
      const status = await stalledUpload(nginx.port, '/radicale/alice/cal/stall.ics', 4000, 300);
      assert.match(status, /^HTTP\/1\.1 50[24] /, nginx.errorLog());
      assert.deepEqual(storedItems(almanac.folder, 'cal'), []);
      assert.ok(
        logLines.some((l) => l.includes('limitHit=timeout')),
        logLines.join('\n'),
      );
    },
  );
});
