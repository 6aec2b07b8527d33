/**
 * The share permission letters D/d, O/o, P/p and E/e through map shares, as the sharee meets them (on
 * either storage: the shares are made through the API, so they live in the csv file or the PostgreSQL
 * table). As in Radicale 3.8 the owner's rights on the shared path are filtered by the share's letters:
 *   D/d, O/o  deleting / overwriting (PUT of a whole calendar) a collection inside the share follows
 *             [rights] permit_delete_collection / permit_overwrite_collection with the filtered letters
 *             (permit on: `d`/`o` in both deny; permit off: `D`/`O` in both allow). The share's own
 *             collection is never deleted or replaced through it (a deliberate difference).
 *   P/p       whether the sharee may set the properties overlay (API update Properties; PROPPATCH through
 *             a writable share): `P` grants, `p` forbids, else [sharing] permit_properties_overlay
 *   E/e       whether PROPPATCH through a writable share goes to the overlay (`E`) or to the owner's
 *             collection (`e`), else [sharing] enforce_properties_overlay
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { D, DavClient, mkcalendar, put, vevent } from './helpers/dav-client.js';

const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' };

/** Owners' own rights, with the letters the share filters (the built-in rights give no D/d/O/o). */
function rightsFile(letters: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'almanac-letters-')), 'rights');
  writeFileSync(file, `[own]\nuser: .+\ncollection: {user}(/.*)?\npermissions: RrWw${letters}\n`);
  return file;
}

interface Fixture {
  server: RunningAlmanac;
  c: DavClient;
  /** A map share by alice of `mapped` at `path` for `user`, enabled by both. */
  share(path: string, mapped: string, permissions: string, user?: string): Promise<void>;
  /** Alice makes calendars with one item each. */
  calendars(...paths: string[]): Promise<void>;
  displayname(path: string, user: string): Promise<string>;
  proppatch(path: string, user: string, name: string): Promise<number>;
  overlay(path: string, user: string, name: string): Promise<number>;
}

