/**
 * Bad input: malformed XML, entity declarations, broken iCalendar/vCard, path traversal, and a bounded
 * fuzz of random and mutated requests. Nothing may crash the server or give a 5xx.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  D,
  DavClient,
  mkaddressbook,
  mkcalendar,
  preconditions,
  put,
  report,
  vcard,
  vevent,
} from './helpers/dav-client.js';

let server: RunningAlmanac;
let c: DavClient;
let outside: string;

/** Every file below a folder, relative, with its size and mtime. */
function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.set(p.slice(root.length), `${st.size}:${st.mtimeMs}`);
    }
  };
  walk(root);
  return out;
}

before(async () => {
  server = await startAlmanac();
  c = new DavClient(server.url);
  // A file next to the data folder that traversal must never reach.
  outside = join(dirname(server.folder), 'secret.txt');
  writeFileSync(outside, 'SECRET-CONTENT');
  mkdirSync(server.folder, { recursive: true });
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  assert.equal(
    (
      await mkcalendar(
        c,
        '/alice/todos/',
        'alice',
        '<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>',
      )
    ).status,
    201,
  );
  assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
  assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
});
after(async () => server.stop());

const XML = { 'Content-Type': 'application/xml; charset=utf-8', Depth: '0' };

describe('XML bodies', () => {
  it('malformed XML in PROPFIND is 400', async () => {
    const r = await c.request('PROPFIND', '/alice/', {
      user: 'alice',
      body: '<D:propfind xmlns:D="DAV:"><D:prop>',
      headers: XML,
    });
    assert.equal(r.status, 400);
  });

  it('malformed XML in REPORT, PROPPATCH, MKCOL and MKCALENDAR is 400', async () => {
    for (const [m, p] of [
      ['REPORT', '/alice/cal/'],
      ['PROPPATCH', '/alice/cal/'],
      ['MKCOL', '/alice/x/'],
      ['MKCALENDAR', '/alice/y/'],
    ] as const) {
      const r = await c.request(m, p, { user: 'alice', body: '<a><b></a>', headers: XML });
      assert.equal(r.status, 400, m);
    }
  });

  it('a DOCTYPE with an entity is refused with 400 and never expanded', async () => {
    const body = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://${join(dirname(server.folder), 'secret.txt')}">]>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>&x;</D:displayname></D:prop></D:set></D:propertyupdate>`;
    const r = await c.request('PROPPATCH', '/alice/cal/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 400);
    const p = await c.propfind('/alice/cal/', [D('displayname')], '0');
    assert.doesNotMatch(p.text, /SECRET/);
  });

  it('a billion-laughs document is refused quickly with 400', async () => {
    const body = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol2;</D:displayname></D:prop></D:propfind>`;
    const r = await c.request('PROPFIND', '/alice/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 400);
  });

  it('a wrong root element for PROPFIND is 400', async () => {
    const r = await c.request('PROPFIND', '/alice/', {
      user: 'alice',
      body: '<D:foo xmlns:D="DAV:"/>',
      headers: XML,
    });
    assert.equal(r.status, 400);
  });

  it('very deep nesting is 400, not a crash', async () => {
    const body = `<D:propfind xmlns:D="DAV:">${'<x>'.repeat(5000)}${'</x>'.repeat(5000)}</D:propfind>`;
    const r = await c.request('PROPFIND', '/alice/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 400);
  });

  it('an unknown report is 403 supported-report', async () => {
    const r = await report(c, '/alice/cal/', '<D:nonsense xmlns:D="DAV:"/>');
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [D('supported-report')]);
  });

  it('a calendar-query with a bad time-range is 403 valid-filter', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="yesterday"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
    );
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('valid-filter')]);
  });

  it('a calendar-query without a filter is answered (every object), as Radicale answers it', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop></C:calendar-query>`,
    );
    assert.equal(r.status, 207, r.text);
  });

  it('a calendar-query with two top-level comp-filters is still 403 valid-filter', async () => {
    const r = await report(
      c,
      '/alice/cal/',
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`,
    );
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('valid-filter')]);
  });
});

describe('calendar and contact data', () => {
  it('broken iCalendar is 403 valid-calendar-data', async () => {
    const r = await put(c, '/alice/cal/broken.ics', 'BEGIN:VCALENDAR\r\nthis is not\r\nEND:VCALENDAR\r\n');
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('valid-calendar-data')]);
    assert.equal((await c.request('GET', '/alice/cal/broken.ics', { user: 'alice' })).status, 404);
  });

  it('plain text in a calendar is refused', async () => {
    const r = await c.request('PUT', '/alice/cal/t.ics', {
      user: 'alice',
      body: 'hello',
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(r.status, 403);
  });

  it('an item with two different UIDs is refused', async () => {
    const two = vevent('u1').replace(
      'END:VCALENDAR',
      'BEGIN:VEVENT\r\nUID:u2\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR',
    );
    const r = await put(c, '/alice/cal/two.ics', two);
    assert.equal(r.status, 403);
    assert.equal((await c.request('GET', '/alice/cal/two.ics', { user: 'alice' })).status, 404);
  });

  it('an event without UID is refused', async () => {
    const r = await put(c, '/alice/cal/nouid.ics', vevent('x').replace('UID:x\r\n', ''));
    assert.ok(r.status === 403 || r.status === 400, String(r.status));
  });

  it('a VEVENT in a VTODO-only calendar is 403 supported-calendar-component', async () => {
    const r = await put(c, '/alice/todos/e.ics', vevent('e-in-todos'));
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('supported-calendar-component')]);
  });

  it('a broken vCard is refused', async () => {
    const r = await c.request('PUT', '/alice/book/b.vcf', {
      user: 'alice',
      body: 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN Broken\r\n',
      headers: { 'Content-Type': 'text/vcard' },
    });
    assert.ok(r.status === 403 || r.status === 400, String(r.status));
    assert.equal((await c.request('GET', '/alice/book/b.vcf', { user: 'alice' })).status, 404);
  });

  it('two vCards in one item are refused', async () => {
    const r = await put(c, '/alice/book/2.vcf', vcard('c1', 'One') + vcard('c2', 'Two'));
    assert.ok(r.status === 403 || r.status === 400, String(r.status));
  });

  it('an RRULE with an absurd count does not hang or crash queries', async () => {
    const r = await put(
      c,
      '/alice/cal/many.ics',
      vevent('many', { extra: 'RRULE:FREQ=SECONDLY;COUNT=99999999' }),
    );
    assert.ok(r.status < 500, String(r.status));
    const q = await report(
      c,
      '/alice/cal/',
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20300101T000000Z" end="20300102T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
    );
    assert.ok(q.status < 500, String(q.status));
  });
});

describe('path traversal', () => {
  const paths = [
    '/alice/../../secret.txt',
    '/alice/%2e%2e/%2e%2e/secret.txt',
    '/alice/cal/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/alice/cal/..%2f..%2f..%2fsecret.txt',
    '/alice/cal/..%5c..%5csecret.txt',
    '/alice/cal/a\\..\\..\\secret.txt',
    '/alice/cal/a%00.ics',
    '/alice/cal/%',
    '/alice/cal/%zz.ics',
    '/alice/./cal/a.ics',
    '/alice/cal/.Radicale.props',
    '/alice/cal/.Radicale.cache/',
  ];

  it('traversal attempts are 4xx and read nothing outside the data folder', async () => {
    for (const raw of paths) {
      for (const method of ['GET', 'PROPFIND', 'DELETE']) {
        const r = await c.request(method, raw, { user: 'alice', rawPath: raw, headers: { Depth: '0' } });
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${raw}: ${r.status}`);
        assert.doesNotMatch(r.text, /SECRET-CONTENT/);
      }
    }
  });

  it('writes with traversal paths create nothing outside the data folder', async () => {
    const parent = dirname(server.folder);
    const before = readdirSync(parent).sort();
    const inside = tree(server.folder);
    for (const raw of paths) {
      const body = vevent(`trav-${paths.indexOf(raw)}`);
      const r = await c.request('PUT', raw, {
        user: 'alice',
        rawPath: raw,
        body,
        headers: { 'Content-Type': 'text/calendar' },
      });
      assert.ok(r.status >= 400 && r.status < 500, `PUT ${raw}: ${r.status}`);
      const m = await c.request('MKCOL', raw, { user: 'alice', rawPath: raw });
      assert.ok(m.status >= 400 && m.status < 500, `MKCOL ${raw}: ${m.status}`);
    }
    assert.deepEqual(readdirSync(parent).sort(), before);
    const after = tree(server.folder);
    for (const k of after.keys()) assert.ok(inside.has(k) || k.includes('.Radicale.cache'), `new file ${k}`);
  });

  it('MOVE/COPY with a traversal Destination is refused', async () => {
    for (const dest of [
      '/alice/cal/../../../x.ics',
      '/alice/cal/%2e%2e%2f%2e%2e%2fx.ics',
      '/alice/cal/..%5cx.ics',
    ]) {
      for (const m of ['MOVE', 'COPY']) {
        const r = await c.request(m, '/alice/cal/a.ics', { user: 'alice', headers: { Destination: dest } });
        assert.ok(r.status >= 400 && r.status < 500, `${m} ${dest}: ${r.status}`);
      }
    }
    assert.equal((await c.request('GET', '/alice/cal/a.ics', { user: 'alice' })).status, 200);
  });

  it('a request target that is not a path is 4xx', async () => {
    for (const target of ['*', 'http://other.example/alice/', 'alice/cal/']) {
      const r = await c.request('PROPFIND', target, {
        user: 'alice',
        rawPath: target,
        headers: { Depth: '0' },
      });
      assert.ok(r.status < 500, `${target}: ${r.status}`);
    }
  });
});

