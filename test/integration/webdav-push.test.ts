/**
 * WebDAV-Push (draft-bitfire-webdav-push, as DAVx5 speaks it) against a Web Push service on loopback
 * (test/helpers/push-service.ts) that checks each push's VAPID token and decrypts its aes128gcm payload
 * with the subscription's private key. Runs on the suite's backend (filesystem, or PostgreSQL with
 * ALMANAC_TEST_STORAGE=postgresql).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { TestPushService } from '../helpers/push-service.js';
import {
  D,
  DavClient,
  errorMessage,
  mkcalendar,
  parseMultistatus,
  preconditions,
  propXml,
  put,
  vevent,
} from './helpers/dav-client.js';
import { parseXml, textContent, nameOf } from '../../src/dav/xml.js';
import { P, PUSH, PUSH_CONFIG, readMessage, registerAt, registerBody } from './helpers/webdav-push.js';

/** The registration URL's path (the Location header is absolute). */
function locationPath(location: string | string[] | undefined): string {
  assert.equal(typeof location, 'string', 'Location header');
  return new URL(location as string).pathname;
}

async function props(
  c: DavClient,
  path: string,
  names: string[],
): Promise<Map<string, { status: number; text: string; el: ReturnType<typeof parseXml> }>> {
  const body = `<?xml version="1.0"?><propfind xmlns="DAV:"><prop>${names.map(propXml).join('')}</prop></propfind>`;
  const r = await c.request('PROPFIND', path, { user: 'alice', body, headers: { Depth: '0' } });
  assert.equal(r.status, 207, r.text);
  const ms = parseMultistatus(r.text);
  const [only] = [...ms.props.values()];
  const out = new Map<string, { status: number; text: string; el: ReturnType<typeof parseXml> }>();
  for (const [k, v] of only ?? [])
    out.set(k, { status: v.status, text: textContent(v.element).trim(), el: v.element });
  return out;
}