async function fixture(config: Record<string, Record<string, string>>): Promise<Fixture> {
  const server = await startAlmanac({
    users: USERS,
    config: {
      ...config,
      sharing: { type: 'csv', collection_by_map: 'True', permit_create_map: 'True', ...config.sharing },
    },
  });
  const c = new DavClient(server.url, USERS);
  for (const u of ['alice', 'bob', 'carol']) await c.propfind('/', [D('current-user-principal')], '0', u);
  const api = async (hook: string, user: string, body: Record<string, unknown>): Promise<number> =>
    (
      await c.request('POST', `/.sharing/v1/map/${hook}`, {
        user,
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
      })
    ).status;
  return {
    server,
    c,
    async share(path, mapped, permissions, user = 'bob') {
      const created = await api('create', 'alice', {
        PathOrToken: path,
        PathMapped: mapped,
        User: user,
        Permissions: permissions,
        Enabled: true,
        Hidden: false,
      });
      assert.equal(created, 200, `create ${path}`);
      assert.equal(await api('enable', user, { PathOrToken: path }), 200);
    },
    async calendars(...paths) {
      for (const p of paths) {
        assert.equal(
          (await mkcalendar(c, p, 'alice', '<D:displayname>Alice name</D:displayname>')).status,
          201,
        );
        assert.equal((await put(c, `${p}a.ics`, vevent(`${p}a`))).status, 201);
      }
    },
    async displayname(path, user) {
      const r = await c.propfind(path, [D('displayname')], '0', user);
      assert.equal(r.status, 207, r.text);
      return /<[^>]*displayname>([^<]*)</.exec(r.text)?.[1] ?? '';
    },
    async proppatch(path, user, name) {
      const r = await c.request('PROPPATCH', path, {
        user,
        body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>${name}</D:displayname></D:prop></D:set></D:propertyupdate>`,
      });
      return r.status;
    },
    overlay: (path, user, name) =>
      api('update', user, { PathOrToken: path, Properties: { 'D:displayname': name } }),
  };
}

const exists = async (f: Fixture, path: string): Promise<boolean> => {
  const r = await f.c.propfind(path, [D('resourcetype')], '0', 'alice');
  return r.status === 207;
};

const calendarUpload = (uid: string): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTART:20260101T100000Z\r\nDTEND:20260101T110000Z\r\nSUMMARY:uploaded\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;

describe('share letters with the default [rights] and [sharing] permits', () => {
  let f: Fixture;
  before(async () => {
    // permit_delete_collection and permit_overwrite_collection on: d and o (in the owner's rights and the
    // share's letters alike) deny. enforce_properties_overlay on, permit_properties_overlay off.
    f = await fixture({ rights: { type: 'from_file', file: rightsFile('do') } });
    await f.calendars('/alice/del-bob/', '/alice/del-carol/', '/alice/over-bob/', '/alice/over-carol/');
    await f.calendars(
      '/alice/cal/',
      '/alice/p1/',
      '/alice/p2/',
      '/alice/p3/',
      '/alice/p4/',
      '/alice/p5/',
      '/alice/e1/',
    );
    // The whole home shared: its calendars are collections inside the share.
    await f.share('/bob/alice-home/', '/alice/', 'rw');
    await f.share('/carol/alice-home/', '/alice/', 'rwdo', 'carol');
  });
  after(async () => f.server.stop());

  it('d: without d in the share a calendar inside it can be deleted; with d it cannot', async () => {
    const bob = await f.c.request('DELETE', '/bob/alice-home/del-bob/', { user: 'bob' });
    assert.equal(bob.status, 200, bob.text);
    assert.equal(await exists(f, '/alice/del-bob/'), false);
    const carol = await f.c.request('DELETE', '/carol/alice-home/del-carol/', { user: 'carol' });
    assert.equal(carol.status, 403);
    assert.equal(await exists(f, '/alice/del-carol/'), true);
    // Items need no D/d: w is enough.
    assert.equal(
      (await f.c.request('DELETE', '/carol/alice-home/del-carol/a.ics', { user: 'carol' })).status,
      200,
    );
  });

  it('o: without o in the share a calendar inside it can be replaced by a PUT of a calendar; with o it cannot', async () => {
    const bob = await put(f.c, '/bob/alice-home/over-bob/', calendarUpload('up-bob'), 'bob');
    assert.ok(bob.status === 201 || bob.status === 204, `${bob.status} ${bob.text}`);
    assert.match((await f.c.request('GET', '/alice/over-bob/', { user: 'alice' })).text, /UID:up-bob/);
    const carol = await put(f.c, '/carol/alice-home/over-carol/', calendarUpload('up-carol'), 'carol');
    assert.equal(carol.status, 403);
    const kept = await f.c.request('GET', '/alice/over-carol/', { user: 'alice' });
    assert.doesNotMatch(kept.text, /up-carol/);
    assert.match(kept.text, /UID:\/alice\/over-carol\/a/);
  });

  it("D and O on a share of one calendar: the share's own calendar is still neither deleted nor replaced through it", async () => {
    await f.share('/bob/cal/', '/alice/cal/', 'rwDO');
    assert.equal((await f.c.request('DELETE', '/bob/cal/', { user: 'bob' })).status, 403);
    assert.equal((await put(f.c, '/bob/cal/', calendarUpload('root'), 'bob')).status, 403);
    assert.equal((await f.c.request('GET', '/alice/cal/a.ics', { user: 'alice' })).status, 200);
    // What it grants inside stays: w for the items.
    assert.equal((await put(f.c, '/bob/cal/b.ics', vevent('b'), 'bob')).status, 201);
  });

  it('P: the sharee may set the overlay through the API (a read-only share); p forbids; neither: the permit (off)', async () => {
    await f.share('/bob/p1/', '/alice/p1/', 'rP');
    assert.equal(await f.overlay('/bob/p1/', 'bob', 'Bob name'), 200);
    assert.equal(await f.displayname('/bob/p1/', 'bob'), 'Bob name');
    assert.equal(await f.displayname('/alice/p1/', 'alice'), 'Alice name');
    await f.share('/bob/p2/', '/alice/p2/', 'rp');
    assert.equal(await f.overlay('/bob/p2/', 'bob', 'Bob name'), 403);
    assert.equal(await f.displayname('/bob/p2/', 'bob'), 'Alice name');
    await f.share('/bob/p3/', '/alice/p3/', 'r');
    assert.equal(await f.overlay('/bob/p3/', 'bob', 'Bob name'), 403);
  });

  it('p on a writable share: PROPPATCH through it is refused and nothing changes; with P it goes to the overlay', async () => {
    await f.share('/bob/p4/', '/alice/p4/', 'rwp');
    assert.equal(await f.proppatch('/bob/p4/', 'bob', 'Bob name'), 403);
    assert.equal(await f.displayname('/bob/p4/', 'bob'), 'Alice name');
    assert.equal(await f.displayname('/alice/p4/', 'alice'), 'Alice name');
    await f.share('/bob/p5/', '/alice/p5/', 'rwP');
    assert.equal(await f.proppatch('/bob/p5/', 'bob', 'Bob name'), 207);
    assert.equal(await f.displayname('/bob/p5/', 'bob'), 'Bob name');
    assert.equal(await f.displayname('/alice/p5/', 'alice'), 'Alice name');
  });

  it("e: PROPPATCH through a writable share goes to the owner's calendar instead of the overlay", async () => {
    await f.share('/bob/e1/', '/alice/e1/', 'rwe');
    assert.equal(await f.proppatch('/bob/e1/', 'bob', 'Renamed by Bob'), 207);
    assert.equal(await f.displayname('/alice/e1/', 'alice'), 'Renamed by Bob');
    assert.equal(await f.displayname('/bob/e1/', 'bob'), 'Renamed by Bob');
  });
});

describe('share letters with permit_delete/overwrite_collection off, overlay permitted, overlay not enforced', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture({
      rights: {
        type: 'from_file',
        file: rightsFile('DO'),
        permit_delete_collection: 'False',
        permit_overwrite_collection: 'False',
      },
      sharing: { permit_properties_overlay: 'True', enforce_properties_overlay: 'False' },
    });
    await f.calendars('/alice/del-bob/', '/alice/del-carol/', '/alice/over-bob/', '/alice/over-carol/');
    await f.calendars('/alice/p1/', '/alice/p2/', '/alice/e1/', '/alice/e2/');
    await f.share('/bob/alice-home/', '/alice/', 'rw');
    await f.share('/carol/alice-home/', '/alice/', 'rwDO', 'carol');
  });
  after(async () => f.server.stop());

  it('D: only a share with D lets a calendar inside it be deleted', async () => {
    assert.equal((await f.c.request('DELETE', '/bob/alice-home/del-bob/', { user: 'bob' })).status, 403);
    assert.equal(await exists(f, '/alice/del-bob/'), true);
    const carol = await f.c.request('DELETE', '/carol/alice-home/del-carol/', { user: 'carol' });
    assert.equal(carol.status, 200, carol.text);
    assert.equal(await exists(f, '/alice/del-carol/'), false);
  });

  it('O: only a share with O lets a calendar inside it be replaced by a PUT of a calendar', async () => {
    assert.equal((await put(f.c, '/bob/alice-home/over-bob/', calendarUpload('up-bob'), 'bob')).status, 403);
    assert.doesNotMatch((await f.c.request('GET', '/alice/over-bob/', { user: 'alice' })).text, /up-bob/);
    const carol = await put(f.c, '/carol/alice-home/over-carol/', calendarUpload('up-carol'), 'carol');
    assert.ok(carol.status === 201 || carol.status === 204, `${carol.status} ${carol.text}`);
    assert.match((await f.c.request('GET', '/alice/over-carol/', { user: 'alice' })).text, /UID:up-carol/);
  });

  it('with permit_properties_overlay on, a share without p lets the sharee set the overlay; p forbids it', async () => {
    await f.share('/bob/p1/', '/alice/p1/', 'r');
    assert.equal(await f.overlay('/bob/p1/', 'bob', 'Bob name'), 200);
    assert.equal(await f.displayname('/bob/p1/', 'bob'), 'Bob name');
    await f.share('/bob/p2/', '/alice/p2/', 'rp');
    assert.equal(await f.overlay('/bob/p2/', 'bob', 'Bob name'), 403);
    assert.equal(await f.displayname('/bob/p2/', 'bob'), 'Alice name');
  });

  it("with enforce_properties_overlay off, PROPPATCH goes to the owner's calendar; E forces the overlay", async () => {
    await f.share('/bob/e1/', '/alice/e1/', 'rw');
    assert.equal(await f.proppatch('/bob/e1/', 'bob', 'Renamed by Bob'), 207);
    assert.equal(await f.displayname('/alice/e1/', 'alice'), 'Renamed by Bob');
    await f.share('/bob/e2/', '/alice/e2/', 'rwE');
    assert.equal(await f.proppatch('/bob/e2/', 'bob', 'Bob name'), 207);
    assert.equal(await f.displayname('/bob/e2/', 'bob'), 'Bob name');
    assert.equal(await f.displayname('/alice/e2/', 'alice'), 'Alice name');
  });
});
