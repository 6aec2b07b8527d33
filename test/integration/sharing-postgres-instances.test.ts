/**
 * Shares on PostgreSQL storage with two Almanac instances on one database (one in the test's process, one
 * a process of its own): a share created, enabled,
 * changed, disabled or deleted through one instance is what the other serves at the very next request
 * (no stale copy of the share table in either).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { spawnAlmanac, type AlmanacProcess } from '../helpers/almanac-process.js';
import { createTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import { D, DavClient, mkcalendar, put, vevent } from './helpers/dav-client.js';

if (!postgresAvailable() && process.env.CI === 'true') {
  throw new Error('PostgreSQL is missing: apt-get install postgresql (CI must install it)');
}
const missing = postgresAvailable() ? false : 'PostgreSQL is missing: apt-get install postgresql';

describe('shares seen alike by two instances on one PostgreSQL database', { skip: missing }, () => {
  let a: RunningAlmanac;
  let b: AlmanacProcess;
  let ca: DavClient;
  let cb: DavClient;
  const api = (c: DavClient, hook: string, user: string, body: Record<string, unknown>): Promise<number> =>
    c
      .request('POST', `/.sharing/v1/map/${hook}`, {
        user,
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
      })
      .then((r) => r.status);
  const key = { PathOrToken: '/bob/shared/' };
  const bobGets = async (c: DavClient): Promise<number> =>
    (await c.request('GET', '/bob/shared/a.ics', { user: 'bob' })).status;

  before(async () => {
    const url = await createTestDatabase();
    const config = {
      storage: { type: 'postgresql', postgresql_url: url },
      // Radicale's configuration as it was: the table is used all the same.
      sharing: { type: 'csv', collection_by_map: 'True', permit_create_map: 'True' },
    };
    [a, b] = await Promise.all([
      startAlmanac({ config }),
      spawnAlmanac({
        database: url,
        config: '[sharing]\ntype = csv\ncollection_by_map = True\npermit_create_map = True\n',
      }),
    ]);
    ca = new DavClient(a.url);
    cb = new DavClient(b.url);
    assert.equal((await mkcalendar(ca, '/alice/cal/')).status, 201);
    assert.equal((await put(ca, '/alice/cal/a.ics', vevent('a'))).status, 201);
    await cb.propfind('/', [D('current-user-principal')], '0', 'bob');
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });

  it('create and enable on one, served by the other; disable and delete on one, gone on the other', async () => {
    // Both look the share up first: each has read the (empty) table.
    assert.equal(await bobGets(ca), 404);
    assert.equal(await bobGets(cb), 404);
    const create = { ...key, PathMapped: '/alice/cal/', User: 'bob', Permissions: 'r', Enabled: true };
    assert.equal(await api(ca, 'create', 'alice', create), 200);
    assert.equal(await bobGets(cb), 404, 'not enabled by bob yet');
    assert.equal(await api(cb, 'enable', 'bob', key), 200);
    assert.equal(await bobGets(ca), 200);
    assert.equal(await bobGets(cb), 200);
    // Listed on both once unhidden by both.
    assert.equal(await api(ca, 'unhide', 'alice', key), 200);
    assert.equal(await api(cb, 'unhide', 'bob', key), 200);
    for (const c of [ca, cb])
      assert.match((await c.propfind('/bob/', [D('displayname')], '1', 'bob')).text, /\/bob\/shared\//);
    // An overlay set through one is what the other shows.
    assert.equal(
      await api(cb, 'update', 'alice', { ...key, Properties: { 'D:displayname': 'Seen by both' } }),
      200,
    );
    assert.match((await ca.propfind('/bob/shared/', [D('displayname')], '0', 'bob')).text, /Seen by both/);
    assert.equal(await api(cb, 'disable', 'alice', key), 200);
    assert.equal(await bobGets(ca), 404);
    assert.equal(await api(ca, 'enable', 'alice', key), 200);
    assert.equal(await bobGets(cb), 200);
    assert.equal(await api(cb, 'delete', 'alice', key), 200);
    assert.equal(await bobGets(ca), 404);
    assert.equal(await api(ca, 'delete', 'alice', key), 404);
  });
});
