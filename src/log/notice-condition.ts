/**
 * `[logging] request_header / request_content / response_header / response_content _on_notice_condition`
 * (Radicale 3.7.3): log that part of a request at notice level when the request matches a condition.
 * A condition is a JSON object `{token: {"match": ..., "value": ...}, ...}`; every token given must
 * match (an empty object, the default, switches the option off):
 *   method, path, useragent, login   startswith | endswith | equal | re  (a Python pattern, re.search)
 *   status                           == | != | < | <= | > | >=           (the response's status code)
 *   host                             equal | == | !=  (an address)  included | excluded  (a network)
 * `path` is the request path without its query; `login` is the authenticated user ('' anonymous);
 * `host` is the client's address (the TCP peer, or the trusted proxy's forwarded client).
 * Conditions are checked once the response is known, so `status` works in all four options.
 */
import { compileSearch } from '../rights/python-regex.js';
import { cleanAddress, normalizeAddress } from '../net/address.js';
import { matchesAny, parseNetworks } from '../net/networks.js';

/** What a condition is matched against: one request and its response. */
export interface NoticeFacts {
  readonly method: string;
  readonly path: string;
  readonly useragent: string;
  readonly login: string;
  readonly host: string;
  readonly status: number;
}

export type NoticeCondition = (facts: NoticeFacts) => boolean;

export const NOTICE_OPTIONS = [
  'request_header_on_notice_condition',
  'request_content_on_notice_condition',
  'response_header_on_notice_condition',
  'response_content_on_notice_condition',
] as const;
export type NoticeOption = (typeof NOTICE_OPTIONS)[number];

/** Patterns are matched against at most this many characters (a long User-Agent or path cannot stall). */
const MAX_MATCHED_LENGTH = 4096;

type Test = (facts: NoticeFacts) => boolean;
const TEXT_TOKENS = ['method', 'path', 'useragent', 'login'] as const;
type TextToken = (typeof TEXT_TOKENS)[number];

function textTest(token: TextToken, match: string, value: string, what: string): Test {
  const get = (f: NoticeFacts): string => f[token].slice(0, MAX_MATCHED_LENGTH);
  switch (match) {
    case 'startswith':
      return (f) => get(f).startsWith(value);
    case 'endswith':
      return (f) => get(f).endsWith(value);
    case 'equal':
      return (f) => get(f) === value;
    case 're': {
      const re = compileSearch(value, what);
      return (f) => re.test(get(f));
    }
    default:
      throw new Error(`${what}: match "${match}" is not one of startswith, endswith, equal, re`);
  }
}

const STATUS_TESTS: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

function statusTest(match: string, value: unknown, what: string): Test {
  const compare = STATUS_TESTS[match];
  if (!compare)
    throw new Error(`${what}: match "${match}" is not one of ${Object.keys(STATUS_TESTS).join(' ')}`);
  const expected = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(expected))
    throw new Error(`${what}: value ${JSON.stringify(value)} is not a status code`);
  return (f) => compare(f.status, expected);
}

function hostTest(match: string, value: string, what: string): Test {
  if (match === 'included' || match === 'excluded') {
    let networks;
    try {
      networks = parseNetworks([value]);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
    }
    return match === 'included' ? (f) => matchesAny(f.host, networks) : (f) => !matchesAny(f.host, networks);
  }
  if (match !== 'equal' && match !== '==' && match !== '!=') {
    throw new Error(`${what}: match "${match}" is not one of equal, ==, !=, included, excluded`);
  }
  if (!cleanAddress(value)) throw new Error(`${what}: value ${JSON.stringify(value)} is not an IP address`);
  const address = normalizeAddress(value);
  const same = (f: NoticeFacts): boolean => normalizeAddress(f.host) === address;
  return match === '!=' ? (f) => !same(f) : same;
}

function tokenTest(option: string, token: string, spec: unknown): Test {
  const what = `[logging] ${option}: token "${token}"`;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new Error(`${what}: expected {"match": ..., "value": ...}`);
  }
  const { match, value } = spec as { match?: unknown; value?: unknown };
  if (typeof match !== 'string') throw new Error(`${what}: "match" is missing`);
  if (value === undefined || value === null) throw new Error(`${what}: "value" is missing`);
  if (token === 'status') return statusTest(match, value, what);
  if (typeof value !== 'string') throw new Error(`${what}: "value" must be a string`);
  if (token === 'host') return hostTest(match, value, what);
  if ((TEXT_TOKENS as readonly string[]).includes(token))
    return textTest(token as TextToken, match, value, what);
  throw new Error(`${what}: unknown token (known: ${[...TEXT_TOKENS, 'host', 'status'].join(', ')})`);
}

/**
 * Compiles one option's value; undefined when the option is off (`{}` or empty). Throws an Error naming
 * the option and the token for anything malformed, so a bad config stops the start, not a request.
 */
export function compileNoticeCondition(option: string, value: unknown): NoticeCondition | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(
      `[logging] ${option}: expected a JSON object of conditions, got ${JSON.stringify(value)}`,
    );
  }
  const tests = Object.entries(value as Record<string, unknown>).map(([token, spec]) =>
    tokenTest(option, token, spec),
  );
  if (tests.length === 0) return undefined;
  return (facts) => tests.every((test) => test(facts));
}

export type NoticeConditions = Readonly<Partial<Record<NoticeOption, NoticeCondition>>>;

/** The four options of `[logging]`, compiled; only those switched on are present. */
export function compileNoticeConditions(logging: Readonly<Record<string, unknown>>): NoticeConditions {
  const out: Partial<Record<NoticeOption, NoticeCondition>> = {};
  for (const option of NOTICE_OPTIONS) {
    const condition = compileNoticeCondition(option, logging[option]);
    if (condition) out[option] = condition;
  }
  return out;
}
