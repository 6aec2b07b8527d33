import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, RawClient, startTestServer } from './server-support.js';

void test('max_connections = 2: six parallel slow requests all succeed, at most two in the handler', async () => {
  const t = await startTestServer({ server: { max_connections: 2 } });
  try {
    const results = await Promise.all(Array.from({ length: 6 }, () => httpRequest(t.port, '/slow?ms=300')));
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(t.stats.requests, 6);
    assert.equal(t.stats.maxActive, 2);
  } finally {
    await t.server.close();
  }
});

void test('max_connections = 0 is unlimited', async () => {
  const t = await startTestServer({ server: { max_connections: 0 } });
  try {
    const results = await Promise.all(Array.from({ length: 6 }, () => httpRequest(t.port, '/slow?ms=800')));
    assert.ok(results.every((r) => r.status === 200));
    assert.equal(t.stats.maxActive, 6);
  } finally {
    await t.server.close();
  }
});

void test('keep-alive: two requests on one connection', async () => {
  const t = await startTestServer();
  try {
    const c = await RawClient.open(t.port);
    c.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
    const first = await c.waitFor(/\r\n\r\nok/);
    assert.match(first, /^HTTP\/1\.1 200 /);
    assert.match(first, /\r\nConnection: keep-alive\r\n/i);
    c.write('GET /second HTTP/1.1\r\nHost: x\r\n\r\n');
    const both = await c.waitFor(/\r\n\r\nok[\s\S]*\r\n\r\nok/);
    assert.equal(both.match(/HTTP\/1\.1 200 /g)?.length, 2);
    assert.equal(c.socket.destroyed, false);
    assert.equal(t.stats.requests, 2);
    c.destroy();
  } finally {
    await t.server.close();
  }
});

void test('an idle keep-alive connection holds no slot', async () => {
  const t = await startTestServer({ server: { max_connections: 1 } });
  try {
    const idle = await RawClient.open(t.port);
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.waitFor(/\r\n\r\nok/);
    // The first connection stays open and idle; another client must still be served.
    const other = await httpRequest(t.port, '/');
    assert.equal(other.status, 200);
    assert.equal(idle.socket.destroyed, false);
    idle.destroy();
  } finally {
    await t.server.close();
  }
});
