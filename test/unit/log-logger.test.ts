import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, formatTimestamp, maskHeaders } from '../../src/log/logger.js';
import { testConfig } from '../helpers/config.js';
import type { Config } from '../../src/config/schema.js';

function capture(level: Config['logging']['level'], format: 'text' | 'json' = 'text') {
  const lines: string[] = [];
  const log = createLogger(
    testConfig({ logging: { level } }),
    { write: (s: string) => lines.push(s) },
    format,
  );
  return { log, lines };
}

void test('text lines look like Radicale: [time] [pid] [LEVEL] message', () => {
  const { log, lines } = capture('info');
  log.info('hello world');
  assert.equal(lines.length, 1);
  assert.match(
    lines[0] ?? '',
    /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[INFO\] hello world\n$/,
  );
});

void test("Radicale's level names: the threshold and the labels", () => {
  const { log, lines } = capture('warning');
  log.info('hidden');
  log.notice('hidden too');
  log.warn('shown');
  log.error('bad');
  log.fatal('worse');
  log.alert('worst');
  assert.deepEqual(
    lines.map((l) => /\[([A-Z]+)\] (\w+)/.exec(l)?.slice(1).join(' ')),
    ['WARNING shown', 'ERROR bad', 'CRITICAL worse', 'ALERT worst'],
  );
  const n = capture('notice');
  n.log.info('hidden');
  n.log.notice('visible');
  assert.equal(n.lines.length, 1);
  assert.match(n.lines[0] ?? '', /\[NOTICE\] visible/);
});

void test('JSON format on request', () => {
  const { log, lines } = capture('debug', 'json');
  log.child({ reqId: 'abc' }).debug({ status: 200 }, 'done');
  const record = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  assert.equal(record['msg'], 'done');
  assert.equal(record['reqId'], 'abc');
  assert.equal(record['status'], 200);
  assert.equal(record['level'], 20);
});

void test('passwords and Authorization values are redacted', () => {
  const { log, lines } = capture('info');
  log.info({ password: 'hunter2', headers: { authorization: 'Basic c2VjcmV0' } }, 'login');
  assert.doesNotMatch(lines.join(''), /hunter2|c2VjcmV0/);
});

void test('maskHeaders hides credentials, keeps the scheme and the other headers', () => {
  const masked = maskHeaders({ Authorization: 'Basic dXNlcjpwdw==', cookie: 'a=b', host: 'example' });
  assert.deepEqual(masked, { Authorization: 'Basic ***', cookie: '***', host: 'example' });
  assert.equal(maskHeaders({ cookie: 'a=b' }, false)['cookie'], 'a=b');
  assert.equal(
    maskHeaders({ 'proxy-authorization': 'Bearer xyz' }, false)['proxy-authorization'],
    'Bearer ***',
  );
});

void test('timestamps carry the local offset', () => {
  assert.match(formatTimestamp(new Date(0)), /^19(69|70)-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$/);
});
