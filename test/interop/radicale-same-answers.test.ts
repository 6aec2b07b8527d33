/**
 * The same requests to Debian's Radicale 3.1.8 and to Almanac, each on an empty folder with the same
 * users: where Almanac means to answer as Radicale does (docs/compatibility.md lists where it does
 * not), the statuses, content types, listed members and preconditions must be the same.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { startRadicale, type RunningRadicale } from '../helpers/radicale.js';
import { preconditions } from '../integration/helpers/dav-client.js';
import { NS, childrenNamed, nameOf, parseXml, textContent, type XmlElement } from '../../src/dav/xml.js';

const USERS = { alice: 'alicepw', bob: 'bobpw' };
const dir = mkdtempSync(join(tmpdir(), 'almanac-same-answers-'));
let radicale: RunningRadicale;
let almanac: RunningAlmanac;

before(async () => {
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(
    htpasswd,
    Object.entries(USERS)
      .map(([u, p]) => `${u}:${p}\n`)
      .join(''),
  );
  radicale = await startRadicale(join(dir, 'radicale'), htpasswd);
  almanac = await startAlmanac({ users: USERS });
  for (const base of [radicale.url, almanac.url]) {
    assert.equal((await send(base, 'MKCALENDAR', '/alice/cal/')).status, 201);
    assert.equal((await send(base, 'PUT', '/alice/cal/e1.ics', EVENT, 'text/calendar')).status, 201);
    assert.equal((await send(base, 'PUT', '/alice/cal/t1.ics', TODO, 'text/calendar')).status, 201);
  }
});
after(async () => {
  radicale.stop();
  await almanac.stop();
  rmSync(dir, { recursive: true, force: true });
});

const EVENT = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//same answers//EN',
  'BEGIN:VEVENT',
  'UID:e1',
  'DTSTAMP:20240101T000000Z',
  'DTSTART:20240110T100000Z',
  'DTEND:20240110T110000Z',
  'SUMMARY:One',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');
const TODO = EVENT.replace(/VEVENT/g, 'VTODO')
  .replace('UID:e1', 'UID:t1')
  .replace(/DTSTART.*\r\nDTEND.*\r\n/, '');

interface Answer {
  status: number;
  type: string;
  text: string;
}

async function send(
  base: string,
  method: string,
  path: string,
  body?: string,
  type = 'application/xml',
  headers: Record<string, string> = {},
): Promise<Answer> {
  const auth = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;
  const res = await fetch(base + path, {
    method,
    body,
    headers: { Authorization: auth, ...(body === undefined ? {} : { 'Content-Type': type }), ...headers },
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** The same request to both servers. */
async function both(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<[Answer, Answer]> {
  return [
    await send(radicale.url, method, path, body, 'application/xml', headers),
    await send(almanac.url, method, path, body, 'application/xml', headers),
  ];
}

function responses(text: string): XmlElement[] {
  return childrenNamed(parseXml(text), NS.D, 'response');
}

/** The members a multistatus answers (their hrefs), with the 404 ones apart. */
function members(text: string): { found: string[]; missing: string[] } {
  const found: string[] = [];
  const missing: string[] = [];
  for (const r of responses(text)) {
    const href = decodeURIComponent(textContent(childrenNamed(r, NS.D, 'href')[0] ?? r).trim());
    const status = childrenNamed(r, NS.D, 'status')[0];
    (status && textContent(status).includes(' 404 ') ? missing : found).push(href);
  }
  return { found: found.sort(), missing: missing.sort() };
}

/** href → text of one property in a multistatus. */
function values(text: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of responses(text)) {
    const href = textContent(childrenNamed(r, NS.D, 'href')[0] ?? r).trim();
    for (const ps of childrenNamed(r, NS.D, 'propstat')) {
      for (const prop of childrenNamed(ps, NS.D, 'prop')) {
        for (const p of prop.children) if (nameOf(p) === name) out[href] = textContent(p);
      }
    }
  }
  return out;
}

const PROPFIND = (props: string): string =>
  `<?xml version="1.0"?><D:propfind xmlns:D="DAV:">${props}</D:propfind>`;
const QUERY = (filter: string): string =>
  `<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>${filter}</C:calendar-query>`;

