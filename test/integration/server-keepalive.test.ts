/**
 * [server] keepalive_timeout: an idle keep-alive connection stays open that long (30 s by default,
 * announced in `Keep-Alive: timeout=`), a client reusing a connection the server closed is answered on
 * a new one, and 0 closes the connection after each response.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { RawClient, sleep, startTestServer } from './server-support.js';

function get(port: number, agent: Agent): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

void test('an idle connection stays open for keepalive_timeout, 30 s by default, and says so', async () => {
  const t = await startTestServer({ server: { timeout: 1 } });
  try {
    const c = await RawClient.open(t.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const first = await c.waitFor(/\r\n\r\nok/);
    assert.match(first, /\r\nKeep-Alive: timeout=30\r\n/i);
    // Longer idle than `timeout` (1 s) and than the 5 s Node uses by default: still open and served.
    await sleep(5500);
    assert.equal(c.socket.readableEnded, false);
    c.write('GET /again HTTP/1.1\r\nHost: x\r\n\r\n');
    const both = await c.waitFor(/\r\n\r\nok[\s\S]*\r\n\r\nok/);
    assert.equal(both.match(/HTTP\/1\.1 200 /g)?.length, 2);
    c.destroy();
  } finally {
    await t.server.close();
  }
});

void test('after keepalive_timeout the server closes the idle connection; a client reusing it is answered on a new one', async () => {
  const t = await startTestServer({ server: { keepalive_timeout: 1 } });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const c = await RawClient.open(t.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await c.waitFor(/\r\n\r\nok/), /\r\nKeep-Alive: timeout=1\r\n/i);
    // The server ends the idle connection itself (no request is cut: none was in progress).
    await c.closed;
    assert.equal(c.received.match(/HTTP\/1\.1 /g)?.length, 1);

    const first = await get(t.port, agent);
    assert.deepEqual([first.status, first.body], [200, 'ok']);
    await sleep(2000);
    // The agent's socket was closed by the server meanwhile: the next request still gets its answer.
    const second = await get(t.port, agent);
    assert.deepEqual([second.status, second.body], [200, 'ok']);
  } finally {
    agent.destroy();
    await t.server.close();
  }
});

void test('keepalive_timeout = 0 closes the connection after each response', async () => {
  const t = await startTestServer({ server: { keepalive_timeout: 0 } });
  try {
    const c = await RawClient.open(t.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await c.waitFor(/\r\n\r\nok/), /\r\nConnection: close\r\n/i);
    await c.closed;
  } finally {
    await t.server.close();
  }
});
