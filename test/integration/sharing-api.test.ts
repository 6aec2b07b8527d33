/**
 * The sharing management API (`POST /.sharing/v1/<type>/<hook>`) with form and JSON bodies and plain,
 * JSON and CSV answers, as Radicale 3.8 gives them; token shares without a login; the create permissions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  D,
  DavClient,
  mkcalendar,
  parseMultistatus,
  put,
  vevent,
  type DavResult,
} from './helpers/dav-client.js';
import { SHARE_FIELDS } from '../../src/sharing/record.js';

const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' };
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

function form(fields: Record<string, string | string[]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  return p.toString();
}

function api(
  c: DavClient,
  path: string,
  user: string | undefined,
  body: string | Record<string, unknown>,
  accept?: string,
): Promise<DavResult> {
  const json = typeof body !== 'string';
  return c.request('POST', `/.sharing/v1/${path}`, {
    ...(user ? { user } : {}),
    body: json ? JSON.stringify(body) : body,
    headers: { 'Content-Type': json ? JSON_TYPE : FORM, ...(accept ? { Accept: accept } : {}) },
  });
}

const hrefs = (text: string): string[] => [...parseMultistatus(text).props.keys()].sort();

describe('sharing API: sharing off', () => {
  let server: RunningAlmanac;
  before(async () => {
    server = await startAlmanac({ users: USERS });
  });
  after(async () => server.stop());
  it('answers 404 whether logged in or not', async () => {
    const c = new DavClient(server.url, USERS);
    assert.equal((await api(c, 'all/info', 'alice', '')).status, 404);
    assert.equal((await api(c, 'all/info', undefined, '')).status, 404);
  });
});

describe('sharing API', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'almanac-share-api-'));
    writeFileSync(join(tmp, 'groups'), 'staff: carol\n');
    server = await startAlmanac({
      users: USERS,
      config: {
        sharing: {
          type: 'csv',
          collection_by_map: 'True',
          collection_by_token: 'True',
          permit_create_map: 'True',
          permit_create_token: 'True',
        },
        group: { type: 'htgroup', htgroup_filename: join(tmp, 'groups') },
        auth: { delay: '0.3' },
      },
    });
    c = new DavClient(server.url, USERS);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    assert.equal((await mkcalendar(c, '/alice/team/')).status, 201);
    assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
    assert.equal((await put(c, '/alice/team/t.ics', vevent('t'))).status, 201);
    for (const u of ['bob', 'carol']) await c.propfind('/', [D('current-user-principal')], '0', u);
  });
  after(async () => server.stop());

  it('without a login: 401 with a Basic challenge', async () => {
    const r = await api(c, 'all/info', undefined, '');
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /^Basic /);
  });

  it('info: plain for a form, JSON for JSON or Accept, CSV refused', async () => {
    const plain = await api(c, 'all/info', 'alice', '');
    assert.equal(plain.status, 200);
    assert.match(String(plain.headers['content-type']), /^text\/csv/);
    assert.match(plain.text, /^ApiVersion=1\nStatus='success'\n/);
    assert.match(plain.text, /\nFeatureEnabledCollectionByMap=True\n/);
    assert.match(plain.text, /\nSupportedPropertiesOverlay=\(C:calendar-description /);
    const json = await api(c, 'all/info', 'alice', {});
    assert.match(String(json.headers['content-type']), /^text\/json/);
    assert.match(json.text, /^\{"ApiVersion": 1, "Status": "success", /);
    const info = JSON.parse(json.text) as Record<string, unknown>;
    assert.equal(info.FeatureEnabledCollectionByToken, true);
    assert.deepEqual(Object.keys(info.SupportedActions as object), ['config']);
    assert.match((await api(c, 'map/info', 'alice', '', 'application/json')).text, /^\{"ApiVersion": 1, /);
    assert.equal((await api(c, 'all/info', 'alice', '', 'text/csv')).status, 400);
    assert.equal((await api(c, 'all/nothing', 'alice', '')).status, 404);
    assert.equal((await api(c, 'other/info', 'alice', '')).status, 404);
    assert.equal((await api(c, 'all/create', 'alice', '')).status, 400);
    const wrongType = await c.request('POST', '/.sharing/v1/all/info', {
      user: 'alice',
      body: 'x',
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.text, /Content-type not supported/);
    assert.equal(
      (
        await c.request('POST', '/.sharing/v1/all/info', {
          user: 'alice',
          body: '{',
          headers: { 'Content-Type': JSON_TYPE },
        })
      ).status,
      400,
    );
  });

  it('map share: create, enable by both, list, update, hide, disable, delete', async () => {
    const create = form({ PathMapped: '/alice/cal/', PathOrToken: '/bob/from-alice/', User: 'bob' });
    const made = await api(c, 'map/create', 'alice', create);
    assert.equal(made.status, 200, made.text);
    assert.equal(made.text, "ApiVersion=1\nStatus='success'");
    assert.equal((await api(c, 'map/create', 'alice', create)).status, 409);
    const onReal = form({ PathMapped: '/alice/cal/', PathOrToken: '/alice/team/', User: 'alice' });
    assert.equal((await api(c, 'map/create', 'alice', onReal)).status, 409);
    for (const [body, message] of [
      [form({ PathMapped: '/alice/cal/', User: 'bob' }), /Missing PathOrToken/],
      [form({ PathMapped: '/alice/cal/', PathOrToken: '/bob/y/' }), /Missing User/],
      [
        form({ PathMapped: '/alice/cal/', PathOrToken: '/bob/y', User: 'bob' }),
        /PathOrToken not ending with \//,
      ],
      [
        form({ PathMapped: '/alice/cal', PathOrToken: '/bob/y/', User: 'bob' }),
        /PathMapped not ending with \//,
      ],
      [
        form({ PathMapped: '/alice/cal/', PathOrToken: '/bob/y/', User: 'bob', Permissions: 'rz' }),
        /Invalid value for Permissions/,
      ],
      [
        form({ PathMapped: '/alice/cal/', PathOrToken: '/bob/y/', User: 'bob', Permissions: 'rPp' }),
        /Invalid value for Permissions/,
      ],
      [
        form({ PathMapped: '/alice/cal/', PathOrToken: '/bob/y/', User: 'bob', Properties: 'X:foo=bar' }),
        /Property not supported to overlay: 'X:foo'/,
      ],
      [
        form({ PathMapped: '/alice/cal/', PathOrToken: '/bob/y/', User: 'bob', Enabled: 'maybe' }),
        /Invalid value for Enabled/,
      ],
    ] as const) {
      const r = await api(c, 'map/create', 'alice', body);
      assert.equal(r.status, 400, body);
      assert.match(r.text, message);
    }
    assert.equal(
      (
        await api(
          c,
          'map/create',
          'alice',
          form({ PathMapped: '/alice/nope/', PathOrToken: '/bob/n/', User: 'bob' }),
        )
      ).status,
      404,
    );
    // bob cannot share alice's calendar: no read rights on it.
    assert.equal(
      (
        await api(
          c,
          'map/create',
          'bob',
          form({ PathMapped: '/alice/cal/', PathOrToken: '/carol/x/', User: 'carol' }),
        )
      ).status,
      403,
    );

    // Not enabled yet (create's defaults: disabled and hidden for both).
    assert.equal((await c.request('GET', '/bob/from-alice/a.ics', { user: 'bob' })).status, 404);
    const key = form({ PathOrToken: '/bob/from-alice/' });
    assert.equal((await api(c, 'map/enable', 'alice', key)).status, 200);
    assert.equal((await c.request('GET', '/bob/from-alice/a.ics', { user: 'bob' })).status, 404);
    assert.equal((await api(c, 'map/enable', 'bob', { PathOrToken: '/bob/from-alice/' })).status, 200);
    const got = await c.request('GET', '/bob/from-alice/a.ics', { user: 'bob' });
    assert.equal(got.status, 200);
    assert.match(got.text, /UID:a/);
    assert.ok(
      !hrefs((await c.propfind('/bob/', [D('resourcetype')], '1', 'bob')).text).includes('/bob/from-alice/'),
    );
    assert.equal((await api(c, 'map/unhide', 'alice', key)).status, 200);
    assert.ok(
      !hrefs((await c.propfind('/bob/', [D('resourcetype')], '1', 'bob')).text).includes('/bob/from-alice/'),
    );
    assert.equal((await api(c, 'map/unhide', 'bob', key)).status, 200);
    assert.ok(
      hrefs((await c.propfind('/bob/', [D('resourcetype')], '1', 'bob')).text).includes('/bob/from-alice/'),
    );

    // list in the three formats
    const listJson = JSON.parse((await api(c, 'map/list', 'bob', {})).text) as {
      Lines: number;
      Status: string;
      Content: Record<string, unknown>[];
    };
    assert.equal(listJson.Lines, 1);
    assert.equal(listJson.Status, 'success');
    assert.deepEqual(Object.keys(listJson.Content[0] ?? {}), [...SHARE_FIELDS]);
    assert.equal(listJson.Content[0]?.EnabledByUser, true);
    assert.equal(listJson.Content[0]?.Owner, 'alice');
    const csv = await api(c, 'map/list', 'alice', '', 'text/csv');
    assert.equal(csv.status, 200);
    const lines = csv.text.split('\r\n');
    assert.equal(lines[0], SHARE_FIELDS.join(';'));
    assert.match(
      lines[1] ?? '',
      /^map;\/bob\/from-alice\/;\/alice\/cal\/;none;alice;bob;r;True;True;False;False;\d+;\d+;;$/,
    );
    const plain = await api(c, 'all/list', 'alice', '');
    assert.match(plain.text, /^ApiVersion=1\nLines=1\nStatus='success'\nFields="ShareType;PathOrToken;/);
    assert.match(plain.text, /\nContent\[0\]="map;\/bob\/from-alice\/;/);
    const none = await api(c, 'map/list', 'carol', '');
    assert.equal(none.text, "ApiVersion=1\nLines=0\nStatus='not-found'");

    // update: the user may not change Permissions; the owner may
    assert.equal(
      (await api(c, 'map/update', 'bob', form({ PathOrToken: '/bob/from-alice/', Permissions: 'rw' })))
        .status,
      403,
    );
    assert.equal((await put(c, '/bob/from-alice/b.ics', vevent('b'), 'bob')).status, 403);
    assert.equal(
      (await api(c, 'map/update', 'alice', { PathOrToken: '/bob/from-alice/', Permissions: 'rw' })).status,
      200,
    );
    assert.equal((await put(c, '/bob/from-alice/b.ics', vevent('b'), 'bob')).status, 201);
    assert.equal((await c.request('GET', '/alice/cal/b.ics', { user: 'alice' })).status, 200);
    // Properties overlay: the user needs permission (permit_properties_overlay is off); the owner sets it.
    assert.equal(
      (
        await api(
          c,
          'map/update',
          'bob',
          form({ PathOrToken: '/bob/from-alice/', Properties: 'D:displayname=Mine' }),
        )
      ).status,
      403,
    );
    assert.equal(
      (
        await api(
          c,
          'map/update',
          'alice',
          form({
            PathOrToken: '/bob/from-alice/',
            Properties: ['D:displayname=Shared', 'ICAL:calendar-color=#00ff00'],
          }),
        )
      ).status,
      200,
    );
    const named = await c.propfind('/bob/from-alice/', [D('displayname')], '0', 'bob');
    assert.match(named.text, /Shared/);
    assert.equal(
      (await c.propfind('/alice/cal/', [D('displayname')], '0', 'alice')).text.includes('Shared'),
      false,
    );
    assert.equal(
      (await api(c, 'map/update', 'alice', { PathOrToken: '/bob/from-alice/', Conversion: 'bday' })).status,
      400,
    );
    assert.equal(
      (await api(c, 'map/update', 'carol', form({ PathOrToken: '/bob/from-alice/', Enabled: 'false' })))
        .status,
      403,
    );
    assert.equal(
      (await api(c, 'map/update', 'alice', form({ PathOrToken: '/bob/nothing/', Enabled: 'false' }))).status,
      404,
    );
    assert.equal((await api(c, 'map/update', 'alice', form({ Enabled: 'false' }))).status, 400);

    // the database holds it as Radicale writes it (PostgreSQL: the table, the properties in their order)
    if (server.databaseUrl === undefined) {
      const db = readFileSync(join(server.folder, 'collection-db', 'sharing.csv'), 'utf8');
      assert.match(db, /;\{'D:displayname': 'Shared', 'ICAL:calendar-color': '#00ff00'\};\r\n$/);
    } else {
      const client = new pg.Client({ connectionString: server.databaseUrl });
      await client.connect();
      const rows = await client.query<{ p: string }>(
        "SELECT properties::text AS p FROM shares WHERE path_or_token = '/bob/from-alice/'",
      );
      await client.end();
      assert.deepEqual(rows.rows, [{ p: '{"D:displayname":"Shared","ICAL:calendar-color":"#00ff00"}' }]);
    }

    // disable by the user, delete by the owner only
    assert.equal((await api(c, 'map/disable', 'bob', key)).status, 200);
    assert.equal((await c.request('GET', '/bob/from-alice/a.ics', { user: 'bob' })).status, 404);
    assert.equal((await api(c, 'map/delete', 'bob', key)).status, 403);
    assert.equal((await api(c, 'map/delete', 'alice', key)).status, 200);
    assert.equal((await api(c, 'map/delete', 'alice', key)).status, 404);
    assert.match((await api(c, 'map/list', 'alice', {})).text, /"Lines": 0, "Status": "not-found"/);
  });

  it('group share: members reach it at /<user>/... once the owner enables it', async () => {
    const body = {
      PathMapped: '/alice/team/',
      PathOrToken: '/{user}/team/',
      User: ':staff',
      Permissions: 'r',
      Enabled: true,
      Hidden: false,
    };
    const r = await api(c, 'map/create', 'alice', body);
    assert.equal(r.status, 200, r.text);
    assert.equal(
      (await api(c, 'map/create', 'alice', { ...body, PathOrToken: '/carol/team2/', User: ':dev' })).status,
      403,
    );
    assert.equal(
      (
        await api(c, 'map/create', 'alice', {
          ...body,
          PathOrToken: '/{user}/t3/',
          User: ':dev',
          Permissions: 'rE',
        })
      ).status,
      400,
    );
    const got = await c.request('GET', '/carol/team/t.ics', { user: 'carol' });
    assert.equal(got.status, 200);
    assert.equal((await c.request('GET', '/bob/team/t.ics', { user: 'bob' })).status, 404);
    const rows = JSON.parse((await api(c, 'map/list', 'alice', {})).text) as {
      Content: { Permissions: string; EnabledByUser: boolean }[];
    };
    assert.equal(rows.Content[0]?.Permissions, 'rep');
    assert.equal(rows.Content[0]?.EnabledByUser, true);
    assert.equal((await api(c, 'map/delete', 'alice', { PathOrToken: '/{user}/team/' })).status, 200);
  });

  it('token share: readable without a login at /.token/v1/<44>/ once enabled, with its permissions', async () => {
    assert.equal(
      (
        await api(
          c,
          'token/create',
          'alice',
          form({ PathMapped: '/alice/cal/', PathOrToken: '/.token/v1/x/' }),
        )
      ).status,
      400,
    );
    const made = await api(c, 'token/create', 'alice', { PathMapped: '/alice/cal/' });
    assert.equal(made.status, 200, made.text);
    const { PathOrToken: token } = JSON.parse(made.text) as { PathOrToken: string };
    assert.match(token, /^\/\.token\/v1\/[A-Za-z0-9_-]{44}\/$/);
    assert.match(made.text, /^\{"ApiVersion": 1, "Status": "success", "PathOrToken": "\/\.token\/v1\//);
    const before = await c.request('GET', `${token}a.ics`);
    assert.equal(before.status, 401);
    assert.equal(before.headers['www-authenticate'], undefined);
    assert.equal((await api(c, 'token/enable', 'alice', form({ PathOrToken: token }))).status, 200);
    const got = await c.request('GET', `${token}a.ics`);
    assert.equal(got.status, 200);
    assert.match(got.text, /UID:a/);
    const list = await c.request('PROPFIND', token, { headers: { Depth: '1' } });
    assert.equal(list.status, 207);
    assert.ok(
      hrefs(list.text).every((h) => h.startsWith(token)),
      hrefs(list.text).join(' '),
    );
    assert.ok(hrefs(list.text).includes(`${token}a.ics`));
    // default_permissions_create_token = rp: no writes
    assert.equal(
      (
        await c.request('PUT', `${token}new.ics`, {
          body: vevent('new'),
          headers: { 'Content-Type': 'text/calendar' },
        })
      ).status,
      401,
    );
    // nothing else of alice's is reachable through it
    assert.equal((await c.request('GET', `${token}../team/t.ics`)).status, 400);
    assert.equal((await c.request('GET', token.slice(0, -1))).status, 200);
    // a token that does not exist: 401, delayed like a failed login
    const start = Date.now();
    const wrong = await c.request('GET', `/.token/v1/${'A'.repeat(44)}/a.ics`);
    assert.equal(wrong.status, 401);
    assert.ok(Date.now() - start >= 0.3 * 0.5 * 1000 * 0.9, 'delayed');
    assert.equal((await c.request('GET', '/.token/v1/short/a.ics')).status, 401);
    assert.equal((await api(c, 'token/disable', 'alice', form({ PathOrToken: token }))).status, 200);
    assert.equal((await c.request('GET', `${token}a.ics`)).status, 401);
    const rows = JSON.parse((await api(c, 'token/list', 'alice', {})).text) as {
      Content: { Permissions: string; User: string }[];
    };
    assert.equal(rows.Content[0]?.Permissions, 'rp');
    assert.equal(rows.Content[0]?.User, 'alice');
  });
});

describe('sharing API: create permissions', () => {
  let server: RunningAlmanac;
  before(async () => {
    server = await startAlmanac({
      users: USERS,
      config: { sharing: { type: 'files', collection_by_map: 'True', default_permissions_create_map: 'rw' } },
    });
  });
  after(async () => server.stop());
  it('without permit_create_map the rights must grant m (owner_only does not): 403', async () => {
    const c = new DavClient(server.url, USERS);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    await c.propfind('/', [D('current-user-principal')], '0', 'bob');
    const r = await api(c, 'map/create', 'alice', {
      PathMapped: '/alice/cal/',
      PathOrToken: '/bob/x/',
      User: 'bob',
    });
    assert.equal(r.status, 403);
    // token sharing is off: its API is not there
    assert.equal((await api(c, 'token/create', 'alice', { PathMapped: '/alice/cal/' })).status, 404);
  });
});