describe('Radicale 3.1.8 and Almanac answer the same', () => {
  it('PROPFIND without a Depth header: Depth 0', async () => {
    const [r, a] = await both('PROPFIND', '/alice/cal/', PROPFIND('<D:prop><D:getetag/></D:prop>'));
    assert.deepEqual([r.status, a.status], [207, 207]);
    assert.deepEqual(members(a.text), members(r.text));
    assert.deepEqual(members(a.text).found, ['/alice/cal/']);
  });

  it('content types: GET of an item and of the calendar, getcontenttype of both', async () => {
    for (const path of ['/alice/cal/e1.ics', '/alice/cal/']) {
      const [r, a] = await both('GET', path);
      assert.deepEqual([r.status, a.status], [200, 200], path);
      assert.equal(a.type, r.type, path);
    }
    const [r, a] = await both('PROPFIND', '/alice/cal/', PROPFIND('<D:prop><D:getcontenttype/></D:prop>'), {
      Depth: '1',
    });
    assert.deepEqual(values(a.text, '{DAV:}getcontenttype'), values(r.text, '{DAV:}getcontenttype'));
  });

  it('allprop of a calendar includes its sync-token', async () => {
    const [r, a] = await both('PROPFIND', '/alice/cal/', PROPFIND('<D:allprop/>'), { Depth: '0' });
    for (const answer of [r, a]) {
      assert.match(
        values(answer.text, '{DAV:}sync-token')['/alice/cal/'] ?? '',
        /^http:\/\/radicale\.org\/ns\/sync\//,
      );
    }
  });

  it('MKCALENDAR on an existing calendar: 409 resource-must-be-null', async () => {
    const [r, a] = await both('MKCALENDAR', '/alice/cal/');
    assert.deepEqual([r.status, a.status], [409, 409]);
    // The preconditions only: Almanac's s:message explains them.
    assert.deepEqual(preconditions(a.text), preconditions(r.text));
    assert.deepEqual(preconditions(a.text), ['{DAV:}resource-must-be-null']);
  });

  it("extended MKCOL with the <create> body of Radicale's documentation", async () => {
    const body = `<?xml version="1.0" encoding="UTF-8" ?><create xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><set><prop><resourcetype><collection /><CR:addressbook /></resourcetype><displayname>Book</displayname></prop></set></create>`;
    const [r, a] = await both('MKCOL', '/alice/book/', body);
    assert.deepEqual([r.status, a.status], [201, 201]);
    const [pr, pa] = await both(
      'PROPFIND',
      '/alice/book/',
      PROPFIND('<D:prop><D:resourcetype/><D:displayname/></D:prop>'),
      { Depth: '0' },
    );
    assert.deepEqual(values(pa.text, '{DAV:}displayname'), values(pr.text, '{DAV:}displayname'));
  });

  it('calendar-query without a filter, with an empty one, with an empty time range', async () => {
    const filters = [
      '',
      '<C:filter/>',
      '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20240201T000000Z" end="20240101T000000Z"/></C:comp-filter></C:comp-filter></C:filter>',
    ];
    for (const filter of filters) {
      const [r, a] = await both('REPORT', '/alice/cal/', QUERY(filter), { Depth: '1' });
      assert.deepEqual([r.status, a.status], [207, 207], filter);
      assert.deepEqual(members(a.text), members(r.text), filter);
    }
  });

  it('a multiget with allprop or no prop answers the same members (Almanac with well-formed responses)', async () => {
    for (const sel of ['<D:allprop/>', '']) {
      const body = `<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">${sel}<D:href>/alice/cal/e1.ics</D:href><D:href>/alice/cal/none.ics</D:href></C:calendar-multiget>`;
      const [r, a] = await both('REPORT', '/alice/cal/', body, { Depth: '1' });
      assert.deepEqual([r.status, a.status], [207, 207]);
      assert.deepEqual(members(a.text), members(r.text));
      for (const resp of responses(a.text)) {
        const answered =
          childrenNamed(resp, NS.D, 'status').length + childrenNamed(resp, NS.D, 'propstat').length;
        assert.ok(answered > 0, a.text);
      }
    }
  });

  it('DELETE of an item: 200 with a multistatus naming it with 200', async () => {
    const [r, a] = await both('DELETE', '/alice/cal/t1.ics');
    assert.deepEqual([r.status, a.status], [200, 200]);
    assert.deepEqual(members(a.text), members(r.text));
    assert.deepEqual(members(a.text).found, ['/alice/cal/t1.ics']);
  });
});
