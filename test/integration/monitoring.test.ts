/**
 * [monitoring] (issue 13): the health check and the Prometheus metrics over HTTP. Both are off unless
 * configured, the health check says only whether the storage answers, and the metrics need the bearer
 * token and never carry user names or paths.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac } from '../helpers/almanac.js';
import { DavClient, mkcalendar, put, vevent } from './helpers/dav-client.js';

const HEALTH = '/.well-known/almanac/health';
const METRICS = '/.well-known/almanac/metrics';
const TOKEN = 's3cret-scraper-token';

/** The value of one sample line of the Prometheus text (0 when absent). */
function sample(text: string, name: string, labels = ''): number {
  const escaped = `${name}${labels}`.replace(/[{}".+*?()[\]\\|^$]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${escaped} ([0-9.e+-]+)$`, 'm').exec(text);
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

describe('[monitoring]', () => {
  it('is off by default: both paths are 404 and nothing is revealed', async () => {
    const server = await startAlmanac();
    const c = new DavClient(server.url);
    try {
      for (const path of [HEALTH, METRICS]) {
        const r = await c.request('GET', path, { headers: { Authorization: `Bearer ${TOKEN}` } });
        assert.equal(r.status, 404, path);
        assert.doesNotMatch(r.text, /almanac_|ok/);
      }
    } finally {
      await server.stop();
    }
  });

  it('health: 200 while the storage answers, 503 when it does not, without a login', async (t) => {
    const server = await startAlmanac({
      config: { monitoring: { health: 'True', metrics: 'True', metrics_token: TOKEN } },
    });
    t.after(() => server.stop());
    if (server.storage !== 'filesystem') return; // the broken-folder step below is a filesystem one
    const c = new DavClient(server.url);
    const ok = await c.request('GET', HEALTH);
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'ok\n');
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.equal((await c.request('HEAD', HEALTH)).status, 200);
    assert.equal((await c.request('POST', HEALTH)).status, 405);
    // The collection folder becomes a file: the storage cannot list anything.
    const root = join(server.folder, 'collection-root');
    renameSync(root, `${root}.away`);
    writeFileSync(root, 'not a folder');
    try {
      const down = await c.request('GET', HEALTH);
      assert.equal(down.status, 503);
      assert.equal(down.text, 'storage not answering\n');
    } finally {
      rmSync(root);
      renameSync(`${root}.away`, root);
    }
    assert.equal((await c.request('GET', HEALTH)).status, 200);
    // The failed probe is a storage error in the metrics; health checks are not requests.
    const text = (await c.request('GET', METRICS, { headers: { Authorization: `Bearer ${TOKEN}` } })).text;
    assert.equal(sample(text, 'almanac_storage_errors_total', '{code="health"}'), 1);
    assert.doesNotMatch(text, /almanac_http_requests_total\{method="GET",status="(200|503)"\}/);
  });

  it('metrics need the bearer token and count requests, logins and connections without names or paths', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'almanac-metrics-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const server = await startAlmanac({
      config: { monitoring: { metrics: 'True', metrics_token_file: tokenFile } },
    });
    t.after(() => server.stop());
    const c = new DavClient(server.url);
    for (const auth of [undefined, 'Bearer wrong', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`]) {
      const r = await c.request(
        'GET',
        METRICS,
        auth === undefined ? {} : { headers: { Authorization: auth } },
      );
      assert.equal(r.status, 401, String(auth));
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="almanac metrics"');
      assert.doesNotMatch(r.text, /almanac_/);
    }
    // Alice (logged in as herself) cannot read them either: they are not a DAV resource.
    assert.equal((await c.request('GET', METRICS, { user: 'alice' })).status, 401);

    assert.equal((await mkcalendar(c, '/alice/private-calendar/')).status, 201);
    assert.equal(
      (await put(c, '/alice/private-calendar/secret-event.ics', vevent('secret-uid'))).status,
      201,
    );
    assert.equal(
      (await c.request('GET', '/alice/private-calendar/secret-event.ics', { user: 'alice' })).status,
      200,
    );
    assert.equal((await c.request('PROPFIND', '/alice/', { user: 'alice:wrong' })).status, 401);

    const r = await c.request('GET', METRICS, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = r.text;
    assert.equal(sample(text, 'almanac_http_requests_total', '{method="MKCALENDAR",status="201"}'), 1);
    assert.equal(sample(text, 'almanac_http_requests_total', '{method="PUT",status="201"}'), 1);
    assert.equal(sample(text, 'almanac_http_requests_total', '{method="GET",status="200"}'), 1);
    assert.equal(sample(text, 'almanac_http_requests_total', '{method="PROPFIND",status="401"}'), 1);
    assert.equal(sample(text, 'almanac_http_request_duration_seconds_count', '{method="PUT"}'), 1);
    assert.equal(sample(text, 'almanac_logins_failed_total'), 1);
    assert.equal(sample(text, 'almanac_logins_throttled_total'), 0);
    assert.ok(sample(text, 'almanac_http_open_connections') >= 1, 'the scrape itself is a connection');
    assert.match(text, /^almanac_http_slots_active \d+$/m);
    assert.match(text, /^# TYPE almanac_storage_errors_total counter$/m);
    assert.match(text, /^process_cpu_seconds_total /m);
    // Nothing a scrape shows names a user, a collection or an item.
    for (const secret of ['alice', 'private-calendar', 'secret-event', 'secret-uid']) {
      assert.doesNotMatch(text, new RegExp(secret), secret);
    }
    // The scrapes (and the refused ones) are not counted as requests.
    assert.equal(
      sample(text, 'almanac_http_requests_total', '{method="GET",status="401"}'),
      0,
      'refused scrapes are not requests',
    );
  });

  it('a method outside the fixed set is counted as OTHER', async (t) => {
    const server = await startAlmanac({ config: { monitoring: { metrics: 'True', metrics_token: TOKEN } } });
    t.after(() => server.stop());
    const c = new DavClient(server.url);
    assert.equal((await c.request('PATCH', '/', { user: 'alice' })).status, 405);
    const text = (await c.request('GET', METRICS, { headers: { Authorization: `Bearer ${TOKEN}` } })).text;
    assert.equal(sample(text, 'almanac_http_requests_total', '{method="OTHER",status="405"}'), 1);
    assert.doesNotMatch(text, /PATCH/);
  });

  it('metrics without a token stop the start with the option named', async () => {
    await assert.rejects(
      startAlmanac({ config: { monitoring: { metrics: 'True' } } }),
      /\[monitoring\] metrics = True needs a bearer token: set \[monitoring\] metrics_token or metrics_token_file/,
    );
  });
});
