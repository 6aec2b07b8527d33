/**
 * Rights over HTTP: owner_only, owner_write, authenticated, from_file with a public calendar, and
 * anonymous access.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  D,
  DavClient,
  mkcalendar,
  parseMultistatus,
  preconditions,
  put,
  report,
  vevent,
  type DavResult,
} from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';

const multiget = `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>/alice/cal/a.ics</D:href></C:calendar-multiget>`;

/** from_file rules after the ones a test adds: the root readable, each user's home and calendars their own. */
const OWNER_RULES = [
  '[root]',
  'user: .+',
  'collection:',
  'permissions: R',
  '',
  '[owner-principal]',
  'user: .+',
  'collection: {user}',
  'permissions: RW',
  '',
  '[owner-children]',
  'user: .+',
  'collection: {user}/[^/]+',
  'permissions: rw',
  '',
];

async function seed(c: DavClient): Promise<void> {
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
  await c.propfind('/', [D('current-user-principal')], '0', 'bob');
}

describe('owner_only (default)', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac();
    c = new DavClient(server.url);
    await seed(c);
  });
  after(async () => server.stop());

  it("bob cannot GET, PROPFIND or REPORT alice's calendar: 403", async () => {
    assert.equal((await c.request('GET', '/alice/cal/a.ics', { user: 'bob' })).status, 403);
    assert.equal((await c.request('GET', '/alice/cal/', { user: 'bob' })).status, 403);
    assert.equal((await c.propfind('/alice/cal/', [D('getetag')], '0', 'bob')).status, 403);
    assert.equal((await c.propfind('/alice/', [D('getetag')], '1', 'bob')).status, 403);
    assert.equal((await report(c, '/alice/cal/', multiget, '1', 'bob')).status, 403);
  });

  it("bob cannot write, delete, move or create in alice's home: 403 and nothing changes", async () => {
    assert.equal((await put(c, '/alice/cal/a.ics', vevent('a', { summary: 'bob' }), 'bob')).status, 403);
    assert.equal((await put(c, '/alice/cal/b.ics', vevent('b'), 'bob')).status, 403);
    assert.equal((await c.request('DELETE', '/alice/cal/a.ics', { user: 'bob' })).status, 403);
    assert.equal((await c.request('DELETE', '/alice/cal/', { user: 'bob' })).status, 403);
    assert.equal((await mkcalendar(c, '/alice/bobcal/', 'bob')).status, 403);
    assert.equal(
      (await c.request('MOVE', '/alice/cal/a.ics', { user: 'bob', headers: { Destination: '/bob/a.ics' } }))
        .status,
      403,
    );
    const g = await c.request('GET', '/alice/cal/a.ics', { user: 'alice' });
    assert.equal(g.status, 200);
    assert.doesNotMatch(g.text, /bob/);
    assert.equal((await c.request('GET', '/alice/cal/b.ics', { user: 'alice' })).status, 404);
  });

  it("bob cannot copy alice's item into his own calendar", async () => {
    assert.equal((await mkcalendar(c, '/bob/cal/', 'bob')).status, 201);
    const r = await c.request('COPY', '/alice/cal/a.ics', {
      user: 'bob',
      headers: { Destination: '/bob/cal/a.ics' },
    });
    assert.equal(r.status, 403);
    assert.equal((await c.request('GET', '/bob/cal/a.ics', { user: 'bob' })).status, 404);
  });

  it("the multiget of alice's href from bob's calendar does not leak it", async () => {
    const r = await report(c, '/bob/cal/', multiget, '1', 'bob');
    assert.ok(r.status === 207 || r.status === 403, String(r.status));
    assert.doesNotMatch(r.text, /UID:a/);
  });

  it('anonymous requests are 401 with WWW-Authenticate', async () => {
    for (const m of ['GET', 'PROPFIND', 'PUT', 'DELETE', 'REPORT']) {
      const r = await c.request(m, '/alice/cal/a.ics', { headers: { Depth: '0' } });
      assert.equal(r.status, 401, m);
      assert.match(String(r.headers['www-authenticate']), /^Basic realm="[^"]*"/);
    }
  });

  it('a wrong password is 401', async () => {
    const r = await c.request('PROPFIND', '/alice/', { user: 'alice:wrong', headers: { Depth: '0' } });
    assert.equal(r.status, 401);
  });

  it('the root is readable, listing only what the user may read', async () => {
    const r = await c.propfind('/', [D('resourcetype')], '1', 'bob');
    assert.equal(r.status, 207);
    const hrefs = [...parseMultistatus(r.text).props.keys()];
    assert.ok(hrefs.includes('/bob/'));
    assert.ok(!hrefs.includes('/alice/'), hrefs.join(' '));
  });
});

