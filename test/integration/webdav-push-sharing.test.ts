/**
 * WebDAV-Push with [sharing]: a client registered at a share's path (the sharee's) hears of changes to
 * the owner's collection, with the topic it read at its own path; a change made through the share
 * reaches the owner's registrations too; and rights are checked again at each push (a share
 * disabled or deleted, a collection read no more: no push, and pushes resume once reading is
 * allowed again; a hidden share is still read at its path, so still pushed). Shares are made through the management API, so this runs on the suite's backend
 * (filesystem, or PostgreSQL with ALMANAC_TEST_STORAGE=postgresql).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { TestPushService, type TestSubscription } from '../helpers/push-service.js';
import { D, DavClient, mkcalendar, parseMultistatus, propXml, put, vevent } from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';
import { P, PUSH_CONFIG, readMessage, registerAt, registerBody } from './helpers/webdav-push.js';

const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' };

/** One property of a collection as `user` sees it at `path`. */
async function prop(c: DavClient, path: string, name: string, user: string): Promise<string> {
  const r = await c.request('PROPFIND', path, {
    user,
    headers: { Depth: '0' },
    body: `<?xml version="1.0"?><propfind xmlns="DAV:"><prop>${propXml(name)}</prop></propfind>`,
  });
  assert.equal(r.status, 207, `${user} PROPFIND ${path}: ${r.text}`);
  const [only] = [...parseMultistatus(r.text).props.values()];
  const p = only?.get(name);
  assert.equal(p?.status, 200, `${name} at ${path}`);
  return textContent(p.element).trim();
}

