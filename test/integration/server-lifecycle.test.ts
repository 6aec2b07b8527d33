import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, RawClient, sleep, startTestServer } from './server-support.js';

void test('binds IPv6 loopback [::1]:0 and reports the real port', async () => {
  const t = await startTestServer({ server: { hosts: ['[::1]:0'] } });
  try {
    assert.equal(t.server.addresses.length, 1);
    assert.equal(t.server.addresses[0]?.host, '::1');
    assert.ok(t.port > 0);
    const res = await httpRequest(t.port, '/whoami', { host: '::1' });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { peerAddress: string }).peerAddress, '::1');
  } finally {
    await t.server.close();
  }
});

void test('several hosts are all bound', async () => {
  const t = await startTestServer({ server: { hosts: ['127.0.0.1:0', '[::1]:0'] } });
  try {
    assert.deepEqual(
      t.server.addresses.map((a) => a.host),
      ['127.0.0.1', '::1'],
    );
    for (const a of t.server.addresses) {
      assert.equal((await httpRequest(a.port, '/', { host: a.host })).status, 200);
    }
  } finally {
    await t.server.close();
  }
});

void test('localhost binds what it resolves to', async () => {
  const t = await startTestServer({ server: { hosts: ['localhost:0'] } });
  try {
    assert.ok(t.server.addresses.length >= 1);
    for (const a of t.server.addresses) {
      assert.ok(['127.0.0.1', '::1'].includes(a.host), a.host);
      assert.equal((await httpRequest(a.port, '/', { host: a.host })).status, 200);
    }
  } finally {
    await t.server.close();
  }
});

void test('a port in use is a clear start-up error', async () => {
  const t = await startTestServer();
  try {
    await assert.rejects(
      startTestServer({ server: { hosts: [`127.0.0.1:${t.port}`] } }),
      (err: Error) => err.message.includes(`127.0.0.1:${t.port}`) && err.message.includes('EADDRINUSE'),
    );
  } finally {
    await t.server.close();
  }
});

void test('invalid hosts entries are refused', async () => {
  await assert.rejects(startTestServer({ server: { hosts: ['127.0.0.1'] } }), /invalid entry '127\.0\.0\.1'/);
  await assert.rejects(startTestServer({ server: { hosts: ['[nope]:1'] } }), /not an IPv6 address/);
});

void test('close() lets an in-flight request finish and closes idle keep-alive connections', async () => {
  const t = await startTestServer();
  const idle = await RawClient.open(t.port);
  idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await idle.waitFor(/\r\n\r\nok/);
  const slow = httpRequest(t.port, '/slow?ms=700');
  while (t.stats.active === 0) await sleep(10);
  const closed = t.server.close(10_000);
  await idle.closed;
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ok');
  await closed;
  await assert.rejects(httpRequest(t.port, '/'), /ECONNREFUSED/);
});

void test('close() drops requests still running after the grace period', async () => {
  const t = await startTestServer();
  const slow = httpRequest(t.port, '/slow?ms=5000');
  while (t.stats.active === 0) await sleep(10);
  await t.server.close(200);
  await assert.rejects(slow, /socket hang up|ECONNRESET/);
});

void test('the client address comes from X-Forwarded-For only for a trusted proxy', async () => {
  const trusting = await startTestServer({ server: { trusted_proxies: ['127.0.0.1/8'] } });
  const wary = await startTestServer({ server: { trusted_proxies: ['10.0.0.0/8'] } });
  try {
    const headers = { 'X-Forwarded-For': '198.51.100.7' };
    const a = JSON.parse((await httpRequest(trusting.port, '/whoami', { headers })).body) as Record<
      string,
      unknown
    >;
    assert.equal(a['clientAddress'], '198.51.100.7');
    assert.equal(a['peerAddress'], '127.0.0.1');
    assert.equal(a['peerTrusted'], true);
    const b = JSON.parse((await httpRequest(wary.port, '/whoami', { headers })).body) as Record<
      string,
      unknown
    >;
    assert.equal(b['clientAddress'], '127.0.0.1');
    assert.equal(b['peerTrusted'], false);
  } finally {
    await trusting.server.close();
    await wary.server.close();
  }
});

void test('one log line per request arrival and end; credentials never logged', async () => {
  const t = await startTestServer({ logging: { request_header_on_debug: true } });
  try {
    const headers = { Authorization: 'Basic dXNlcjpodW50ZXIy', Cookie: 'session=s3cr3t' };
    await httpRequest(t.port, '/whoami', { headers });
    await t.server.close();
    const log = t.logLines.join('');
    assert.match(log, /\[INFO\] \[[0-9a-f]{8}\] GET request for "\/whoami" received from 127\.0\.0\.1\n/);
    assert.match(log, /\[INFO\] \[[0-9a-f]{8}\] 200 response for GET "\/whoami" in [\d.]+ ms user=alice\n/);
    assert.match(log, /\[DEBUG\] .*request headers .*"authorization":"[^"]*\*\*\*"/);
    assert.doesNotMatch(log, /dXNlcjpodW50ZXIy|s3cr3t/);
  } finally {
    await t.server.close();
  }
});