describe('owner_write', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac({ config: { rights: { type: 'owner_write' } } });
    c = new DavClient(server.url);
    await seed(c);
  });
  after(async () => server.stop());

  it("bob can read alice's calendar", async () => {
    const g = await c.request('GET', '/alice/cal/a.ics', { user: 'bob' });
    assert.equal(g.status, 200);
    assert.match(g.text, /UID:a/);
    assert.equal((await c.propfind('/alice/cal/', [D('getetag')], '1', 'bob')).status, 207);
    assert.equal((await report(c, '/alice/cal/', multiget, '1', 'bob')).status, 207);
  });

  it("bob cannot write to alice's calendar", async () => {
    assert.equal((await put(c, '/alice/cal/b.ics', vevent('b'), 'bob')).status, 403);
    assert.equal((await c.request('DELETE', '/alice/cal/a.ics', { user: 'bob' })).status, 403);
    const pp = `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>`;
    assert.equal((await c.request('PROPPATCH', '/alice/cal/', { user: 'bob', body: pp })).status, 403);
  });

  it('privileges show read without write for bob', async () => {
    const r = await c.propfind('/alice/cal/', [D('current-user-privilege-set')], '0', 'bob');
    const p = parseMultistatus(r.text).props.get('/alice/cal/')?.get(D('current-user-privilege-set'));
    const privs = (p?.element.children ?? []).flatMap((x) => x.children.map((y) => y.local));
    assert.ok(privs.includes('read'));
    assert.ok(!privs.includes('write'));
  });

  it('anonymous is still 401', async () => {
    assert.equal((await c.request('GET', '/alice/cal/a.ics')).status, 401);
  });
});

describe('authenticated', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac({ config: { rights: { type: 'authenticated' } } });
    c = new DavClient(server.url);
    await seed(c);
  });
  after(async () => server.stop());

  it('plain MKCOL at principal level is allowed (W) and its child calendar (w)', async () => {
    assert.equal((await c.request('MKCOL', '/shared/', { user: 'alice' })).status, 201);
    assert.equal((await mkcalendar(c, '/shared/team/', 'bob')).status, 201);
    assert.equal((await put(c, '/shared/team/t.ics', vevent('t'), 'alice')).status, 201);
  });

  it('nothing deeper than two levels', async () => {
    assert.equal((await c.request('MKCOL', '/shared/plain/', { user: 'alice' })).status, 403);
  });
});

describe('from_file with a public calendar', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'almanac-rights-'));
    const file = join(dir, 'rights');
    writeFileSync(
      file,
      [
        // First matching rule wins: the admin rule must come before the public read rule.
        '[public-admin]',
        'user: alice',
        'collection: public(/calendar)?',
        'permissions: RWrw',
        '',
        '[public]',
        'user: .*',
        'collection: public/calendar(/[^/]+)?',
        'permissions: rR',
        '',
        ...OWNER_RULES,
      ].join('\n'),
    );
    server = await startAlmanac({ config: { rights: { type: 'from_file', file } } });
    c = new DavClient(server.url);
    await seed(c);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('alice creates the public calendar; anonymous and bob can read it', async () => {
    assert.equal((await c.request('MKCOL', '/public/', { user: 'alice' })).status, 201);
    assert.equal((await mkcalendar(c, '/public/calendar/')).status, 201);
    assert.equal((await put(c, '/public/calendar/p.ics', vevent('pub'))).status, 201);
    const anon = await c.request('GET', '/public/calendar/p.ics');
    assert.equal(anon.status, 200);
    assert.match(anon.text, /UID:pub/);
    assert.equal((await c.request('GET', '/public/calendar/')).status, 200);
    assert.equal((await c.request('GET', '/public/calendar/p.ics', { user: 'bob' })).status, 200);
  });

  it('anonymous and bob cannot write the public calendar', async () => {
    assert.equal((await put(c, '/public/calendar/x.ics', vevent('x'), 'bob')).status, 403);
    const anon = await c.request('PUT', '/public/calendar/y.ics', {
      body: vevent('y'),
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(anon.status, 401);
    assert.equal((await c.request('GET', '/public/calendar/x.ics', { user: 'alice' })).status, 404);
  });

  it('private calendars stay private', async () => {
    assert.equal((await c.request('GET', '/alice/cal/a.ics', { user: 'bob' })).status, 403);
    assert.equal((await c.request('GET', '/alice/cal/a.ics')).status, 401);
  });
});