describe('WebDAV-Push', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  let push: TestPushService;
  let vapidKey: string;
  before(async () => {
    push = await TestPushService.start();
    server = await startAlmanac({ config: { push: PUSH_CONFIG } });
    c = new DavClient(server.url);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    assert.equal((await mkcalendar(c, '/alice/cal2/')).status, 201);
  });
  after(async () => {
    await server.stop();
    await push.stop();
  });

  it('advertises transports (with the VAPID key), push-transports, topic and supported-triggers', async () => {
    const p = await props(c, '/alice/cal/', [
      P('transports'),
      P('push-transports'),
      P('topic'),
      P('supported-triggers'),
    ]);
    for (const name of [P('transports'), P('push-transports'), P('topic'), P('supported-triggers')]) {
      assert.equal(p.get(name)?.status, 200, name);
    }
    const transports = p.get(P('transports'))?.el;
    const webPush = transports?.children.find((e) => nameOf(e) === P('web-push'));
    const key = webPush?.children.find((e) => nameOf(e) === P('vapid-public-key'));
    assert.ok(key, 'web-push has a vapid-public-key');
    assert.equal(key.attrs.type, 'p256dh');
    vapidKey = textContent(key).trim();
    assert.equal(Buffer.from(vapidKey, 'base64url').length, 65);
    const topic = p.get(P('topic'))?.text ?? '';
    assert.match(topic, /^[A-Za-z0-9_-]{1,32}$/);
    const other = await props(c, '/alice/cal2/', [P('topic')]);
    assert.notEqual(other.get(P('topic'))?.text, topic, 'topics differ between collections');
    // Not on items, not on the root.
    const root = await c.request('PROPFIND', '/', {
      user: 'alice',
      headers: { Depth: '0' },
      body: `<?xml version="1.0"?><propfind xmlns="DAV:"><prop>${propXml(P('topic'))}</prop></propfind>`,
    });
    assert.equal([...parseMultistatus(root.text).props.values()][0]?.get(P('topic'))?.status, 404);
  });

  it('registers (201, Location, Expires bounded by max_expiry), pushes PUT, DELETE and MOVE, unregisters', async () => {
    const sub = push.subscribe();
    const asked = new Date(Date.now() + 365 * 86_400_000);
    const r = await registerAt(c, '/alice/cal/', registerBody(sub, asked));
    assert.equal(r.status, 201, r.text);
    const location = locationPath(r.headers.location);
    assert.match(location, /^\/\.push\/[A-Za-z0-9_-]{22}$/);
    const expires = Date.parse(String(r.headers.expires));
    assert.ok(
      expires > Date.now() + 6 * 86_400_000 && expires <= Date.now() + 7 * 86_400_000 + 1000,
      String(r.headers.expires),
    );

    const topic = (await props(c, '/alice/cal/', [P('topic')])).get(P('topic'))?.text;
    const token = async (path: string): Promise<string | undefined> =>
      (await props(c, path, [D('sync-token')])).get(D('sync-token'))?.text;

    assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
    const [first] = await push.waitFor(sub, 1);
    assert.ok(first);
    assert.equal(first.vapid.key, vapidKey, 'the token is signed with the advertised VAPID key');
    assert.equal(first.vapid.aud, push.origin);
    assert.equal(first.headers.topic, topic, 'Topic header lets the push service replace an older push');
    const m1 = readMessage(first.message);
    assert.equal(m1.topic, topic);
    assert.equal(
      m1.syncToken,
      await token('/alice/cal/'),
      'the push carries the sync token after the change',
    );

    assert.equal((await c.request('DELETE', '/alice/cal/a.ics', { user: 'alice' })).status, 200);
    const afterDelete = await push.waitFor(sub, 2);
    assert.equal(readMessage(afterDelete[1]?.message ?? '').syncToken, await token('/alice/cal/'));

    // MOVE between calendars: both hear of it.
    const sub2 = push.subscribe();
    assert.equal((await registerAt(c, '/alice/cal2/', registerBody(sub2))).status, 201);
    assert.equal((await put(c, '/alice/cal/b.ics', vevent('b'))).status, 201);
    await push.waitFor(sub, 3);
    const move = await c.request('MOVE', '/alice/cal/b.ics', {
      user: 'alice',
      headers: { Destination: `${server.url}/alice/cal2/b.ics` },
    });
    assert.equal(move.status, 201);
    const moved = await push.waitFor(sub, 4);
    assert.equal(readMessage(moved[3]?.message ?? '').syncToken, await token('/alice/cal/'));
    const [into] = await push.waitFor(sub2, 1);
    const m2 = readMessage(into?.message ?? '');
    assert.equal(m2.syncToken, await token('/alice/cal2/'));
    assert.notEqual(m2.topic, m1.topic);

    // Registering the same push resource again updates it (same URL), it is not a second one.
    const again = await registerAt(c, '/alice/cal/', registerBody(sub));
    assert.equal(again.status, 204);
    assert.equal(locationPath(again.headers.location), location);

    // Only its owner removes it; then it is gone.
    assert.equal((await c.request('DELETE', location, { user: 'bob' })).status, 404);
    assert.equal((await c.request('DELETE', location, { user: 'alice' })).status, 204);
    assert.equal((await c.request('DELETE', location, { user: 'alice' })).status, 404);
    assert.equal((await put(c, '/alice/cal2/c.ics', vevent('c'))).status, 201);
    await push.waitFor(sub2, 2);
    assert.equal((await put(c, '/alice/cal/d.ics', vevent('d'))).status, 201);
    assert.equal((await put(c, '/alice/cal2/e.ics', vevent('e'))).status, 201);
    await push.waitFor(sub2, 3);
    assert.equal(push.pushesTo(sub).length, 4, 'no push after unregistering');
  });

  it('a whole-calendar import is one push', async () => {
    assert.equal((await mkcalendar(c, '/alice/import/')).status, 201);
    const sub = push.subscribe();
    assert.equal((await registerAt(c, '/alice/import/', registerBody(sub))).status, 201);
    const events = Array.from({ length: 300 }, (_, i) =>
      vevent(`ev${i}`).split('\r\n').slice(4, -3).join('\r\n'),
    );
    const ics = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', ...events, 'END:VCALENDAR', ''].join(
      '\r\n',
    );
    const r = await c.request('PUT', '/alice/import/', {
      user: 'alice',
      body: ics,
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.ok(r.status === 201 || r.status === 204, r.text);
    await push.waitFor(sub, 1);
    // A later change's push comes after any the import would still have caused.
    assert.equal((await put(c, '/alice/import/marker.ics', vevent('marker'))).status, 201);
    const all = await push.waitFor(sub, 2);
    assert.equal(all.length, 2, 'one push for the import, one for the marker');
  });

  it('retries a failed push; removes a subscription the push service answers 410 for', async () => {
    const flaky = push.subscribe();
    const dead = push.subscribe();
    const witness = push.subscribe();
    assert.equal((await mkcalendar(c, '/alice/retry/')).status, 201);
    for (const s of [flaky, dead, witness]) {
      assert.equal((await registerAt(c, '/alice/retry/', registerBody(s))).status, 201);
    }
    const deadReg = await registerAt(c, '/alice/retry/', registerBody(dead));
    const deadLocation = locationPath(deadReg.headers.location);
    push.answer(flaky, { kind: 'sequence', statuses: [503, 500] });
    push.answer(dead, { kind: 'status', status: 410 });
    assert.equal((await put(c, '/alice/retry/x.ics', vevent('x'))).status, 201);
    const tries = await push.waitFor(flaky, 3);
    assert.deepEqual(
      tries.map((t) => t.status),
      [503, 500, 201],
    );
    assert.equal(tries[0]?.message, tries[2]?.message, 'a retry sends the same message');
    await push.waitFor(dead, 1);
    await push.waitFor(witness, 1);
    // The 410 removed it: the next change does not reach it, and its registration URL is unknown now.
    assert.equal((await put(c, '/alice/retry/y.ics', vevent('y'))).status, 201);
    await push.waitFor(witness, 2);
    assert.equal((await c.request('DELETE', deadLocation, { user: 'alice' })).status, 404);
    assert.equal(push.pushesTo(dead).length, 1);
  });

  it('does not push expired registrations', async () => {
    assert.equal((await mkcalendar(c, '/alice/expiry/')).status, 201);
    const short = push.subscribe();
    const witness = push.subscribe();
    const soon = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    const r = await registerAt(c, '/alice/expiry/', registerBody(short, soon));
    assert.equal(r.status, 201);
    assert.equal(Date.parse(String(r.headers.expires)), soon.getTime(), 'a shorter expiry asked for is kept');
    assert.equal((await registerAt(c, '/alice/expiry/', registerBody(witness))).status, 201);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, soon.getTime() - Date.now()) + 100));
    assert.equal((await put(c, '/alice/expiry/x.ics', vevent('x'))).status, 201);
    await push.waitFor(witness, 1);
    assert.equal(push.pushesTo(short).length, 0);
  });

  it('a push service that never answers does not delay or fail writes', async () => {
    assert.equal((await mkcalendar(c, '/alice/hang/')).status, 201);
    const stuck = push.subscribe();
    push.answer(stuck, { kind: 'hang' });
    assert.equal((await registerAt(c, '/alice/hang/', registerBody(stuck))).status, 201);
    assert.equal((await put(c, '/alice/hang/1.ics', vevent('h1'))).status, 201);
    await push.waitFor(stuck, 1);
    for (let i = 2; i < 6; i++)
      assert.equal((await put(c, `/alice/hang/${i}.ics`, vevent(`h${i}`))).status, 201);
  });

  it('refuses what it cannot push to, and users who may not read the collection', async () => {
    const sub = push.subscribe();
    const bad = async (body: string, status: number, pre?: string): Promise<void> => {
      const r = await registerAt(c, '/alice/cal/', body);
      assert.equal(r.status, status, r.text);
      if (pre) assert.deepEqual(preconditions(r.text), [pre], errorMessage(r.text));
    };
    await bad(registerBody({ ...sub, p256dh: 'AAAA' }), 403, P('invalid-subscription'));
    await bad(registerBody({ ...sub, auth: 'AAAA' }), 403, P('invalid-subscription'));
    await bad(registerBody({ ...sub, endpoint: 'not a url' }), 403, P('invalid-subscription'));
    await bad(
      registerBody(sub).replace(
        '<content-encoding>aes128gcm</content-encoding>',
        '<content-encoding>aesgcm</content-encoding>',
      ),
      403,
      P('invalid-subscription'),
    );
    await bad(`<?xml version="1.0"?><push-register xmlns="${PUSH}"/>`, 403, P('invalid-subscription'));
    await bad(`<?xml version="1.0"?><other xmlns="${PUSH}"/>`, 415);
    await bad('<push-register', 400);
    // Not XML: POST is still not a method here.
    const plain = await c.request('POST', '/alice/cal/', {
      user: 'alice',
      body: 'x=1',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(plain.status, 405);
    // bob may not read alice's calendar; anonymous must log in.
    assert.equal((await registerAt(c, '/alice/cal/', registerBody(sub), 'bob')).status, 403);
    const anon = await c.request('POST', '/alice/cal/', {
      body: registerBody(sub),
      headers: { 'Content-Type': 'application/xml' },
    });
    assert.equal(anon.status, 401);
    assert.equal((await registerAt(c, '/alice/missing/', registerBody(sub))).status, 404);
    assert.equal((await c.request('GET', '/.push/AAAAAAAAAAAAAAAAAAAAAA', { user: 'alice' })).status, 405);
  });

  it('refuses http: and private push resources unless allow_http_endpoints', async () => {
    const strict = await startAlmanac({ config: { push: { coalesce_delay: '0.1' } } });
    try {
      const sc = new DavClient(strict.url);
      assert.equal((await mkcalendar(sc, '/alice/cal/')).status, 201);
      const sub = push.subscribe();
      for (const endpoint of [
        sub.endpoint,
        'https://127.0.0.1/x',
        'https://[::1]/x',
        'https://10.1.2.3/x',
        'https://localhost/x',
      ]) {
        const r = await registerAt(sc, '/alice/cal/', registerBody({ ...sub, endpoint }));
        assert.equal(r.status, 403, endpoint);
        assert.deepEqual(preconditions(r.text), [P('invalid-subscription')]);
      }
      const ok = await registerAt(
        sc,
        '/alice/cal/',
        registerBody({ ...sub, endpoint: 'https://push.example.net/up/abc' }),
      );
      assert.equal(ok.status, 201, ok.text);
    } finally {
      await strict.stop();
    }
  });
});

