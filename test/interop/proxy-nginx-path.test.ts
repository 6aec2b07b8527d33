/**
 * The seed's first nginx configuration (Almanac under /radicale/, X-Script-Name, X-Forwarded-For,
 * proxy_pass_header Authorization) with Debian's real nginx: a whole client session through the proxy, every
 * href carrying the prefix, and python3-caldav syncing through it.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAlmanac } from '../helpers/almanac.js';
import { hrefsIn, httpRequest, nginxDir, requireTools, startNginx, type HttpReply } from './helpers/nginx.js';

const ALICE = ['alice', 'alicepw'] as const;

/** The seed's block, with Almanac's port; `extra` adds directives for the variants tested below. */
function seedLocation(almanacPort: number, extra = ''): string {
  return `
    location /radicale/ { # The trailing / is important!
        proxy_pass        http://127.0.0.1:${almanacPort}/; # The / is important!
        proxy_set_header  X-Script-Name /radicale;
        proxy_set_header  X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_pass_header Authorization;
        ${extra}
    }`;
}

const EVENT = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//almanac tests//EN',
  'BEGIN:VEVENT',
  'UID:proxy-event-1',
  'DTSTAMP:20240101T000000Z',
  'DTSTART:20240610T100000Z',
  'DTEND:20240610T110000Z',
  'SUMMARY:Through the proxy',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

const CALENDAR_QUERY = `<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="20240601T000000Z" end="20240701T000000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>`;

