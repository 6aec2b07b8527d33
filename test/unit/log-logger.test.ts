import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyForLog, limitContent } from '../../src/log/content.js';
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

void test('backtrace_on_debug: a stack only at debug (or trace) with the option on, as Radicale', () => {
  const err = new Error('disk on fire');
  const withStack = (level: Config['logging']['level'], backtrace_on_debug: boolean): boolean => {
    const lines: string[] = [];
    const log = createLogger(testConfig({ logging: { level, backtrace_on_debug } }), {
      write: (s: string) => lines.push(s),
    });
    log.error({ err }, 'write failed');
    const text = lines.join('');
    assert.match(text, /write failed/);
    assert.match(text, /disk on fire/);
    return /\n\s+at /.test(text);
  };
  assert.equal(withStack('info', true), false);
  assert.equal(withStack('debug', false), false);
  assert.equal(withStack('debug', true), true);
  assert.equal(withStack('trace', true), true);
});

void test('limit_content cuts logged content as Radicale does; 0 means no limit', () => {
  assert.equal(limitContent('abcdef', 4), 'abcd...(shortened because original length 6 > limit 4)');
  assert.equal(limitContent('abc', 4), 'abc');
  assert.equal(limitContent('abcdef', 0), 'abcdef');
  // A big body is decoded only as far as the limit needs.
  const big = Buffer.alloc(10_000_000, 'x');
  assert.equal(bodyForLog(big, 3), 'xxx...(shortened because original length 10000000 > limit 3)');
});