/** Deterministic PRNG so a failure can be reproduced. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS: string[] = [
  `<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:displayname/></D:prop></D:propfind>`,
  `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>`,
  `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="20240101T000000Z" end="20240201T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;unicode-casemap">a</C:text-match></C:prop-filter><C:time-range start="20240101T000000Z" end="20240201T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
  `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:comp name="VEVENT"><C:prop name="UID"/></C:comp></C:comp></C:calendar-data></D:prop><D:href>/alice/cal/a.ics</D:href></C:calendar-multiget>`,
  `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20240101T000000Z" end="20240201T000000Z"/></C:free-busy-query>`,
  `<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><CR:address-data><CR:prop name="FN"/></CR:address-data></D:prop><CR:filter test="allof"><CR:prop-filter name="FN"><CR:text-match match-type="starts-with">a</CR:text-match></CR:prop-filter></CR:filter><CR:limit><CR:nresults>1</CR:nresults></CR:limit></CR:addressbook-query>`,
  `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:limit><D:nresults>1</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>`,
  `<D:expand-property xmlns:D="DAV:"><D:property name="owner"><D:property name="displayname"/></D:property></D:expand-property>`,
  `<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>`,
  vevent('fuzz', { extra: 'RRULE:FREQ=DAILY;COUNT=3\nEXDATE:20240111T100000Z' }),
  vcard('fuzzcard', 'Fuzz Card', 'EMAIL;TYPE=WORK:f@example.org\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA'),
];

const METHODS = [
  'PROPFIND',
  'PROPPATCH',
  'REPORT',
  'PUT',
  'MKCOL',
  'MKCALENDAR',
  'GET',
  'DELETE',
  'MOVE',
  'COPY',
  'HEAD',
  'OPTIONS',
];
const PATHS = [
  '/',
  '/alice/',
  '/alice/cal/',
  '/alice/cal/a.ics',
  '/alice/cal/f.ics',
  '/alice/book/',
  '/alice/book/f.vcf',
  '/alice/fz/',
  '/bob/',
];
const TOKENS = [
  '<',
  '>',
  '</',
  '/>',
  '"',
  '&',
  '&amp;',
  ']]>',
  '<![CDATA[',
  '\u0000',
  '\uffff',
  'BEGIN:',
  'END:',
  ':',
  ';',
  '\r\n',
  ' ',
  'xmlns:D="DAV:"',
  'name=""',
  '99999999999',
  '-1',
  'T',
  'Z',
  '%',
];

function mutate(text: string, rnd: () => number): string {
  let s = text;
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rnd() * (s.length + 1));
    const op = rnd();
    if (op < 0.3) s = s.slice(0, pos) + s.slice(pos + 1 + Math.floor(rnd() * 20));
    else if (op < 0.6) s = s.slice(0, pos) + (TOKENS[Math.floor(rnd() * TOKENS.length)] ?? '') + s.slice(pos);
    else if (op < 0.8) {
      const from = Math.floor(rnd() * s.length);
      s = s.slice(0, pos) + s.slice(from, from + Math.floor(rnd() * 60)) + s.slice(pos);
    } else s = s.slice(0, pos) + String.fromCharCode(Math.floor(rnd() * 0x2fff)) + s.slice(pos);
  }
  return s;
}

const pick = <T>(xs: readonly T[], rnd: () => number): T => xs[Math.floor(rnd() * xs.length)] as T;

describe('fuzz', () => {
  it('400 random and mutated requests never give a 5xx, and the server still answers', async () => {
    const rnd = prng(Number(process.env.FUZZ_SEED ?? 20240611));
    assert.equal((await mkaddressbook(c, '/alice/book2/')).status, 201);
    const failures: string[] = [];
    for (let i = 0; i < Number(process.env.FUZZ_COUNT ?? 400); i++) {
      const method = pick(METHODS, rnd);
      const path = pick(PATHS, rnd);
      const seed = pick(SEEDS, rnd);
      const body =
        rnd() < 0.85
          ? mutate(seed, rnd)
          : Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
      const headers: Record<string, string> = {
        'Content-Type': pick(
          ['application/xml', 'text/calendar', 'text/vcard', 'text/plain', 'application/xml; charset=latin1'],
          rnd,
        ),
        Depth: pick(['0', '1', 'infinity', 'x', ''], rnd),
      };
      if (rnd() < 0.3)
        headers.Destination = pick(['/alice/cal/z.ics', '/alice/fz2/', 'http://x/y', '%', '/../..'], rnd);
      if (rnd() < 0.2) headers['If-Match'] = pick(['*', '"x"', 'W/', ',,,'], rnd);
      if (rnd() < 0.2) headers.Overwrite = pick(['T', 'F', 'maybe'], rnd);
      if (rnd() < 0.1) headers['If-Modified-Since'] = pick(['garbage', 'Thu, 01 Jan 1970 00:00:00 GMT'], rnd);
      const r = await c.request(method, path, { user: rnd() < 0.9 ? 'alice' : 'bob', body, headers });
      // 502 is the documented answer for a Destination on another server.
      const foreign = r.status === 502 && headers.Destination === 'http://x/y';
      if (r.status >= 500 && !foreign)
        failures.push(
          `${i} ${method} ${path} -> ${r.status} ${r.text.slice(0, 200)}\n${String(body).slice(0, 400)}`,
        );
    }
    assert.deepEqual(failures, []);
    const ok = await c.propfind('/alice/', [D('resourcetype')], '1');
    assert.equal(ok.status, 207);
  });

  it('random bytes on the socket do not take the server down', async () => {
    const rnd = prng(7);
    for (let i = 0; i < 30; i++) {
      const junk = Buffer.from(
        Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)),
      );
      await new Promise<void>((resolve) => {
        const s = connect(server.port, '127.0.0.1', () => s.end(junk));
        s.on('data', () => undefined);
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.setTimeout(2000, () => s.destroy());
      });
    }
    const r = await c.request('OPTIONS', '/');
    assert.equal(r.status, 200);
  });

  it('malformed Authorization headers are 401, not 5xx', async () => {
    for (const auth of [
      'Basic',
      'Basic !!!',
      'Basic ' + Buffer.from('nocolon').toString('base64'),
      'Bearer x',
      'Basic ' + 'A'.repeat(5000),
    ]) {
      const r = await c.request('PROPFIND', '/alice/', { headers: { Authorization: auth, Depth: '0' } });
      assert.ok(
        r.status === 401 || r.status === 400 || r.status === 431,
        `${auth.slice(0, 20)}: ${r.status}`,
      );
    }
  });
});
