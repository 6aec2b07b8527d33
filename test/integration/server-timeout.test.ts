import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, RawClient, startTestServer, type TestServer } from './server-support.js';

const overrides = { server: { timeout: 1 } };

/** Keeps another client busy with requests until `done` settles; returns how many succeeded meanwhile. */
async function serveOthersUntil(t: TestServer, done: Promise<void>): Promise<number> {
  let finished = false;
  void done.then(() => (finished = true));
  let served = 0;
  while (!finished) {
    const res = await httpRequest(t.port, '/');
    assert.equal(res.status, 200);
    served++;
    await new Promise((r) => setTimeout(r, 100));
  }
  return served;
}

void test('a client stalling in its headers is disconnected while others are served', async () => {
  const t = await startTestServer(overrides);
  try {
    const stalled = await RawClient.open(t.port);
    stalled.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const served = await serveOthersUntil(t, stalled.closed);
    assert.ok(served >= 2, `other client served ${served} times`);
    assert.doesNotMatch(stalled.received, /HTTP\/1\.1 200/);
    assert.equal(t.stats.requests, served);
  } finally {
    await t.server.close();
  }
});

void test('a client stalling in its body is disconnected and the handler gets no body', async () => {
  const t = await startTestServer(overrides);
  try {
    const stalled = await RawClient.open(t.port);
    stalled.write('PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part');
    const served = await serveOthersUntil(t, stalled.closed);
    assert.ok(served >= 2, `other client served ${served} times`);
    assert.equal(t.stats.bodiesSeen, 0);
    assert.doesNotMatch(stalled.received, /HTTP\/1\.1 200/);
  } finally {
    await t.server.close();
  }
});

void test('a handler slower than the timeout is not cut once the body is in', async () => {
  const t = await startTestServer(overrides);
  try {
    const res = await httpRequest(t.port, '/slow?ms=2500');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
  } finally {
    await t.server.close();
  }
});

void test('requests queued behind max_connections longer than the timeout are still served', async () => {
  const t = await startTestServer({ server: { timeout: 1, max_connections: 1 } });
  try {
    const results = await Promise.all([1, 2, 3].map(() => httpRequest(t.port, '/slow?ms=900')));
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200],
    );
  } finally {
    await t.server.close();
  }
});
