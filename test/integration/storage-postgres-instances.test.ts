/**
 * Two Almanac instances on one PostgreSQL database, spoken to over HTTP: a change through one is
 * visible on the next request to the other, ctags and sync tokens agree whichever answers, racing
 * If-Match / If-None-Match PUTs let exactly one win, and `almanac storage migrate` works from the CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { createTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import { CS, D, DavClient, mkcalendar, parseMultistatus, put, report, vevent } from './helpers/dav-client.js';

const ROOT = resolve(import.meta.dirname, '../..');

if (!postgresAvailable() && process.env.CI === 'true') {
  throw new Error('PostgreSQL is missing: apt-get install postgresql (CI must install it)');
}

const missing = postgresAvailable() ? false : 'PostgreSQL is missing: apt-get install postgresql';

describe('two instances on one PostgreSQL database', { skip: missing }, () => {
  let url = '';
  let a: RunningAlmanac;
  let b: RunningAlmanac;
  let ca: DavClient;
  let cb: DavClient;

  before(async () => {
    url = await createTestDatabase();
    const config = { storage: { type: 'postgresql', postgresql_url: url } };
    // Started together: the schema migration must run once (advisory lock), not fail on one of them.
    [a, b] = await Promise.all([startAlmanac({ config }), startAlmanac({ config })]);
    ca = new DavClient(a.url);
    cb = new DavClient(b.url);
    assert.equal((await mkcalendar(ca, '/alice/cal/')).status, 201);
  });

  after(async () => {
    await a.stop();
    await b.stop();
  });

  const tags = async (c: DavClient): Promise<[string, string]> => {
    const r = await c.propfind('/alice/cal/', [CS('getctag'), D('sync-token')], '0');
    const p = parseMultistatus(r.text).props.get('/alice/cal/');
    return [p?.get(CS('getctag'))?.element.text ?? '', p?.get(D('sync-token'))?.element.text ?? ''];
  };

  const syncReport = async (
    c: DavClient,
    token: string,
    path = '/alice/cal/',
  ): Promise<{ token: string; hrefs: string[] }> => {
    const r = await report(
      c,
      path,
      `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
    );
    assert.equal(r.status, 207, r.text);
    const ms = parseMultistatus(r.text);
    return {
      token: ms.syncToken ?? '',
      hrefs: [...new Set([...ms.props.keys(), ...ms.statuses.keys()])].sort(),
    };
  };

  it('a change through one instance is visible on the next request to the other', async () => {
    assert.equal((await put(ca, '/alice/cal/one.ics', vevent('one'))).status, 201);
    const g = await cb.request('GET', '/alice/cal/one.ics', { user: 'alice' });
    assert.equal(g.status, 200);
    assert.match(g.text, /UID:one/);
    assert.equal((await cb.request('DELETE', '/alice/cal/one.ics', { user: 'alice' })).status, 200);
    assert.equal((await ca.request('GET', '/alice/cal/one.ics', { user: 'alice' })).status, 404);
    const body = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Shared</D:displayname></D:prop></D:set></D:propertyupdate>`;
    assert.equal((await ca.request('PROPPATCH', '/alice/cal/', { user: 'alice', body })).status, 207);
    const r = await cb.propfind('/alice/cal/', [D('displayname')], '0');
    assert.equal(
      parseMultistatus(r.text).props.get('/alice/cal/')?.get(D('displayname'))?.element.text,
      'Shared',
    );
  });

  it('ctag and sync token agree whichever instance answers, and tokens replay on the other', async () => {
    const start = await syncReport(ca, '');
    for (const n of ['s1', 's2', 's3']) {
      const before = await tags(ca);
      assert.deepEqual(await tags(cb), before);
      assert.equal((await put(n === 's2' ? cb : ca, `/alice/cal/${n}.ics`, vevent(n))).status, 201);
      const now = await tags(cb);
      assert.deepEqual(await tags(ca), now);
      assert.notEqual(now[0], before[0]);
      assert.notEqual(now[1], before[1]);
    }
    const fromA = await syncReport(ca, start.token);
    const fromB = await syncReport(cb, start.token);
    assert.deepEqual(fromB, fromA);
    assert.deepEqual(fromA.hrefs, ['/alice/cal/s1.ics', '/alice/cal/s2.ics', '/alice/cal/s3.ics']);
    assert.deepEqual((await syncReport(cb, fromA.token)).hrefs, []);
  });

  it('listings, multigets, queries and exports read on one instance follow changes made through the other', async () => {
    const cal = '/alice/cached/';
    assert.equal((await mkcalendar(ca, cal)).status, 201);
    for (const n of ['k1', 'k2', 'k3'])
      assert.equal((await put(ca, `${cal}${n}.ics`, vevent(n, { summary: `old ${n}` }))).status, 201);
    const listing = async (): Promise<Map<string, string>> => {
      const r = await ca.propfind(cal, [D('getetag')], '1');
      const out = new Map<string, string>();
      for (const [href, props] of parseMultistatus(r.text).props) {
        if (href !== cal) out.set(href, props.get(D('getetag'))?.element.text ?? '');
      }
      return out;
    };
    const multiget = async (): Promise<string> =>
      (
        await report(
          ca,
          cal,
          `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>${['k1', 'k2', 'k3', 'k4'].map((n) => `<D:href>${cal}${n}.ics</D:href>`).join('')}</C:calendar-multiget>`,
        )
      ).text;
    const exported = async (): Promise<string> => (await ca.request('GET', cal, { user: 'alice' })).text;
    // Read twice on A, so that whatever it keeps is warm.
    for (let i = 0; i < 2; i++) {
      assert.equal((await listing()).size, 3);
      assert.match(await multiget(), /SUMMARY:old k2/);
      assert.match(await exported(), /SUMMARY:old k2/);
    }
    const token = (await syncReport(ca, '', cal)).token;
    const before = await listing();
    // Through B: one item rewritten, one deleted, one added.
    assert.equal((await put(cb, `${cal}k2.ics`, vevent('k2', { summary: 'new k2' }))).status, 204);
    assert.equal((await cb.request('DELETE', `${cal}k3.ics`, { user: 'alice' })).status, 200);
    assert.equal((await put(cb, `${cal}k4.ics`, vevent('k4', { summary: 'new k4' }))).status, 201);
    const after = await listing();
    assert.deepEqual([...after.keys()].sort(), [`${cal}k1.ics`, `${cal}k2.ics`, `${cal}k4.ics`]);
    assert.equal(after.get(`${cal}k1.ics`), before.get(`${cal}k1.ics`));
    assert.notEqual(after.get(`${cal}k2.ics`), before.get(`${cal}k2.ics`));
    const mg = await multiget();
    assert.match(mg, /SUMMARY:new k2/);
    assert.match(mg, /SUMMARY:new k4/);
    assert.doesNotMatch(mg, /SUMMARY:old k2|SUMMARY:old k3/);
    const ex = await exported();
    assert.match(ex, /SUMMARY:new k2/);
    assert.match(ex, /SUMMARY:new k4/);
    assert.doesNotMatch(ex, /UID:k3/);
    const q = await report(
      ca,
      cal,
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`,
    );
    assert.deepEqual([...parseMultistatus(q.text).props.keys()].sort(), [
      `${cal}k1.ics`,
      `${cal}k2.ics`,
      `${cal}k4.ics`,
    ]);
    const changes = await syncReport(ca, token, cal);
    assert.deepEqual(changes.hrefs, [`${cal}k2.ics`, `${cal}k3.ics`, `${cal}k4.ics`]);
    // A collection deleted and made again through B is a new one for A too.
    assert.equal((await cb.request('DELETE', cal, { user: 'alice' })).status, 200);
    assert.equal((await mkcalendar(cb, cal)).status, 201);
    assert.equal((await put(cb, `${cal}k9.ics`, vevent('k9'))).status, 201);
    assert.deepEqual([...(await listing()).keys()], [`${cal}k9.ics`]);
    assert.doesNotMatch(await exported(), /UID:k1/);
  });

  it('racing If-Match PUTs on both instances: exactly one wins, the other gets 412', async () => {
    for (let round = 0; round < 10; round++) {
      const base = await put(ca, '/alice/cal/race.ics', vevent('race', { summary: `base ${round}` }));
      assert.ok(base.status === 201 || base.status === 204, String(base.status));
      const etag = String(base.headers.etag);
      const [x, y] = await Promise.all([
        put(ca, '/alice/cal/race.ics', vevent('race', { summary: `A ${round}` }), 'alice', {
          'If-Match': etag,
        }),
        put(cb, '/alice/cal/race.ics', vevent('race', { summary: `B ${round}` }), 'alice', {
          'If-Match': etag,
        }),
      ]);
      assert.deepEqual([x.status, y.status].sort(), [204, 412], `round ${round}`);
      const winner = x.status === 204 ? 'A' : 'B';
      const g = await (winner === 'A' ? cb : ca).request('GET', '/alice/cal/race.ics', { user: 'alice' });
      assert.match(g.text, new RegExp(`SUMMARY:${winner} ${round}`));
    }
  });

  it('racing If-None-Match: * creations: exactly one 201', async () => {
    for (let round = 0; round < 5; round++) {
      const href = `/alice/cal/new-${round}.ics`;
      const [x, y] = await Promise.all([
        put(ca, href, vevent(`new-${round}`, { summary: 'A' }), 'alice', { 'If-None-Match': '*' }),
        put(cb, href, vevent(`new-${round}`, { summary: 'B' }), 'alice', { 'If-None-Match': '*' }),
      ]);
      assert.deepEqual([x.status, y.status].sort(), [201, 412], `round ${round}`);
    }
  });

  it('almanac storage migrate runs from the command line', () => {
    const cli = (args: string[]): string =>
      execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'storage', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    assert.equal(cli(['migrate', '--url', url]), 'schema is up to date\n');
  });
});

void it('almanac storage migrate on a new database applies the schema; bad arguments are a usage error', async (t) => {
  if (!postgresAvailable()) {
    t.skip('PostgreSQL is missing: apt-get install postgresql');
    return;
  }
  const url = await createTestDatabase();
  const cli = (args: string[]): string =>
    execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'storage', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });
  assert.equal(cli(['migrate', '--url', url]), 'applied migrations 1, 2, 3, 4, 5\n');
  assert.equal(cli(['migrate', '--url', url]), 'schema is up to date\n');
  assert.throws(
    () => cli(['frobnicate']),
    (e: { status?: number }) => e.status === 2,
  );
});