describe('existence is not revealed without rights', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac();
    c = new DavClient(server.url);
    await seed(c);
  });
  after(async () => server.stop());

  it("bob gets the same 403 for alice's existing and missing resources", async () => {
    for (const [m, p] of [
      ['GET', '/alice/cal/a.ics'],
      ['GET', '/alice/cal/missing.ics'],
      ['PROPFIND', '/alice/cal/'],
      ['PROPFIND', '/alice/missing/'],
      ['DELETE', '/alice/cal/missing.ics'],
      ['REPORT', '/alice/missing/'],
    ] as const) {
      const r = await c.request(m, p, { user: 'bob', headers: { Depth: '0' } });
      assert.equal(r.status, 403, `${m} ${p}`);
    }
  });

  it('anonymous gets 401 for missing resources too', async () => {
    for (const p of ['/alice/missing/', '/nobody/', '/alice/cal/missing.ics']) {
      const r = await c.request('PROPFIND', p, { headers: { Depth: '0' } });
      assert.equal(r.status, 401, p);
    }
  });

  it('the owner still gets 404 for a missing resource', async () => {
    assert.equal((await c.request('GET', '/alice/cal/missing.ics', { user: 'alice' })).status, 404);
    assert.equal((await c.propfind('/alice/missing/', [D('getetag')], '0')).status, 404);
  });
});

describe('anonymous clients allowed to write: only a rights denial asks them to log in', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  let dir: string;
  const anon = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    c.request(method, path, { ...(body === undefined ? {} : { body }), headers });
  const calendarPut = (path: string, body: string) =>
    anon('PUT', path, body, { 'Content-Type': 'text/calendar; charset=utf-8' });
  /** A content error: 403 with its precondition, and no login prompt. */
  const refusedForContent = (r: DavResult, precondition: string): void => {
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers['www-authenticate'], undefined);
    assert.deepEqual(preconditions(r.text), [precondition]);
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'almanac-rights-anon-'));
    const file = join(dir, 'rights');
    writeFileSync(
      file,
      [
        '[shared]',
        'user: .*',
        'collection: shared(/.*)?',
        'permissions: RWrw',
        '',
        '[owner]',
        'user: .+',
        'collection: {user}(/.*)?',
        'permissions: RWrw',
        '',
      ].join('\n'),
    );
    server = await startAlmanac({ config: { rights: { type: 'from_file', file } } });
    c = new DavClient(server.url);
    await seed(c);
    assert.equal((await anon('MKCOL', '/shared/')).status, 201);
    assert.equal((await anon('MKCALENDAR', '/shared/cal/')).status, 201);
    assert.equal((await calendarPut('/shared/cal/ok.ics', vevent('ok'))).status, 201);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('invalid data and a missing UID are 403 with the precondition, not 401', async () => {
    refusedForContent(await calendarPut('/shared/cal/bad.ics', 'not a calendar'), C('valid-calendar-data'));
    const noUid = vevent('x').replace(/^UID:.*\r\n/m, '');
    assert.doesNotMatch(noUid, /UID:/);
    refusedForContent(await calendarPut('/shared/cal/nouid.ics', noUid), C('valid-calendar-data'));
    assert.equal((await anon('GET', '/shared/cal/bad.ics')).status, 404);
  });

  it('an invalid sync token is 403 valid-sync-token, not 401', async () => {
    const r = await anon(
      'REPORT',
      '/shared/cal/',
      '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>http://radicale.org/ns/sync/nonsense</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>',
      { 'Content-Type': 'application/xml' },
    );
    refusedForContent(r, D('valid-sync-token'));
  });

  it('a calendar where a resource already exists is refused without a login prompt', async () => {
    const r = await anon('MKCALENDAR', '/shared/cal/');
    assert.ok(r.status === 403 || r.status === 405 || r.status === 409, `${r.status} ${r.text}`);
    assert.equal(r.headers['www-authenticate'], undefined);
  });

  it('a rights denial is 401 with WWW-Authenticate, and logging in then works', async () => {
    for (const r of [
      await calendarPut('/alice/cal/anon.ics', vevent('anon')),
      await anon('PROPFIND', '/alice/cal/', undefined, { Depth: '0' }),
      await anon('DELETE', '/alice/cal/a.ics'),
    ]) {
      assert.equal(r.status, 401, r.text);
      assert.match(String(r.headers['www-authenticate']), /^Basic realm="[^"]*", charset="UTF-8"$/);
    }
    assert.equal((await put(c, '/alice/cal/alice.ics', vevent('alice'))).status, 201);
  });

  it('a logged-in user gets 403 for a rights denial', async () => {
    const r = await put(c, '/alice/cal/bob.ics', vevent('bob'), 'bob');
    assert.equal(r.status, 403);
    assert.equal(r.headers['www-authenticate'], undefined);
  });
});

