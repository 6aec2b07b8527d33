import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, RawClient, startTestServer } from './server-support.js';

const LIMIT = 1000;
const overrides = {
  server: { max_content_length: LIMIT },
  headers: { 'X-Almanac-Test': 'yes', 'Content-Security-Policy': "default-src 'self'" },
};

void test('a declared Content-Length above max_content_length gets 413 before the handler runs', async () => {
  const t = await startTestServer(overrides);
  try {
    const c = await RawClient.open(t.port);
    c.write(`PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
    const text = await c.waitFor(/\r\n\r\n/);
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.match(text, /\r\nX-Almanac-Test: yes\r\n/i);
    assert.match(text, /\r\nConnection: close\r\n/i);
    await c.closed; // the unread body cannot be skipped, so the server closes the connection
    assert.equal(t.stats.requests, 0);
    assert.ok(t.logLines.some((l) => l.includes('limitHit=max_content_length') && l.includes('413')));
  } finally {
    await t.server.close();
  }
});

void test('a chunked body growing past max_content_length gets 413 and the handler never sees it', async () => {
  const t = await startTestServer(overrides);
  try {
    const c = await RawClient.open(t.port);
    const chunk = 'a'.repeat(LIMIT + 200);
    c.write(`PUT /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    c.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const text = await c.waitFor(/\r\n\r\n[\s\S]*max_content_length/);
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.match(text, /\r\nX-Almanac-Test: yes\r\n/i);
    assert.match(text, /\r\nConnection: close\r\n/i);
    await c.closed;
    assert.equal(t.stats.bodiesSeen, 0);
    assert.ok(t.logLines.some((l) => l.includes('limitHit=max_content_length') && l.includes('413')));
  } finally {
    await t.server.close();
  }
});

void test('bodies within the limit are read, chunked or not', async () => {
  const t = await startTestServer(overrides);
  try {
    const plain = await httpRequest(t.port, '/body', { method: 'PUT', body: 'x'.repeat(LIMIT) });
    assert.equal(plain.status, 200);
    assert.equal(plain.body, `got ${LIMIT}`);
    const c = await RawClient.open(t.port);
    c.write('PUT /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.match(await c.waitFor(/got 5/), /^HTTP\/1\.1 200 /);
    c.destroy();
  } finally {
    await t.server.close();
  }
});

void test('Expect: 100-continue gets 100 only when the length is acceptable', async () => {
  const t = await startTestServer(overrides);
  try {
    const big = await RawClient.open(t.port);
    big.write(
      `PUT /body HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${LIMIT * 5}\r\n\r\n`,
    );
    const refused = await big.waitFor(/\r\n\r\n/);
    assert.match(refused, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(refused, /100 Continue/);
    await big.closed;

    const small = await RawClient.open(t.port);
    small.write('PUT /body HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    assert.match(await small.waitFor(/\r\n\r\n/), /^HTTP\/1\.1 100 Continue/);
    small.write('abc');
    assert.match(await small.waitFor(/got 3/), /HTTP\/1\.1 200 /);
    small.destroy();
  } finally {
    await t.server.close();
  }
});

void test('[headers] are added to every response, including errors', async () => {
  const t = await startTestServer(overrides);
  try {
    const ok = await httpRequest(t.port, '/');
    assert.equal(ok.headers['x-almanac-test'], 'yes');
    assert.equal(ok.headers['content-security-policy'], "default-src 'self'");
    const crash = await httpRequest(t.port, '/throw');
    assert.equal(crash.status, 500);
    assert.equal(crash.headers['x-almanac-test'], 'yes');
    const bad = await RawClient.open(t.port);
    bad.write('THIS IS NOT HTTP\r\n\r\n');
    const text = await bad.waitFor(/\r\n\r\n/);
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.match(text, /\r\nX-Almanac-Test: yes\r\n/i);
    bad.destroy();
  } finally {
    await t.server.close();
  }
});

void test('a handler that throws gives a plain 500 without internals, and the error is logged', async () => {
  const t = await startTestServer(overrides);
  try {
    const res = await httpRequest(t.port, '/throw');
    assert.equal(res.status, 500);
    assert.equal(res.body, 'Internal Server Error');
    assert.ok(t.logLines.some((l) => l.includes('[ERROR]') && l.includes('secret internal detail')));
  } finally {
    await t.server.close();
  }
});