function syncCollection(token: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:">
  <D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>
</D:sync-collection>`;
}

const PROPFIND_PRINCIPAL = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:current-user-principal/><D:principal-URL/><C:calendar-home-set/></D:prop>
</D:propfind>`;

const PROPFIND_LIST = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/><D:displayname/></D:prop></D:propfind>`;

const MKCALENDAR = `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>Proxied</D:displayname></D:prop></D:set>
</C:mkcalendar>`;

/** Collects every href and Location of the session, so one assertion can check them all. */
class Session {
  readonly seen: string[] = [];
  constructor(readonly base: string) {}

  async send(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<HttpReply> {
    const type: Record<string, string> =
      body === undefined
        ? {}
        : { 'Content-Type': path.endsWith('.ics') ? 'text/calendar' : 'application/xml' };
    const reply = await httpRequest(`${this.base}${path}`, method, {
      auth: ALICE,
      body,
      headers: { ...type, ...headers },
    });
    this.seen.push(...hrefsIn(reply.body));
    const location = reply.headers.location;
    if (location !== undefined) this.seen.push(new URL(location, this.base).pathname);
    return reply;
  }
}

function syncToken(body: string): string {
  const m = /<(?:[\w-]+:)?sync-token>([^<]+)</.exec(body);
  assert.ok(m?.[1], `no sync-token in ${body}`);
  return m[1];
}

describe('seed configuration 1: nginx under /radicale/ with X-Script-Name', () => {
  it('serves a full client session and every href carries /radicale/', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const almanac = await startAlmanac();
    t.after(() => almanac.stop());
    const nginx = await startNginx(nginxDir(), { locations: seedLocation(almanac.port) });
    t.after(() => nginx.stop());
    const s = new Session(nginx.url);

    const discovery = await s.send('GET', '/radicale/.well-known/caldav');
    assert.equal(discovery.status, 301, nginx.errorLog());
    assert.equal(new URL(discovery.headers.location ?? '', nginx.url).pathname, '/radicale/');

    const root = await s.send('PROPFIND', '/radicale/', PROPFIND_PRINCIPAL, { Depth: '0' });
    assert.equal(root.status, 207);
    assert.match(root.body, /current-user-principal>\s*<(?:[\w-]+:)?href>\/radicale\/alice\/</);

    const home = await s.send('PROPFIND', '/radicale/alice/', PROPFIND_PRINCIPAL, { Depth: '0' });
    assert.equal(home.status, 207);
    assert.match(home.body, /calendar-home-set>\s*<(?:[\w-]+:)?href>\/radicale\/alice\/</);

    assert.equal((await s.send('MKCALENDAR', '/radicale/alice/cal/', MKCALENDAR)).status, 201);
    const initial = syncToken((await s.send('REPORT', '/radicale/alice/cal/', syncCollection(''))).body);

    const put = await s.send('PUT', '/radicale/alice/cal/event1.ics', EVENT);
    assert.equal(put.status, 201);
    assert.ok(put.headers.etag);

    const listing = await s.send('PROPFIND', '/radicale/alice/cal/', PROPFIND_LIST, { Depth: '1' });
    assert.equal(listing.status, 207);
    assert.deepEqual(hrefsIn(listing.body).sort(), [
      '/radicale/alice/cal/',
      '/radicale/alice/cal/event1.ics',
    ]);

    const query = await s.send('REPORT', '/radicale/alice/cal/', CALENDAR_QUERY, { Depth: '1' });
    assert.equal(query.status, 207);
    assert.deepEqual(hrefsIn(query.body), ['/radicale/alice/cal/event1.ics']);

    const sync1 = await s.send('REPORT', '/radicale/alice/cal/', syncCollection(initial));
    assert.equal(sync1.status, 207);
    assert.deepEqual(hrefsIn(sync1.body), ['/radicale/alice/cal/event1.ics']);

    assert.ok([200, 204].includes((await s.send('DELETE', '/radicale/alice/cal/event1.ics')).status));
    const sync2 = await s.send('REPORT', '/radicale/alice/cal/', syncCollection(syncToken(sync1.body)));
    assert.equal(sync2.status, 207);
    assert.deepEqual(hrefsIn(sync2.body), ['/radicale/alice/cal/event1.ics']);
    assert.match(sync2.body, /404 Not Found/);

    assert.ok(s.seen.length >= 10, `only ${s.seen.length} hrefs seen`);
    const stray = s.seen.filter((h) => !h.startsWith('/radicale/'));
    assert.deepEqual(stray, [], 'hrefs without the proxy prefix');
  });

  it('recognises a MOVE Destination naming the proxy when nginx forwards the Host', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const almanac = await startAlmanac();
    t.after(() => almanac.stop());
    const extra = 'proxy_set_header  X-Forwarded-Host $http_host;';
    const nginx = await startNginx(nginxDir(), { locations: seedLocation(almanac.port, extra) });
    t.after(() => nginx.stop());
    const s = new Session(nginx.url);
    assert.equal((await s.send('MKCALENDAR', '/radicale/alice/cal/', MKCALENDAR)).status, 201);
    assert.equal((await s.send('PUT', '/radicale/alice/cal/a.ics', EVENT)).status, 201);
    const move = await s.send('MOVE', '/radicale/alice/cal/a.ics', undefined, {
      Destination: `${nginx.url}/radicale/alice/cal/b.ics`,
    });
    assert.equal(move.status, 201);
    assert.equal((await s.send('GET', '/radicale/alice/cal/b.ics')).status, 200);
    assert.equal((await s.send('GET', '/radicale/alice/cal/a.ics')).status, 404);
  });

  it('answers 400 to an invalid X-Script-Name from the proxy, and ignores one from an untrusted client', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const almanac = await startAlmanac({ config: { server: { trusted_proxies: '127.0.0.1' } } });
    t.after(() => almanac.stop());
    const bad = seedLocation(almanac.port).replace(
      'X-Script-Name /radicale;',
      'X-Script-Name /radicale/../etc;',
    );
    const nginx = await startNginx(nginxDir(), { locations: bad });
    t.after(() => nginx.stop());
    const reply = await httpRequest(`${nginx.url}/radicale/`, 'PROPFIND', {
      auth: ALICE,
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0' },
    });
    assert.equal(reply.status, 400);

    // 127.0.0.3 is not a trusted proxy: its X-Script-Name does not change the hrefs.
    const direct = await httpRequest(`${almanac.url}/`, 'PROPFIND', {
      auth: ALICE,
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0', 'X-Script-Name': '/elsewhere' },
      localAddress: '127.0.0.3',
    });
    assert.equal(direct.status, 207);
    assert.deepEqual(hrefsIn(direct.body).slice(0, 2), ['/', '/alice/']);
  });

  it('refuses an X-Script-Name that is not one absolute path, so no Location or href points elsewhere', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const almanac = await startAlmanac();
    t.after(() => almanac.stop());
    for (const value of ['//evil.example', '//evil.example/radicale', '/radicale//x', 'radicale']) {
      const location = seedLocation(almanac.port).replace(
        'X-Script-Name /radicale;',
        `X-Script-Name "${value}";`,
      );
      const nginx = await startNginx(nginxDir(), { locations: location });
      try {
        for (const [method, path] of [
          ['GET', '/radicale/.well-known/caldav'],
          ['GET', '/radicale/'],
          ['PROPFIND', '/radicale/'],
        ] as const) {
          const reply = await httpRequest(`${nginx.url}${path}`, method, {
            auth: ALICE,
            ...(method === 'PROPFIND' ? { body: PROPFIND_PRINCIPAL, headers: { Depth: '0' } } : {}),
          });
          assert.equal(reply.status, 400, `${value}: ${method} ${path}`);
          assert.equal(reply.headers.location, undefined, value);
          assert.doesNotMatch(reply.body, /evil/, value);
        }
      } finally {
        await nginx.stop();
      }
    }
  });

  it('percent-encodes the X-Script-Name prefix in hrefs and Location', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const almanac = await startAlmanac();
    t.after(() => almanac.stop());
    const location = seedLocation(almanac.port)
      .replace('location /radicale/ {', 'location "/a b/" {')
      .replace('X-Script-Name /radicale;', 'X-Script-Name "/a b";');
    const nginx = await startNginx(nginxDir(), { locations: location });
    t.after(() => nginx.stop());
    const s = new Session(nginx.url);
    const discovery = await s.send('GET', '/a%20b/.well-known/caldav');
    assert.equal(discovery.status, 301, nginx.errorLog());
    assert.equal(discovery.headers.location, '/a%20b/');
    const root = await s.send('PROPFIND', '/a%20b/', PROPFIND_PRINCIPAL, { Depth: '0' });
    assert.equal(root.status, 207);
    assert.match(root.body, /current-user-principal>\s*<(?:[\w-]+:)?href>\/a%20b\/alice\/</);
    assert.equal((await s.send('MKCALENDAR', '/a%20b/alice/cal/', MKCALENDAR)).status, 201);
    assert.equal((await s.send('PUT', '/a%20b/alice/cal/event1.ics', EVENT)).status, 201);
    const listing = await s.send('PROPFIND', '/a%20b/alice/cal/', PROPFIND_LIST, { Depth: '1' });
    assert.deepEqual(hrefsIn(listing.body).sort(), ['/a%20b/alice/cal/', '/a%20b/alice/cal/event1.ics']);
    // A Destination in the same (encoded) form is recognised as this server.
    const move = await s.send('MOVE', '/a%20b/alice/cal/event1.ics', undefined, {
      Destination: '/a%20b/alice/cal/moved.ics',
    });
    assert.equal(move.status, 201);
    assert.equal((await s.send('GET', '/a%20b/alice/cal/moved.ics')).status, 200);
    assert.deepEqual(
      s.seen.filter((h) => !h.startsWith('/a%20b/')),
      [],
      'hrefs without the encoded prefix',
    );
  });

  it('lets python3-caldav discover, create a calendar, save an event and search through nginx', async (t: TestContext) => {
    if (!requireTools(t, ['nginx'], 'apt-get install nginx')) return;
    const python = '/usr/bin/python3';
    const hasCaldav = await run(python, ['-c', 'import caldav']).then(
      () => true,
      () => false,
    );
    if (!hasCaldav) {
      if (process.env.CI === 'true')
        throw new Error('python3-caldav missing: apt-get install python3-caldav');
      t.skip('python3-caldav missing: apt-get install python3-caldav');
      return;
    }
    const almanac = await startAlmanac();
    t.after(() => almanac.stop());
    const dir = nginxDir();
    const nginx = await startNginx(dir, { locations: seedLocation(almanac.port) });
    t.after(() => nginx.stop());
    const script = join(dir, 'client.py');
    writeFileSync(script, CALDAV_SCRIPT);
    const out = await run(python, [script, `${nginx.url}/radicale/`, ...ALICE, EVENT]);
    const result = JSON.parse(out) as CaldavResult;
    assert.equal(result.principal, `${nginx.url}/radicale/alice/`);
    assert.ok(result.calendars.includes(`${nginx.url}/radicale/alice/pycal/`), out);
    assert.deepEqual(result.found, ['proxy-event-1']);
    assert.equal(result.synced, 1);
    const stored = await almanac.store.listItems('alice/pycal');
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.uid, 'proxy-event-1');
  });
});

interface CaldavResult {
  principal: string;
  calendars: string[];
  found: string[];
  synced: number;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A python3-caldav client session: discovery from the root URL, then create, save, search and sync. */
const CALDAV_SCRIPT = `
import json, sys
from datetime import datetime
import caldav

url, user, password, event = sys.argv[1:5]
client = caldav.DAVClient(url=url, username=user, password=password)
principal = client.principal()
calendar = principal.make_calendar(name="Python", cal_id="pycal")
calendar.save_event(event)
found = calendar.date_search(start=datetime(2024, 6, 1), end=datetime(2024, 7, 1))
uids = [e.vobject_instance.vevent.uid.value for e in found]
synced = calendar.objects_by_sync_token(load_objects=True)
print(json.dumps({
    "principal": str(principal.url),
    "calendars": [str(c.url) for c in principal.calendars()],
    "found": uids,
    "synced": len(list(synced)),
}))
`;
