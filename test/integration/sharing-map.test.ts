/**
 * Map shares over HTTP, from a csv database as Radicale writes it (on PostgreSQL storage, imported into
 * the table at start-up): the owner's collection at the sharee's
 * path with the share's permission letters on every method, hrefs in the sharee's paths, hidden shares
 * absent from listings, disabled shares refused, `:group` and `@realm` shares, and the ways out a sharee
 * might try (the owner's home, multiget of the owner's hrefs, MOVE out of the share).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { createTestDatabase, dropTestDatabase } from '../helpers/postgres.js';
import { D, DavClient, mkcalendar, parseMultistatus, put, report, vevent } from './helpers/dav-client.js';
import { SHARE_FIELDS } from '../../src/sharing/record.js';
import type { Change } from '../../src/notify/changes.js';
import { hookItems } from '../../src/notify/hooks/notification.js';

const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw', 'dave@example.org': 'davepw' };

function row(over: Record<string, string>): string {
  const base: Record<string, string> = {
    ShareType: 'map',
    PathOrToken: '',
    PathMapped: '/alice/cal/',
    Conversion: 'none',
    Owner: 'alice',
    User: 'bob',
    Permissions: 'r',
    EnabledByOwner: 'True',
    EnabledByUser: 'True',
    HiddenByOwner: 'False',
    HiddenByUser: 'False',
    TimestampCreated: '1767225600',
    TimestampUpdated: '1767225600',
    Properties: '{}',
    Actions: '{}',
    ...over,
  };
  return SHARE_FIELDS.map((f) => base[f] ?? '').join(';');
}

const SHARES = [
  row({ PathOrToken: '/bob/alice-cal/', Properties: "{'D:displayname': 'From Alice'}" }),
  row({
    PathOrToken: '/bob/alice-rw/',
    PathMapped: '/alice/work/',
    Permissions: 'rw',
    HiddenByOwner: 'True',
  }),
  row({ PathOrToken: '/bob/off/', EnabledByUser: 'False' }),
  row({ PathOrToken: '/bob/owner-off/', EnabledByOwner: 'False' }),
  row({ PathOrToken: '/bob/user-hidden/', HiddenByUser: 'True' }),
  row({ PathOrToken: '/bob/export/', Permissions: 'i' }),
  row({ PathOrToken: '/{user}/team/', PathMapped: '/alice/team/', User: ':staff,dev', Permissions: 'rwep' }),
  row({ PathOrToken: '/{user}/realm/', User: '@example.org' }),
];

const hrefs = (text: string): string[] => [...parseMultistatus(text).props.keys()].sort();

describe('map shares', () => {
  let server: RunningAlmanac;
  let database: string | undefined;
  let c: DavClient;
  before(async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'almanac-share-'));
    const folder = join(tmp, 'collections');
    mkdirSync(join(folder, 'collection-db'), { recursive: true });
    writeFileSync(
      join(folder, 'collection-db', 'sharing.csv'),
      [SHARE_FIELDS.join(';'), ...SHARES].join('\r\n') + '\r\n',
    );
    writeFileSync(join(tmp, 'groups'), 'staff: carol\n');
    // ALMANAC_TEST_STORAGE=postgresql: the same csv, imported into the table at the first start.
    if (process.env.ALMANAC_TEST_STORAGE === 'postgresql') database = await createTestDatabase();
    server = await startAlmanac({
      folder,
      users: USERS,
      config: {
        ...(database ? { storage: { type: 'postgresql', postgresql_url: database } } : {}),
        sharing: { type: 'csv', collection_by_map: 'True' },
        group: { type: 'htgroup', htgroup_filename: join(tmp, 'groups') },
      },
    });
    c = new DavClient(server.url, USERS);
    for (const cal of ['cal', 'work', 'team', 'private']) {
      assert.equal((await mkcalendar(c, `/alice/${cal}/`)).status, 201);
      assert.equal((await put(c, `/alice/${cal}/a.ics`, vevent(`${cal}-a`))).status, 201);
    }
    for (const u of ['bob', 'carol', 'dave@example.org'])
      await c.propfind('/', [D('current-user-principal')], '0', u);
    assert.equal((await mkcalendar(c, '/bob/own/', 'bob')).status, 201);
  });
  after(async () => {
    await server.stop();
    if (database) await dropTestDatabase(database);
  });

  it("serves the owner's items at the sharee's path, with hrefs in the sharee's path", async () => {
    const got = await c.request('GET', '/bob/alice-cal/a.ics', { user: 'bob' });
    assert.equal(got.status, 200);
    assert.match(got.text, /UID:cal-a/);
    const list = await c.propfind('/bob/alice-cal/', [D('getetag'), D('displayname')], '1', 'bob');
    assert.equal(list.status, 207);
    assert.deepEqual(hrefs(list.text), ['/bob/alice-cal/', '/bob/alice-cal/a.ics']);
    assert.doesNotMatch(list.text, /\/alice\//);
    // The overlay's displayname, not the owner's.
    assert.match(list.text, /From Alice/);
    const direct = await c.request('GET', '/alice/cal/a.ics', { user: 'bob' });
    assert.equal(direct.status, 403);
  });

  it('read-only share: PUT, DELETE, PROPPATCH and MKCOL inside are refused; privileges say read', async () => {
    assert.equal((await put(c, '/bob/alice-cal/new.ics', vevent('new'), 'bob')).status, 403);
    assert.equal((await c.request('DELETE', '/bob/alice-cal/a.ics', { user: 'bob' })).status, 403);
    const pp = await c.request('PROPPATCH', '/bob/alice-cal/', {
      user: 'bob',
      body: '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>',
    });
    assert.equal(pp.status, 403);
    const priv = await c.propfind('/bob/alice-cal/', [D('current-user-privilege-set')], '0', 'bob');
    assert.match(priv.text, /<[^>]*read\/>/);
    assert.doesNotMatch(priv.text, /write/);
    assert.equal((await c.request('GET', '/alice/cal/new.ics', { user: 'alice' })).status, 404);
  });

  it('read-write share: PUT and DELETE reach the owner; the share root cannot be deleted', async () => {
    assert.equal((await put(c, '/bob/alice-rw/b.ics', vevent('b'), 'bob')).status, 201);
    const mine = await c.request('GET', '/alice/work/b.ics', { user: 'alice' });
    assert.equal(mine.status, 200);
    assert.match(mine.text, /UID:b/);
    assert.equal((await c.request('DELETE', '/bob/alice-rw/b.ics', { user: 'bob' })).status, 200);
    assert.equal((await c.request('GET', '/alice/work/b.ics', { user: 'alice' })).status, 404);
    assert.equal((await c.request('DELETE', '/bob/alice-rw/', { user: 'bob' })).status, 403);
    assert.equal((await c.request('GET', '/alice/work/a.ics', { user: 'alice' })).status, 200);
  });

  it("letters are the owner's intersected with the share's: an i share over owner rights rw gives nothing", async () => {
    // As Radicale: owner_only gives the owner rw, not i, so the intersection is empty.
    assert.equal((await c.request('GET', '/bob/export/', { user: 'bob' })).status, 403);
    assert.equal((await c.request('GET', '/bob/export/a.ics', { user: 'bob' })).status, 403);
    assert.equal((await c.propfind('/bob/export/', [D('getetag')], '0', 'bob')).status, 403);
  });

  it('Depth 1 of the home lists usable unhidden shares only', async () => {
    const home = await c.propfind('/bob/', [D('resourcetype')], '1', 'bob');
    assert.equal(home.status, 207);
    const listed = hrefs(home.text);
    assert.ok(listed.includes('/bob/alice-cal/'), listed.join(' '));
    assert.ok(listed.includes('/bob/own/'));
    for (const absent of ['/bob/alice-rw/', '/bob/off/', '/bob/owner-off/', '/bob/user-hidden/'])
      assert.ok(!listed.includes(absent), `${absent} listed`);
    // A hidden share is still usable at its path.
    assert.equal((await c.request('GET', '/bob/alice-rw/a.ics', { user: 'bob' })).status, 200);
    assert.equal((await c.request('GET', '/bob/user-hidden/a.ics', { user: 'bob' })).status, 200);
  });

  it("[hook] items of a write through a share: point is the owner's path, actor the sharee (as Radicale 3.8)", async () => {
    const changes: Change[] = [];
    const stop = server.notifier.subscribe((ch) => void changes.push(ch), { content: true, name: 'test' });
    try {
      assert.equal((await put(c, '/bob/alice-rw/hook.ics', vevent('hook'), 'bob')).status, 201);
      assert.equal((await c.request('DELETE', '/bob/alice-rw/hook.ics', { user: 'bob' })).status, 200);
      for (let i = 0; i < 500 && changes.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const items = changes.flatMap(hookItems);
      assert.deepEqual(
        items.map((i) => [i.type, i.point, i.actor]),
        [
          ['upsert', 'alice/work', 'bob'],
          ['delete', 'alice/work', 'bob'],
        ],
      );
    } finally {
      stop();
    }
  });

  it('a share not enabled by both is not there; MKCOL on its path is a conflict', async () => {
    assert.equal((await c.request('GET', '/bob/off/a.ics', { user: 'bob' })).status, 404);
    assert.equal((await c.request('GET', '/bob/owner-off/a.ics', { user: 'bob' })).status, 404);
    assert.equal((await mkcalendar(c, '/bob/off/', 'bob')).status, 409);
    assert.equal((await mkcalendar(c, '/bob/alice-cal/', 'bob')).status, 409);
  });

  it("escape attempts: the owner's home, multiget of owner hrefs, MOVE out of the share", async () => {
    assert.equal((await c.propfind('/alice/', [D('displayname')], '1', 'bob')).status, 403);
    assert.equal((await c.propfind('/alice/private/', [D('displayname')], '1', 'bob')).status, 403);
    const multiget = (hrefList: string[]): string =>
      `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>${hrefList
        .map((h) => `<D:href>${h}</D:href>`)
        .join('')}</C:calendar-multiget>`;
    const r = await report(
      c,
      '/bob/alice-cal/',
      multiget([
        '/bob/alice-cal/a.ics',
        '/alice/private/a.ics',
        '/alice/cal/a.ics',
        '/bob/alice-cal/../../alice/private/a.ics',
      ]),
      '1',
      'bob',
    );
    assert.equal(r.status, 207);
    assert.match(r.text, /UID:cal-a/);
    assert.doesNotMatch(r.text, /UID:private-a/);
    const ms = parseMultistatus(r.text);
    assert.ok(ms.props.has('/bob/alice-cal/a.ics'));
    for (const h of ['/alice/private/a.ics', '/alice/cal/a.ics']) {
      const s = ms.statuses.get(h);
      assert.ok(s === 403 || s === 404, `${h}: ${String(s)}`);
    }
    const move = (from: string, to: string): Promise<{ status: number }> =>
      c.request('MOVE', from, { user: 'bob', headers: { Destination: `${server.url}${to}` } });
    assert.equal((await put(c, '/bob/alice-rw/m.ics', vevent('m'), 'bob')).status, 201);
    assert.equal((await move('/bob/alice-rw/m.ics', '/alice/private/m.ics')).status, 403);
    assert.equal((await move('/bob/alice-rw/m.ics', '/alice/work/m2.ics')).status, 403);
    assert.equal((await move('/bob/alice-cal/a.ics', '/bob/own/a.ics')).status, 403);
    assert.equal((await c.request('GET', '/alice/private/m.ics', { user: 'alice' })).status, 404);
    // Within the share it moves, in the owner's collection.
    assert.equal((await move('/bob/alice-rw/m.ics', '/bob/alice-rw/m2.ics')).status, 201);
    assert.equal((await c.request('GET', '/alice/work/m2.ics', { user: 'alice' })).status, 200);
    // MOVE of the share itself would move the owner's collection: refused.
    assert.equal((await move('/bob/alice-rw/', '/bob/mine/')).status, 403);
  });

  it('sync-collection and calendar-query through the share answer in its hrefs', async () => {
    const sync = await report(
      c,
      '/bob/alice-cal/',
      '<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>',
      '0',
      'bob',
    );
    assert.equal(sync.status, 207);
    assert.deepEqual(hrefs(sync.text), ['/bob/alice-cal/a.ics']);
    const query = await report(
      c,
      '/bob/alice-cal/',
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`,
      '1',
      'bob',
    );
    assert.deepEqual(hrefs(query.text), ['/bob/alice-cal/a.ics']);
  });

  it('a :group share reaches members of the group at /<user>/..., and nobody else', async () => {
    const got = await c.request('GET', '/carol/team/a.ics', { user: 'carol' });
    assert.equal(got.status, 200);
    assert.match(got.text, /UID:team-a/);
    assert.equal((await put(c, '/carol/team/c.ics', vevent('c'), 'carol')).status, 201);
    assert.equal((await c.request('GET', '/alice/team/c.ics', { user: 'alice' })).status, 200);
    assert.equal((await c.request('GET', '/bob/team/a.ics', { user: 'bob' })).status, 404);
    assert.ok(
      hrefs((await c.propfind('/carol/', [D('resourcetype')], '1', 'carol')).text).includes('/carol/team/'),
    );
  });

  it('an @realm share reaches users of the realm', async () => {
    const got = await c.request('GET', '/dave@example.org/realm/a.ics', { user: 'dave@example.org' });
    assert.equal(got.status, 200);
    assert.match(got.text, /UID:cal-a/);
    assert.equal((await c.request('GET', '/bob/realm/a.ics', { user: 'bob' })).status, 404);
  });

  it('the database is left as Radicale wrote it', () => {
    const text = readFileSync(join(server.folder, 'collection-db', 'sharing.csv'), 'utf8');
    assert.equal(text, [SHARE_FIELDS.join(';'), ...SHARES].join('\r\n') + '\r\n');
  });

  it('PROPPATCH through a writable share goes to the overlay (enforce_properties_overlay), not the owner', async () => {
    const pp = await c.request('PROPPATCH', '/bob/alice-rw/', {
      user: 'bob',
      body: '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Bob view</D:displayname></D:prop></D:set></D:propertyupdate>',
    });
    assert.equal(pp.status, 207, pp.text);
    assert.match((await c.propfind('/bob/alice-rw/', [D('displayname')], '0', 'bob')).text, /Bob view/);
    assert.doesNotMatch(
      (await c.propfind('/alice/work/', [D('displayname')], '0', 'alice')).text,
      /Bob view/,
    );
    if (database === undefined) {
      const db = readFileSync(join(server.folder, 'collection-db', 'sharing.csv'), 'utf8');
      assert.match(
        db,
        /\r\nmap;\/bob\/alice-rw\/;\/alice\/work\/;.*;\{'D:displayname': 'Bob view'\};\{\}\r\n/,
      );
    } else {
      const client = new pg.Client({ connectionString: database });
      await client.connect();
      const rows = await client.query<{ p: string }>(
        "SELECT properties::text AS p FROM shares WHERE path_or_token = '/bob/alice-rw/'",
      );
      await client.end();
      assert.deepEqual(rows.rows, [{ p: '{"D:displayname":"Bob view"}' }]);
    }
  });
});
