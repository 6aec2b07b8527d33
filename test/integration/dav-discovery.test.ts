/**
 * Discovery: OPTIONS, .well-known, principals and home sets, privileges, PROPFIND variants and depths.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  CR,
  CS,
  D,
  DavClient,
  hrefsIn,
  malformedResponses,
  mkaddressbook,
  mkcalendar,
  parseMultistatus,
  preconditions,
  put,
  vevent,
} from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';

let server: RunningAlmanac;
let c: DavClient;
const users = { alice: 'alicepw', bob: 'bobpw', 'carol@example.org': 'carolpw' };

before(async () => {
  server = await startAlmanac({ users });
  c = new DavClient(server.url, users);
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
  assert.equal((await put(c, '/alice/cal/e1.ics', vevent('e1'))).status, 201);
});
after(async () => server.stop());

function prop(text: string, href: string, name: string): { status: number; text: string; hrefs: string[] } {
  const ms = parseMultistatus(text);
  const p = ms.props.get(href)?.get(name);
  assert.ok(p, `no ${name} for ${href} in ${text}`);
  return { status: p.status, text: textContent(p.element).trim(), hrefs: hrefsIn(p.element) };
}

describe('OPTIONS', () => {
  it('advertises DAV classes 1 and 3 and the CalDAV/CardDAV extensions, without class 2', async () => {
    const r = await c.request('OPTIONS', '/');
    assert.equal(r.status, 200);
    const dav = String(r.headers.dav)
      .split(',')
      .map((s) => s.trim());
    assert.ok(dav.includes('1'));
    assert.ok(dav.includes('3'));
    assert.ok(!dav.includes('2'), 'no LOCK support, so no class 2');
    assert.ok(dav.includes('calendar-access'));
    assert.ok(dav.includes('addressbook'));
    const allow = String(r.headers.allow);
    for (const m of ['PROPFIND', 'REPORT', 'MKCALENDAR', 'PUT', 'DELETE', 'MOVE'])
      assert.ok(allow.includes(m), m);
    assert.ok(!allow.includes('LOCK'));
  });

  it('answers without authentication', async () => {
    const r = await c.request('OPTIONS', '/alice/cal/');
    assert.equal(r.status, 200);
  });

  it('LOCK is refused as not allowed', async () => {
    const r = await c.request('LOCK', '/alice/cal/e1.ics', { user: 'alice' });
    assert.equal(r.status, 405);
  });
});

describe('.well-known', () => {
  for (const kind of ['caldav', 'carddav']) {
    it(`/.well-known/${kind} redirects permanently to /`, async () => {
      const r = await c.request('PROPFIND', `/.well-known/${kind}`, { headers: { Depth: '0' } });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, '/');
      const g = await c.request('GET', `/.well-known/${kind}/`);
      assert.equal(g.status, 301);
    });
  }
  it('other .well-known paths are 404', async () => {
    const r = await c.request('GET', '/.well-known/other', { user: 'alice' });
    assert.equal(r.status, 404);
  });
});

describe('principals', () => {
  it('current-user-principal on / names the logged-in user', async () => {
    const r = await c.propfind('/', [D('current-user-principal')], '0');
    assert.equal(r.status, 207);
    assert.deepEqual(prop(r.text, '/', D('current-user-principal')).hrefs, ['/alice/']);
  });

  it('the principal collection is created on first login', async () => {
    assert.equal(await server.store.getCollection('bob'), undefined);
    const r = await c.propfind('/', [D('current-user-principal')], '0', 'bob');
    assert.equal(r.status, 207);
    assert.notEqual(await server.store.getCollection('bob'), undefined);
    const p = await c.propfind('/bob/', [D('resourcetype')], '0', 'bob');
    assert.equal(p.status, 207);
    const rt = parseMultistatus(p.text).props.get('/bob/')?.get(D('resourcetype'));
    const kinds = rt?.element.children.map((k) => `{${k.ns}}${k.local}`) ?? [];
    assert.ok(kinds.includes(D('principal')));
    assert.ok(kinds.includes(D('collection')));
  });

  it('calendar-home-set and addressbook-home-set point at the principal', async () => {
    const r = await c.propfind(
      '/alice/',
      [C('calendar-home-set'), CR('addressbook-home-set'), D('principal-URL')],
      '0',
    );
    assert.deepEqual(prop(r.text, '/alice/', C('calendar-home-set')).hrefs, ['/alice/']);
    assert.deepEqual(prop(r.text, '/alice/', CR('addressbook-home-set')).hrefs, ['/alice/']);
    assert.deepEqual(prop(r.text, '/alice/', D('principal-URL')).hrefs, ['/alice/']);
  });

  it('calendar-user-address-set has a mailto for a login that is an e-mail address', async () => {
    const user = 'carol@example.org';
    const r = await c.propfind('/carol@example.org/', [C('calendar-user-address-set')], '0', user);
    assert.equal(r.status, 207);
    const ms = parseMultistatus(r.text);
    const [href] = [...ms.props.keys()];
    assert.ok(href);
    const hrefs = hrefsIn(ms.props.get(href)?.get(C('calendar-user-address-set'))?.element ?? ms.root);
    assert.ok(hrefs.includes('mailto:carol@example.org'), JSON.stringify(hrefs));
  });

  it('calendar-user-address-set has no mailto for a plain login', async () => {
    const r = await c.propfind('/alice/', [C('calendar-user-address-set')], '0');
    const p = parseMultistatus(r.text).props.get('/alice/')?.get(C('calendar-user-address-set'));
    assert.ok(p);
    assert.ok(!hrefsIn(p.element).some((h) => h.startsWith('mailto:')));
  });

  it('owner of a calendar is its principal', async () => {
    const r = await c.propfind('/alice/cal/', [D('owner')], '0');
    assert.deepEqual(prop(r.text, '/alice/cal/', D('owner')).hrefs, ['/alice/']);
  });

  it('principal-collection-set is the root', async () => {
    const r = await c.propfind('/alice/', [D('principal-collection-set')], '0');
    assert.deepEqual(prop(r.text, '/alice/', D('principal-collection-set')).hrefs, ['/']);
  });
});

describe('reports and privileges', () => {
  function reportNames(text: string, href: string): string[] {
    const p = parseMultistatus(text).props.get(href)?.get(D('supported-report-set'));
    assert.ok(p);
    const out: string[] = [];
    for (const sr of p.element.children)
      for (const r of sr.children) for (const n of r.children) out.push(`{${n.ns}}${n.local}`);
    return out;
  }

  it('a calendar supports calendar-multiget, calendar-query, free-busy-query and sync-collection', async () => {
    const r = await c.propfind('/alice/cal/', [D('supported-report-set')], '0');
    const names = reportNames(r.text, '/alice/cal/');
    for (const n of [
      C('calendar-multiget'),
      C('calendar-query'),
      C('free-busy-query'),
      D('sync-collection'),
    ]) {
      assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
    }
    assert.ok(!names.includes(CR('addressbook-query')));
  });

  it('an address book supports addressbook-multiget, addressbook-query and sync-collection', async () => {
    const r = await c.propfind('/alice/book/', [D('supported-report-set')], '0');
    const names = reportNames(r.text, '/alice/book/');
    for (const n of [CR('addressbook-multiget'), CR('addressbook-query'), D('sync-collection')]) {
      assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
    }
    assert.ok(!names.includes(C('calendar-query')));
  });

  it('current-user-privilege-set shows read and write for the owner', async () => {
    const r = await c.propfind('/alice/cal/', [D('current-user-privilege-set')], '0');
    const p = parseMultistatus(r.text).props.get('/alice/cal/')?.get(D('current-user-privilege-set'));
    assert.ok(p);
    const privs = p.element.children.flatMap((x) => x.children.map((y) => y.local));
    assert.ok(privs.includes('read'));
    assert.ok(privs.includes('write'));
  });

  it('the root is readable but not writable for a user', async () => {
    const r = await c.propfind('/', [D('current-user-privilege-set')], '0');
    const p = parseMultistatus(r.text).props.get('/')?.get(D('current-user-privilege-set'));
    assert.ok(p);
    const privs = p.element.children.flatMap((x) => x.children.map((y) => y.local));
    assert.ok(!privs.includes('write'));
  });
});

describe('PROPFIND', () => {
  it('allprop returns resourcetype, getetag and displayname but not current-user-privilege-set', async () => {
    const r = await c.propfind('/alice/cal/', 'allprop', '0');
    assert.equal(r.status, 207);
    const p = parseMultistatus(r.text).props.get('/alice/cal/');
    assert.ok(p);
    assert.ok(p.has(D('resourcetype')));
    assert.ok(p.has(D('getetag')));
    assert.ok(!p.has(D('current-user-privilege-set')));
  });

  it('allprop includes sync-token and getctag on calendars and address books, as Radicale', async () => {
    for (const path of ['/alice/cal/', '/alice/book/']) {
      const r = await c.propfind(path, 'allprop', '0');
      assert.match(
        prop(r.text, path, D('sync-token')).text,
        /^http:\/\/radicale\.org\/ns\/sync\/(?:[0-9a-f]{64}|almanac-[0-9a-f]{16}-\d+)$/,
      );
      assert.match(prop(r.text, path, CS('getctag')).text, /^"[0-9a-f]+"$/);
    }
    const home = parseMultistatus((await c.propfind('/alice/', 'allprop', '0')).text).props.get('/alice/');
    assert.ok(home && !home.has(D('sync-token')));
  });

  it('propname lists names without values', async () => {
    const r = await c.propfind('/alice/cal/', 'propname', '0');
    assert.equal(r.status, 207);
    const p = parseMultistatus(r.text).props.get('/alice/cal/');
    assert.ok(p);
    const rt = p.get(D('resourcetype'));
    assert.ok(rt);
    assert.equal(rt.element.children.length, 0);
    assert.ok(p.has(D('getetag')));
  });

  it('an empty body means allprop', async () => {
    const r = await c.request('PROPFIND', '/alice/cal/', { user: 'alice', headers: { Depth: '0' } });
    assert.equal(r.status, 207);
    assert.ok(parseMultistatus(r.text).props.get('/alice/cal/')?.has(D('resourcetype')));
  });

  it('an unknown property is 404 in its own propstat', async () => {
    const r = await c.propfind('/alice/cal/', [D('displayname'), '{urn:x}nothing'], '0');
    assert.equal(prop(r.text, '/alice/cal/', '{urn:x}nothing').status, 404);
    assert.equal(prop(r.text, '/alice/cal/', D('displayname')).status, 200);
  });

  it('Depth 0 answers only the resource itself', async () => {
    const r = await c.propfind('/alice/', [D('resourcetype')], '0');
    assert.deepEqual([...parseMultistatus(r.text).props.keys()], ['/alice/']);
  });

  it('Depth 1 lists the children', async () => {
    const r = await c.propfind('/alice/', [D('resourcetype')], '1');
    const hrefs = [...parseMultistatus(r.text).props.keys()].sort();
    assert.deepEqual(hrefs, ['/alice/', '/alice/book/', '/alice/cal/']);
  });

  it('Depth infinity on a collection is 403 propfind-finite-depth (RFC 4918 §9.1), not a Depth 1 answer', async () => {
    const r = await c.propfind('/alice/', [D('resourcetype')], 'infinity');
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [D('propfind-finite-depth')]);
    const item = await c.propfind('/alice/cal/e1.ics', [D('getetag')], 'infinity');
    assert.equal(item.status, 207);
    assert.deepEqual([...parseMultistatus(item.text).props.keys()], ['/alice/cal/e1.ics']);
  });

  it('without a Depth header is Depth 0, as Radicale answers', async () => {
    for (const path of ['/alice/', '/alice/cal/']) {
      const r = await c.request('PROPFIND', path, {
        user: 'alice',
        body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>',
        headers: { 'Content-Type': 'application/xml' },
      });
      assert.equal(r.status, 207);
      assert.deepEqual([...parseMultistatus(r.text).props.keys()], [path]);
    }
  });

  it('an empty prop answers each resource with a 200 status, a well-formed response', async () => {
    const r = await c.request('PROPFIND', '/alice/cal/', {
      user: 'alice',
      body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop/></D:propfind>',
      headers: { Depth: '1', 'Content-Type': 'application/xml' },
    });
    assert.equal(r.status, 207);
    assert.deepEqual(malformedResponses(r.text), []);
    const ms = parseMultistatus(r.text);
    assert.equal(ms.statuses.get('/alice/cal/'), 200);
    assert.equal(ms.statuses.get('/alice/cal/e1.ics'), 200);
  });

  it('Depth 1 on a calendar lists items with etags and content types', async () => {
    const r = await c.propfind('/alice/cal/', [D('getetag'), D('getcontenttype')], '1');
    const ms = parseMultistatus(r.text);
    const item = ms.props.get('/alice/cal/e1.ics');
    assert.ok(item);
    assert.match(textContent(item.get(D('getetag'))?.element ?? ms.root), /^"[0-9a-f]+"$/);
    assert.match(textContent(item.get(D('getcontenttype'))?.element ?? ms.root), /^text\/calendar/);
  });

  it('PROPFIND on an item answers the item', async () => {
    const r = await c.propfind('/alice/cal/e1.ics', [D('getetag')], '0');
    assert.equal(r.status, 207);
    assert.ok(parseMultistatus(r.text).props.get('/alice/cal/e1.ics')?.get(D('getetag')));
  });

  it('PROPFIND on a missing resource is 404', async () => {
    const r = await c.propfind('/alice/nothing/', [D('getetag')], '0');
    assert.equal(r.status, 404);
  });

  it('a bad Depth header is 400', async () => {
    const r = await c.propfind('/alice/', [D('getetag')], 'two');
    assert.equal(r.status, 400);
  });

  it('getctag and sync-token are present on a calendar', async () => {
    const r = await c.propfind('/alice/cal/', [CS('getctag'), D('sync-token')], '0');
    assert.match(prop(r.text, '/alice/cal/', CS('getctag')).text, /^"[0-9a-f]+"$/);
    assert.match(
      prop(r.text, '/alice/cal/', D('sync-token')).text,
      /^http:\/\/radicale\.org\/ns\/sync\/(?:[0-9a-f]{64}|almanac-[0-9a-f]{16}-\d+)$/,
    );
  });

  it('supported-calendar-component-set is present on a calendar', async () => {
    const r = await c.propfind('/alice/cal/', [C('supported-calendar-component-set')], '0');
    const p = parseMultistatus(r.text).props.get('/alice/cal/')?.get(C('supported-calendar-component-set'));
    assert.equal(p?.status, 200);
    const names = p.element.children.map((x) => x.attrs.name);
    assert.ok(names.includes('VEVENT'));
  });

  it('anonymous PROPFIND is 401 with WWW-Authenticate', async () => {
    const r = await c.request('PROPFIND', '/alice/', { headers: { Depth: '0' } });
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /^Basic realm=/);
  });
});