describe('WebDAV-Push limits', () => {
  it('max_subscriptions_per_collection and max_subscriptions_per_user', async () => {
    const push = await TestPushService.start();
    const server = await startAlmanac({
      config: {
        push: { ...PUSH_CONFIG, max_subscriptions_per_user: '3', max_subscriptions_per_collection: '2' },
      },
    });
    try {
      const c = new DavClient(server.url);
      for (const p of ['/alice/a/', '/alice/b/']) assert.equal((await mkcalendar(c, p)).status, 201);
      const [s1, s2, s3, s4] = [push.subscribe(), push.subscribe(), push.subscribe(), push.subscribe()];
      assert.equal((await registerAt(c, '/alice/a/', registerBody(s1))).status, 201);
      assert.equal((await registerAt(c, '/alice/a/', registerBody(s2))).status, 201);
      const full = await registerAt(c, '/alice/a/', registerBody(s3));
      assert.equal(full.status, 403);
      assert.deepEqual(preconditions(full.text), [P('push-not-available')]);
      assert.match(errorMessage(full.text), /max_subscriptions_per_collection/);
      // An update is not one more.
      assert.equal((await registerAt(c, '/alice/a/', registerBody(s2))).status, 204);
      assert.equal((await registerAt(c, '/alice/b/', registerBody(s3))).status, 201);
      const tooMany = await registerAt(c, '/alice/b/', registerBody(s4));
      assert.equal(tooMany.status, 403);
      assert.match(errorMessage(tooMany.text), /max_subscriptions_per_user/);
    } finally {
      await server.stop();
      await push.stop();
    }
  });
});