function api(
  c: DavClient,
  path: string,
  user: string,
  body: Record<string, unknown>,
): Promise<{ status: number; text: string }> {
  return c.request('POST', `/.sharing/v1/${path}`, {
    user,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
}

/** Waits a little past the coalesce delay and a push's round trip: long enough for a push to arrive. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 600));

describe('WebDAV-Push through shares', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  let push: TestPushService;
  let tmp: string;
  before(async () => {
    push = await TestPushService.start();
    tmp = mkdtempSync(join(tmpdir(), 'almanac-push-share-'));
    writeFileSync(join(tmp, 'groups'), 'staff: carol\n');
    server = await startAlmanac({
      users: USERS,
      config: {
        push: PUSH_CONFIG,
        sharing: { type: 'csv', collection_by_map: 'True', permit_create_map: 'True' },
        group: { type: 'htgroup', htgroup_filename: join(tmp, 'groups') },
      },
    });
    c = new DavClient(server.url, USERS);
    for (const cal of ['cal', 'team', 'off'])
      assert.equal((await mkcalendar(c, `/alice/${cal}/`)).status, 201);
    for (const u of ['bob', 'carol']) await c.propfind('/', [D('current-user-principal')], '0', u);
    const shares = [
      { PathMapped: '/alice/cal/', PathOrToken: '/bob/alice-cal/', User: 'bob', Permissions: 'rw' },
      { PathMapped: '/alice/team/', PathOrToken: '/{user}/team/', User: ':staff', Permissions: 'r' },
      { PathMapped: '/alice/off/', PathOrToken: '/bob/alice-off/', User: 'bob', Permissions: 'r' },
    ];
    for (const s of shares) {
      const r = await api(c, 'map/create', 'alice', { ...s, Enabled: true, Hidden: false });
      assert.equal(r.status, 200, r.text);
      if (s.User === 'bob') {
        const e = await api(c, 'map/enable', 'bob', { PathOrToken: s.PathOrToken });
        assert.equal(e.status, 200, e.text);
      }
    }
  });
  after(async () => {
    await server.stop();
    await push.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("a change of the owner's collection pushes registrations made at the share's path, with their topic", async () => {
    const mine = push.subscribe();
    const bobs = push.subscribe();
    assert.equal((await registerAt(c, '/alice/cal/', registerBody(mine))).status, 201);
    const r = await registerAt(c, '/bob/alice-cal/', registerBody(bobs), 'bob');
    assert.equal(r.status, 201, r.text);
    const aliceTopic = await prop(c, '/alice/cal/', P('topic'), 'alice');
    const bobTopic = await prop(c, '/bob/alice-cal/', P('topic'), 'bob');
    assert.notEqual(aliceTopic, bobTopic, 'each path has its own topic');

    assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
    const [toBob] = await push.waitFor(bobs, 1);
    const [toAlice] = await push.waitFor(mine, 1);
    const m = readMessage(toBob?.message ?? '');
    assert.equal(m.topic, bobTopic, 'the topic bob saw at /bob/alice-cal/');
    assert.equal(toBob?.headers.topic, bobTopic);
    assert.equal(m.syncToken, await prop(c, '/bob/alice-cal/', D('sync-token'), 'bob'));
    assert.equal(readMessage(toAlice?.message ?? '').topic, aliceTopic);

    // bob writes through the share: alice's registration hears of it, and bob's own.
    assert.equal((await put(c, '/bob/alice-cal/b.ics', vevent('b'), 'bob')).status, 201);
    const [, second] = await push.waitFor(mine, 2);
    assert.equal(readMessage(second?.message ?? '').topic, aliceTopic);
    assert.equal(
      readMessage(second?.message ?? '').syncToken,
      await prop(c, '/alice/cal/', D('sync-token'), 'alice'),
    );
    const [, bobSecond] = await push.waitFor(bobs, 2);
    assert.equal(readMessage(bobSecond?.message ?? '').topic, bobTopic);
  });

  it('a group share pushes each member at their own /<user>/ path', async () => {
    const carols = push.subscribe();
    assert.equal((await registerAt(c, '/carol/team/', registerBody(carols), 'carol')).status, 201);
    const topic = await prop(c, '/carol/team/', P('topic'), 'carol');
    assert.equal((await put(c, '/alice/team/t.ics', vevent('t'))).status, 201);
    const [got] = await push.waitFor(carols, 1);
    assert.equal(readMessage(got?.message ?? '').topic, topic);
  });

  it('rights are checked at push time: a disabled or deleted share gets no push, a re-enabled one does', async () => {
    const bobs = push.subscribe();
    const witness = push.subscribe();
    assert.equal((await registerAt(c, '/bob/alice-off/', registerBody(bobs), 'bob')).status, 201);
    assert.equal((await registerAt(c, '/alice/off/', registerBody(witness))).status, 201);
    const change = async (n: number, name: string): Promise<void> => {
      assert.equal((await put(c, `/alice/off/${name}.ics`, vevent(name))).status, 201);
      await push.waitFor(witness, n);
      await settle();
    };
    await change(1, 'x1');
    assert.equal(push.pushesTo(bobs).length, 1, 'pushed while the share is enabled');

    // Disabled by bob: he may not read it at /bob/alice-off/ now.
    assert.equal((await api(c, 'map/disable', 'bob', { PathOrToken: '/bob/alice-off/' })).status, 200);
    assert.equal((await c.request('GET', '/bob/alice-off/x1.ics', { user: 'bob' })).status, 404);
    await change(2, 'x2');
    assert.equal(push.pushesTo(bobs).length, 1, 'no push while the share is disabled');

    // Disabled by the owner, enabled by bob: still not readable.
    assert.equal((await api(c, 'map/enable', 'bob', { PathOrToken: '/bob/alice-off/' })).status, 200);
    assert.equal((await api(c, 'map/disable', 'alice', { PathOrToken: '/bob/alice-off/' })).status, 200);
    await change(3, 'x3');
    assert.equal(push.pushesTo(bobs).length, 1, 'no push while the owner disabled the share');

    // Enabled again: the registration was kept, the pushes resume.
    assert.equal((await api(c, 'map/enable', 'alice', { PathOrToken: '/bob/alice-off/' })).status, 200);
    await change(4, 'x4');
    assert.equal(push.pushesTo(bobs).length, 2, 'pushed again once the share is enabled');

    // Hidden by bob: no longer listed in his home, still readable at its path, so still pushed.
    assert.equal((await api(c, 'map/hide', 'bob', { PathOrToken: '/bob/alice-off/' })).status, 200);
    assert.equal((await c.request('GET', '/bob/alice-off/x1.ics', { user: 'bob' })).status, 200);
    await change(5, 'x5h');
    assert.equal(push.pushesTo(bobs).length, 3, 'a hidden share is still read, and pushed');
    assert.equal((await api(c, 'map/unhide', 'bob', { PathOrToken: '/bob/alice-off/' })).status, 200);

    // Permissions without r (the owner updates them): not readable, no push.
    const upd = await api(c, 'map/update', 'alice', { PathOrToken: '/bob/alice-off/', Permissions: 'i' });
    assert.equal(upd.status, 200, upd.text);
    assert.equal((await c.request('GET', '/bob/alice-off/x1.ics', { user: 'bob' })).status, 403);
    await change(6, 'x5');
    assert.equal(push.pushesTo(bobs).length, 3, 'no push once the share does not let bob read');

    assert.equal(
      (await api(c, 'map/update', 'alice', { PathOrToken: '/bob/alice-off/', Permissions: 'r' })).status,
      200,
    );
    await change(7, 'x6');
    assert.equal(push.pushesTo(bobs).length, 4);

    // Deleted: gone for good.
    assert.equal((await api(c, 'map/delete', 'alice', { PathOrToken: '/bob/alice-off/' })).status, 200);
    await change(8, 'x7');
    assert.equal(push.pushesTo(bobs).length, 4, 'no push after the share is deleted');
  });
});

describe('WebDAV-Push: rights re-checked at push time', () => {
  it('a registration of a user the rights file no longer lets read gets no push after a restart', async () => {
    const push = await TestPushService.start();
    const tmp = mkdtempSync(join(tmpdir(), 'almanac-push-rights-'));
    const rights = join(tmp, 'rights');
    const open = (extra: string): void =>
      writeFileSync(
        rights,
        `${extra}[owner]\nuser: .+\ncollection: {user}(/.*)?\npermissions: RrWw\n[root]\nuser: .+\ncollection:\npermissions: R\n`,
      );
    // bob may read alice's calendar ...
    open('[bob-reads-alice]\nuser: bob\ncollection: alice/cal\npermissions: r\n');
    const folder = join(tmp, 'collections');
    const config = { push: PUSH_CONFIG, rights: { type: 'from_file', file: rights } };
    const subs: TestSubscription[] = [push.subscribe(), push.subscribe()];
    const [bobs, alices] = subs as [TestSubscription, TestSubscription];
    let server = await startAlmanac({ folder, users: USERS, config });
    try {
      const c = new DavClient(server.url, USERS);
      assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
      assert.equal((await registerAt(c, '/alice/cal/', registerBody(bobs), 'bob')).status, 201);
      assert.equal((await registerAt(c, '/alice/cal/', registerBody(alices))).status, 201);
      assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
      await push.waitFor(bobs, 1);
      await push.waitFor(alices, 1);
    } finally {
      await server.stop();
    }
    // ... and no longer after the rights file changed (it is read at start-up).
    open('');
    server = await startAlmanac({ folder, users: USERS, config });
    try {
      const c = new DavClient(server.url, USERS);
      assert.equal((await c.request('GET', '/alice/cal/a.ics', { user: 'bob' })).status, 403);
      assert.equal((await put(c, '/alice/cal/b.ics', vevent('b'))).status, 201);
      await push.waitFor(alices, 2);
      await settle();
      assert.equal(push.pushesTo(bobs).length, 1, 'no push to a user who may not read the collection');
    } finally {
      await server.stop();
      await push.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
