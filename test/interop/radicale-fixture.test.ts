/**
 * Serving a data folder that the real Radicale 3.1.8 wrote (test/fixtures/radicale-3.1.8), unchanged:
 * every href, ETag and display name Radicale answered must come back identical; a client's old
 * sync token goes on working; after Almanac changes the folder, Radicale 3.1.8 serving it lists
 * exactly what Almanac lists and refuses Almanac's sync tokens (positions in Almanac's own change
 * log) with DAV:valid-sync-token, so its clients sync again; and what Radicale then writes appears in
 * Almanac's next incremental sync.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { FIXTURE, copyFixture, startRadicale } from '../helpers/radicale.js';
import { parseXml, NS, type XmlElement } from '../../src/dav/xml.js';
import { requirePythonModule } from './helpers/tools.js';

interface Expected {
  collections: Record<
    string,
    {
      ctag: string;
      displayname: string;
      export_content_type: string;
      items: Record<string, string>;
      sync_token: string;
    }
  >;
  sync: Record<string, { token: string; changed_hrefs_after: string[]; token_after_changes?: string }>;
  users: Record<string, string>;
}

const auth = (user: string, pw: string): string => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

function texts(el: XmlElement, ns: string, local: string): string[] {
  const out: string[] = [];
  const walk = (e: XmlElement): void => {
    if (e.ns === ns && e.local === local) out.push(e.text.trim());
    e.children.forEach(walk);
  };
  walk(el);
  return out;
}

interface Listed {
  props: Map<string, Record<string, string>>;
  status: Map<string, string>;
}

async function propfind(base: string, path: string, authz: string, depth = '1'): Promise<Listed> {
  const body =
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">' +
    '<D:prop><D:getetag/><CS:getctag/><D:sync-token/><D:displayname/></D:prop></D:propfind>';
  const res = await fetch(base + path, {
    method: 'PROPFIND',
    body,
    headers: { Authorization: authz, Depth: depth },
  });
  assert.equal(res.status, 207, `PROPFIND ${path}`);
  return parseListing(parseXml(await res.text()));
}

function parseListing(root: XmlElement): Listed {
  const props = new Map<string, Record<string, string>>();
  const status = new Map<string, string>();
  for (const r of root.children.filter((c) => c.ns === NS.D && c.local === 'response')) {
    const href = texts(r, NS.D, 'href')[0] ?? '';
    const found: Record<string, string> = {};
    for (const ps of r.children.filter((c) => c.local === 'propstat')) {
      const ok = texts(ps, NS.D, 'status')[0]?.includes(' 200 ');
      const prop = ps.children.find((c) => c.local === 'prop');
      if (ok && prop) for (const p of prop.children) found[p.local] = p.text.trim();
    }
    props.set(href, found);
    const st = r.children.find((c) => c.ns === NS.D && c.local === 'status');
    if (st) status.set(href, st.text.trim());
  }
  return { props, status };
}

function syncRequest(base: string, path: string, authz: string, token: string): Promise<Response> {
  const body =
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">' +
    `<D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`;
  return fetch(base + path, {
    method: 'REPORT',
    body,
    headers: { Authorization: authz, Depth: '1' },
  });
}

async function syncCollection(
  base: string,
  path: string,
  authz: string,
  token: string,
): Promise<Listed & { token: string }> {
  const res = await syncRequest(base, path, authz, token);
  assert.equal(res.status, 207, `sync-collection ${path}`);
  const root = parseXml(await res.text());
  const listed = parseListing(root);
  const tokenEl = root.children.find((c) => c.ns === NS.D && c.local === 'sync-token');
  return { ...listed, token: tokenEl?.text.trim() ?? '' };
}

const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
const userOf = (path: string): string => path.split('/')[1] ?? '';
const authFor = (path: string): string => auth(userOf(path), expected.users[userOf(path)] ?? '');

describe('a data folder written by Radicale 3.1.8', () => {
  let folder: string;
  let almanac: RunningAlmanac;

  before(async () => {
    folder = copyFixture();
    almanac = await startAlmanac({ folder, users: expected.users });
  });
  after(async () => {
    await almanac.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  for (const [path, coll] of Object.entries(expected.collections)) {
    it(`serves ${path} with Radicale's hrefs, ETags and display name`, async () => {
      const listed = await propfind(almanac.url, path, authFor(path));
      const self = listed.props.get(path);
      assert.ok(self, `${path} listed`);
      // The CTag is Almanac's own (from its change log), and the collection's ETag too.
      assert.match(self.getctag ?? '', /^"[0-9a-f]{64}"$/);
      assert.equal(self.getetag, self.getctag);
      assert.match(self['sync-token'] ?? '', /^http:\/\/radicale\.org\/ns\/sync\/almanac-[0-9a-f]{16}-\d+$/);
      assert.equal(self.displayname, coll.displayname);
      const items = [...listed.props].filter(([href]) => href !== path);
      assert.deepEqual(Object.fromEntries(items.map(([h, p]) => [h, p.getetag])), coll.items);
    });

    it(`exports ${path} with the content type Radicale used`, async () => {
      const res = await fetch(almanac.url + path, { headers: { Authorization: authFor(path) } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), coll.export_content_type);
      await res.arrayBuffer();
    });
  }

  for (const [path, sync] of Object.entries(expected.sync)) {
    it(`continues a client's sync of ${path} from the token Radicale gave it`, async () => {
      const r = await syncCollection(almanac.url, path, authFor(path), sync.token);
      const changed = [...r.props.keys(), ...r.status.keys()].filter((h) => h !== path);
      assert.deepEqual([...new Set(changed)].sort(), [...sync.changed_hrefs_after].sort());
      for (const [href, st] of r.status) assert.match(st, / 404 /, `${href} deleted`);
      const deleted = sync.changed_hrefs_after.filter(
        (h) => !(h in (expected.collections[path]?.items ?? {})),
      );
      assert.deepEqual([...r.status.keys()].sort(), deleted.sort());
      // The answer carries a token of Almanac's log, from which nothing changed.
      assert.match(r.token, /\/almanac-[0-9a-f]{16}-\d+$/);
      const again = await syncCollection(almanac.url, path, authFor(path), r.token);
      assert.deepEqual([again.token, again.props.size, again.status.size], [r.token, 0, 0]);
    });
  }
});

describe('Radicale 3.1.8 takes the folder back after Almanac wrote to it', () => {
  it('lists exactly the hrefs and ETags that Almanac lists, refuses its tokens; its writes reach Almanac', async (t) => {
    if (!requirePythonModule(t, 'radicale', 'radicale')) return;
    const folder = copyFixture();
    const almanac = await startAlmanac({ folder, users: expected.users });
    const a = auth('alice', 'alicepw');
    // Listed first, so that the CTags and sync tokens after the changes are updated in place, as in
    // a long-running server, rather than computed from scratch.
    for (const p of Object.keys(expected.collections)) await propfind(almanac.url, p, authFor(p));
    const event = (uid: string, summary: string): string =>
      `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260301T090000Z\r\nDTEND:20260301T100000Z\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
    let res = await fetch(`${almanac.url}/alice/work/new@almanac.ics`, {
      method: 'PUT',
      body: event('new-from-almanac', 'Added by Almanac'),
      headers: { Authorization: a, 'Content-Type': 'text/calendar' },
    });
    assert.equal(res.status, 201);
    const review = await fetch(`${almanac.url}/alice/work/review.ics`, { headers: { Authorization: a } });
    const reviewText = (await review.text()).replace(/SUMMARY:[^\r\n]*/, 'SUMMARY:Review (moved by Almanac)');
    res = await fetch(`${almanac.url}/alice/work/review.ics`, {
      method: 'PUT',
      body: reviewText,
      headers: { Authorization: a, 'Content-Type': 'text/calendar' },
    });
    assert.equal(res.status, 204);
    res = await fetch(`${almanac.url}/alice/work/standup.ics`, {
      method: 'DELETE',
      headers: { Authorization: a },
    });
    assert.equal(res.status, 200);
    res = await fetch(`${almanac.url}/alice/contacts/carol.vcf`, {
      method: 'DELETE',
      headers: { Authorization: a },
    });
    assert.equal(res.status, 200);

    const paths = Object.keys(expected.collections);
    const ours = new Map<string, Listed>();
    for (const p of paths) ours.set(p, await propfind(almanac.url, p, authFor(p)));
    await almanac.stop();

    const radicale = await startRadicale(folder);
    try {
      for (const p of paths) {
        const theirs = await propfind(radicale.url, p, authFor(p));
        const mine = ours.get(p);
        assert.ok(mine);
        const etags = (l: Listed): Record<string, string | undefined> =>
          Object.fromEntries([...l.props].filter(([h]) => h !== p).map(([h, v]) => [h, v.getetag]));
        assert.deepEqual(etags(theirs), etags(mine), `hrefs and ETags of ${p}`);
        // Almanac's token is not one Radicale can read: refused, so the client syncs again.
        const refused = await syncRequest(
          radicale.url,
          p,
          authFor(p),
          mine.props.get(p)?.['sync-token'] ?? '',
        );
        assert.equal(refused.status, 403, `Radicale refuses Almanac's token of ${p}`);
        assert.match(await refused.text(), /valid-sync-token/);
        // A first sync on Radicale lists the same items as Almanac.
        const first = await syncCollection(radicale.url, p, authFor(p), '');
        // (Radicale also lists the deleted items it still has history of, as 404.)
        assert.deepEqual(
          [...first.props.keys()].filter((h) => !first.status.has(h)).sort(),
          [...mine.props.keys()].filter((h) => h !== p).sort(),
        );
      }
      // Radicale writes: an addition, a modification and a deletion.
      res = await fetch(`${radicale.url}/alice/work/by-radicale.ics`, {
        method: 'PUT',
        body: event('new-from-radicale', 'Added by Radicale'),
        headers: { Authorization: a, 'Content-Type': 'text/calendar' },
      });
      assert.equal(res.status, 201);
      res = await fetch(`${radicale.url}/alice/work/new@almanac.ics`, {
        method: 'PUT',
        body: event('new-from-almanac', 'Changed by Radicale'),
        headers: { Authorization: a, 'Content-Type': 'text/calendar' },
      });
      assert.ok([201, 204].includes(res.status), `PUT answered ${res.status}`);
      res = await fetch(`${radicale.url}/alice/work/review.ics`, {
        method: 'DELETE',
        headers: { Authorization: a },
      });
      assert.equal(res.status, 200);
    } finally {
      radicale.stop();
    }
    const back = await startAlmanac({ folder, users: expected.users });
    try {
      const before = ours.get('/alice/work/')?.props.get('/alice/work/')?.['sync-token'] ?? '';
      const r = await syncCollection(back.url, '/alice/work/', a, before);
      assert.deepEqual(
        [...r.props.keys()]
          .filter((h) => !r.status.has(h))
          .map(decodeURIComponent)
          .sort(),
        ['/alice/work/by-radicale.ics', '/alice/work/new@almanac.ics'],
        'added and changed by Radicale',
      );
      assert.deepEqual([...r.status.keys()], ['/alice/work/review.ics'], 'deleted by Radicale');
      assert.match(r.status.get('/alice/work/review.ics') ?? '', / 404 /);
    } finally {
      await back.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