describe('WebDAV-Push persistence', () => {
  it('keeps registrations and the VAPID key across a restart', async () => {
    const push = await TestPushService.start();
    const tmp = mkdtempSync(join(tmpdir(), 'almanac-push-'));
    const folder = join(tmp, 'collections');
    const key = async (c: DavClient): Promise<string> => {
      const r = await c.request('PROPFIND', '/alice/cal/', {
        user: 'alice',
        headers: { Depth: '0' },
        body: `<?xml version="1.0"?><propfind xmlns="DAV:"><prop>${propXml(P('transports'))}</prop></propfind>`,
      });
      return r.text.match(/>([A-Za-z0-9_-]{80,})</)?.[1] ?? '';
    };
    try {
      let server = await startAlmanac({ folder, config: { push: PUSH_CONFIG } });
      let c = new DavClient(server.url);
      assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
      const sub = push.subscribe();
      assert.equal((await registerAt(c, '/alice/cal/', registerBody(sub))).status, 201);
      const before = await key(c);
      assert.notEqual(before, '');
      await server.stop();
      if (server.storage === 'filesystem') {
        const dir = join(folder, '.Almanac.push');
        assert.deepEqual(readdirSync(dir).sort(), ['secrets.json', 'subscriptions.json']);
        assert.equal(statSync(join(dir, 'secrets.json')).mode & 0o077, 0, 'secrets.json is private');
        assert.ok(existsSync(join(folder, 'collection-root')));
        assert.match(readFileSync(join(dir, 'subscriptions.json'), 'utf8'), /alice\/cal/);
      }
      server = await startAlmanac({ folder, config: { push: PUSH_CONFIG } });
      c = new DavClient(server.url);
      try {
        assert.equal(await key(c), before, 'the same VAPID key after a restart');
        assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
        const [p] = await push.waitFor(sub, 1);
        assert.equal(p?.vapid.key, before);
      } finally {
        await server.stop();
      }
    } finally {
      await push.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('WebDAV-Push configuration', () => {
  it('enabled = False: no properties, POST 405, no keys made', async () => {
    const server = await startAlmanac({ config: { push: { enabled: 'False' } } });
    try {
      const c = new DavClient(server.url);
      assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
      const p = await props(c, '/alice/cal/', [P('transports'), P('topic')]);
      assert.equal(p.get(P('transports'))?.status, 404);
      assert.equal(p.get(P('topic'))?.status, 404);
      const push = await TestPushService.start();
      try {
        const r = await registerAt(c, '/alice/cal/', registerBody(push.subscribe()));
        assert.equal(r.status, 405);
      } finally {
        await push.stop();
      }
      if (server.storage === 'filesystem')
        assert.equal(existsSync(join(server.folder, '.Almanac.push')), false);
    } finally {
      await server.stop();
    }
  });

  it('max_expiry below the draft’s three days is raised to them', async () => {
    const server = await startAlmanac({ config: { push: { ...PUSH_CONFIG, max_expiry: '60' } } });
    const push = await TestPushService.start();
    try {
      const c = new DavClient(server.url);
      assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
      const r = await registerAt(c, '/alice/cal/', registerBody(push.subscribe()));
      assert.equal(r.status, 201);
      const expires = Date.parse(String(r.headers.expires));
      assert.ok(Math.abs(expires - (Date.now() + 3 * 86_400_000)) < 60_000, String(r.headers.expires));
    } finally {
      await server.stop();
      await push.stop();
    }
  });
});