describe('group calendars under GROUPS/ (a [group] source and from_file rules with groups:)', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  let dir: string;
  // Radicale's place for the collection of a group: GROUPS/<base64 of its name>.
  const team = `GROUPS/${Buffer.from('team', 'utf8').toString('base64')}`;
  const teamHref = `/GROUPS/${encodeURIComponent(Buffer.from('team', 'utf8').toString('base64'))}/`;
  const empty = `GROUPS/${Buffer.from('empty', 'utf8').toString('base64')}`;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'almanac-groups-'));
    const rights = join(dir, 'rights');
    const groups = join(dir, 'groups');
    writeFileSync(groups, 'team: alice bob\nempty: alice\nnobody-has-it: alice\n');
    writeFileSync(
      rights,
      [
        '[team]',
        'groups: team',
        `collection: ${team.replace(/[+=]/g, '\\$&')}(/[^/]+)?`,
        'permissions: rw',
        '',
        ...OWNER_RULES,
      ].join('\n'),
    );
    server = await startAlmanac({
      users: { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' },
      config: {
        rights: { type: 'from_file', file: rights },
        group: { type: 'htgroup', htgroup_filename: groups },
      },
    });
    c = new DavClient(server.url, { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' });
    const ctx = { user: '', path: '/', request: 'MKCOL' };
    await server.store.createCollection('GROUPS', {}, ctx);
    await server.store.createCollection(team, { tag: 'VCALENDAR', 'D:displayname': 'Team' }, ctx);
    // A group collection the rights do not open to anyone.
    await server.store.createCollection(empty, { tag: 'VCALENDAR' }, ctx);
    for (const u of ['alice', 'bob', 'carol']) await c.propfind('/', [D('current-user-principal')], '0', u);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    assert.equal((await put(c, `/${team}/t.ics`, vevent('t'), 'bob')).status, 201);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const listed = async (path: string, user: string, depth = '1'): Promise<string[]> => {
    const r = await c.propfind(path, [D('resourcetype'), D('displayname')], depth, user);
    assert.equal(r.status, 207, r.text);
    return [...parseMultistatus(r.text).props.keys()].sort();
  };

  it("a member's Depth 1 listing of their home lists the group's calendar, as Radicale does", async () => {
    assert.deepEqual(await listed('/alice/', 'alice'), [teamHref, '/alice/', '/alice/cal/'].sort());
    assert.deepEqual(await listed('/bob/', 'bob'), [teamHref, '/bob/'].sort());
    const r = await c.propfind('/bob/', [D('resourcetype'), D('displayname')], '1', 'bob');
    const p = parseMultistatus(r.text).props.get(teamHref);
    assert.equal(textContent(p?.get(D('displayname'))?.element ?? parseMultistatus(r.text).root), 'Team');
    assert.ok(p?.get(D('resourcetype'))?.element.children.some((k) => k.local === 'calendar'));
  });

  it('nobody else sees it, nor in other listings, nor at Depth 0', async () => {
    assert.deepEqual(await listed('/carol/', 'carol'), ['/carol/']);
    assert.deepEqual(await listed('/alice/cal/', 'alice'), ['/alice/cal/']);
    assert.deepEqual(await listed('/alice/', 'alice', '0'), ['/alice/']);
  });

  it('the group calendar works for its members through its own path', async () => {
    const r = await c.propfind(teamHref, [D('getetag')], '1', 'alice');
    assert.equal(r.status, 207);
    assert.ok(parseMultistatus(r.text).props.has(`${teamHref}t.ics`));
    assert.equal((await c.request('GET', `${teamHref}t.ics`, { user: 'carol' })).status, 403);
  });
});
