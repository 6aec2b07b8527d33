/**
 * `[logging] *_on_notice_condition` (Radicale 3.7.3): which requests a condition selects, and the
 * errors a malformed one gives at start-up.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { compileNoticeCondition, type NoticeFacts } from '../../src/log/notice-condition.js';

const FACTS: NoticeFacts = {
  method: 'PUT',
  path: '/alice/calendar/event.ics',
  useragent: 'DAVx5/4.4 (okhttp)',
  login: 'alice',
  host: '192.168.1.20',
  status: 201,
};

function selects(condition: unknown, facts: Partial<NoticeFacts> = {}): boolean {
  const compiled = compileNoticeCondition('request_header_on_notice_condition', condition);
  assert.ok(compiled, 'the condition is on');
  return compiled({ ...FACTS, ...facts });
}

describe('notice conditions', () => {
  it('are off for {} and for an empty value', () => {
    assert.equal(compileNoticeCondition('request_header_on_notice_condition', {}), undefined);
    assert.equal(compileNoticeCondition('request_header_on_notice_condition', ''), undefined);
  });

  it('match text tokens with startswith, endswith, equal and re (re.search: anywhere)', () => {
    assert.equal(selects({ path: { match: 'startswith', value: '/alice/' } }), true);
    assert.equal(selects({ path: { match: 'startswith', value: '/bob/' } }), false);
    assert.equal(selects({ path: { match: 'endswith', value: '.ics' } }), true);
    assert.equal(selects({ method: { match: 'equal', value: 'PUT' } }), true);
    assert.equal(selects({ method: { match: 'equal', value: 'put' } }), false);
    assert.equal(selects({ useragent: { match: 're', value: 'DAVx5/[0-9]' } }), true);
    assert.equal(selects({ useragent: { match: 're', value: '^okhttp' } }), false);
    assert.equal(selects({ login: { match: 're', value: '(?i)ALICE' } }), true);
    assert.equal(selects({ login: { match: 'equal', value: '' } }, { login: '' }), true);
  });

  it('compare the status with == != < <= > >=', () => {
    const status = (match: string, value: number | string, actual: number): boolean =>
      selects({ status: { match, value } }, { status: actual });
    assert.equal(status('>=', 400, 404), true);
    assert.equal(status('>=', 400, 207), false);
    assert.equal(status('==', '412', 412), true);
    assert.equal(status('!=', 200, 200), false);
    assert.equal(status('<', 300, 201), true);
    assert.equal(status('<=', 201, 201), true);
    assert.equal(status('>', 500, 500), false);
  });

  it('match the client address by address and by network, IPv4-mapped IPv6 included', () => {
    assert.equal(selects({ host: { match: 'equal', value: '192.168.1.20' } }), true);
    assert.equal(
      selects({ host: { match: '==', value: '192.168.1.20' } }, { host: '::ffff:192.168.1.20' }),
      true,
    );
    assert.equal(selects({ host: { match: '!=', value: '192.168.1.20' } }), false);
    assert.equal(selects({ host: { match: 'included', value: '192.168.0.0/16' } }), true);
    assert.equal(selects({ host: { match: 'included', value: '10.0.0.0/8' } }), false);
    assert.equal(selects({ host: { match: 'excluded', value: '10.0.0.0/8' } }), true);
    assert.equal(selects({ host: { match: 'included', value: 'fd00::/8' } }, { host: 'fd12::1' }), true);
  });

  it('select a request only when every token matches', () => {
    const both = {
      method: { match: 'equal', value: 'PUT' },
      status: { match: '>=', value: 400 },
    };
    assert.equal(selects(both, { status: 415 }), true);
    assert.equal(selects(both, { status: 201 }), false);
    assert.equal(selects(both, { method: 'GET', status: 415 }), false);
  });

  it('read a long User-Agent only up to 4096 characters', () => {
    const long = `${'x'.repeat(5000)}needle`;
    assert.equal(selects({ useragent: { match: 're', value: 'needle' } }, { useragent: long }), false);
    assert.equal(selects({ useragent: { match: 'startswith', value: 'xxx' } }, { useragent: long }), true);
  });
});

describe('a malformed notice condition', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'almanac-notice-'));
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  function loadWith(value: string): unknown {
    const file = path.join(home, 'config');
    fs.writeFileSync(file, `[logging]\nresponse_content_on_notice_condition = ${value}\n`);
    return loadConfig({ paths: [file], env: { HOME: home } });
  }

  it('stops the start with an error naming the option and the token', () => {
    const cases: [string, RegExp][] = [
      [
        '{"colour": {"match": "equal", "value": "x"}}',
        /response_content_on_notice_condition: token "colour": unknown token/,
      ],
      ['{"path": {"match": "contains", "value": "x"}}', /token "path": match "contains" is not one of/],
      [
        '{"status": {"match": ">=", "value": "four hundred"}}',
        /token "status": value "four hundred" is not a status code/,
      ],
      ['{"host": {"match": "included", "value": "10.0.0.0/33"}}', /token "host": invalid prefix length/],
      [
        '{"host": {"match": "equal", "value": "localhost"}}',
        /token "host": value "localhost" is not an IP address/,
      ],
      ['{"path": {"match": "re", "value": "(unclosed"}}', /token "path": invalid regular expression/],
      ['{"path": {"match": "equal"}}', /token "path": "value" is missing/],
      ['["path"]', /response_content_on_notice_condition/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => loadWith(value),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
        value,
      );
    }
  });

  it('a good one loads, and is not reported as "not yet supported"', () => {
    const loaded = loadWith('{"status": {"match": ">=", "value": 400}}') as {
      unsupported: readonly string[];
    };
    assert.deepEqual(loaded.unsupported, []);
  });
});
