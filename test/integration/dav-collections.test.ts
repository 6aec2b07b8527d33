/**
 * Collections: MKCOL (plain and extended), MKCALENDAR, PROPPATCH, DELETE, MOVE and COPY of collections.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  CS,
  D,
  DavClient,
  ICAL,
  mkaddressbook,
  mkcalendar,
  parseMultistatus,
  preconditions,
  put,
  report,
  findAll,
  vevent,
  vtodo,
} from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';

let server: RunningAlmanac;
let c: DavClient;

before(async () => {
  server = await startAlmanac();
  c = new DavClient(server.url);
  await c.propfind('/', [D('current-user-principal')], '0', 'alice');
});
after(async () => server.stop());

const XML = { 'Content-Type': 'application/xml; charset=utf-8' };

function mkcolBody(resourcetype: string, props = ''): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav"
  xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/">
  <D:set><D:prop><D:resourcetype><D:collection/>${resourcetype}</D:resourcetype>${props}</D:prop></D:set>
</D:mkcol>`;
}

function proppatchBody(set: string, remove = ''): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/">
  ${set ? `<D:set><D:prop>${set}</D:prop></D:set>` : ''}
  ${remove ? `<D:remove><D:prop>${remove}</D:prop></D:remove>` : ''}
</D:propertyupdate>`;
}

async function resourceTypes(path: string): Promise<string[]> {
  const r = await c.propfind(path, [D('resourcetype')], '0');
  assert.equal(r.status, 207, r.text);
  const p = parseMultistatus(r.text).props.get(path)?.get(D('resourcetype'));
  return (p?.element.children ?? []).map((k) => `{${k.ns}}${k.local}`).sort();
}

async function propText(path: string, name: string): Promise<{ status: number; text: string } | undefined> {
  const r = await c.propfind(path, [name], '0');
  const p = parseMultistatus(r.text).props.get(path)?.get(name);
  return p ? { status: p.status, text: textContent(p.element) } : undefined;
}

/** The stored props of a collection, as Radicale keeps them (whatever the backend). */
async function props(path: string): Promise<Readonly<Record<string, string>>> {
  return (await server.store.getCollection(path.split('/').filter(Boolean).join('/')))?.props ?? {};
}

async function exists(path: string): Promise<boolean> {
  return (await server.store.getCollection(path)) !== undefined;
}

describe('MKCOL', () => {
  it('plain MKCOL below the principal needs W, which owner_only does not give there: 403', async () => {
    const r = await c.request('MKCOL', '/alice/plain/', { user: 'alice' });
    assert.equal(r.status, 403);
    assert.ok(!(await exists('alice/plain')));
  });

  it('extended MKCOL creates a calendar with properties', async () => {
    const body = mkcolBody(
      '<C:calendar/>',
      '<D:displayname>Work</D:displayname><I:calendar-color>#ff0000ff</I:calendar-color>' +
        '<C:calendar-description>Things</C:calendar-description>',
    );
    const r = await c.request('MKCOL', '/alice/work/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(await resourceTypes('/alice/work/'), [C('calendar'), D('collection')].sort());
    assert.equal((await propText('/alice/work/', D('displayname')))?.text, 'Work');
    assert.equal((await propText('/alice/work/', ICAL('calendar-color')))?.text, '#ff0000ff');
    assert.equal((await propText('/alice/work/', C('calendar-description')))?.text, 'Things');
    assert.equal((await props('/alice/work/')).tag, 'VCALENDAR');
  });

  it('extended MKCOL creates an address book', async () => {
    assert.equal((await mkaddressbook(c, '/alice/contacts/')).status, 201);
    assert.ok(
      (await resourceTypes('/alice/contacts/')).includes('{urn:ietf:params:xml:ns:carddav}addressbook'),
    );
    assert.equal((await props('/alice/contacts/')).tag, 'VADDRESSBOOK');
  });

  it('extended MKCOL creates a subscription with its source', async () => {
    const body = mkcolBody(
      '<CS:subscribed/>',
      '<CS:source><D:href>https://example.org/feed.ics</D:href></CS:source>',
    );
    const r = await c.request('MKCOL', '/alice/sub/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 201, r.text);
    assert.ok((await resourceTypes('/alice/sub/')).includes(CS('subscribed')));
    const src = await c.propfind('/alice/sub/', [CS('source')], '0');
    assert.match(src.text, /https:\/\/example\.org\/feed\.ics/);
  });

  it('MKCOL on an existing collection is 405', async () => {
    const r = await c.request('MKCOL', '/alice/work/', { user: 'alice' });
    assert.equal(r.status, 405);
    assert.match(String(r.headers.allow), /PROPFIND/);
  });

  it('MKCOL without a parent is 409', async () => {
    const r = await c.request('MKCOL', '/alice/no/such/', { user: 'alice' });
    assert.equal(r.status, 409);
    assert.ok(!(await exists('alice/no')));
  });

  it('MKCOL inside a calendar is 403', async () => {
    const r = await c.request('MKCOL', '/alice/work/sub/', { user: 'alice' });
    assert.equal(r.status, 403);
  });

  it('MKCOL with an unknown resourcetype fails with 403 and no collection', async () => {
    const body = mkcolBody('<X:weird xmlns:X="urn:x"/>');
    const r = await c.request('MKCOL', '/alice/weird/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 403);
    assert.ok(!(await exists('alice/weird')));
  });

  it('MKCOL with a protected property fails with 403/424 and creates nothing', async () => {
    const body = mkcolBody('<C:calendar/>', '<D:getetag>"x"</D:getetag><D:displayname>Z</D:displayname>');
    const r = await c.request('MKCOL', '/alice/prot/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 403);
    assert.match(r.text, /getetag/);
    assert.match(r.text, /424/);
    assert.ok(!(await exists('alice/prot')));
  });

  it('MKCOL with a non-XML body is 415', async () => {
    const r = await c.request('MKCOL', '/alice/x415/', {
      user: 'alice',
      body: 'hello',
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(r.status, 415);
  });

  it("MKCOL with Radicale's documented <create> body creates the calendar with its properties", async () => {
    // The curl example of Radicale's documentation (sent as a form, as curl --data does).
    const body = `<?xml version="1.0" encoding="UTF-8" ?>
<create xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/">
  <set><prop>
    <resourcetype><collection /><C:calendar /></resourcetype>
    <C:supported-calendar-component-set><C:comp name="VEVENT" /><C:comp name="VTODO" /></C:supported-calendar-component-set>
    <displayname>Created by curl</displayname>
    <I:calendar-color>#ff0000ff</I:calendar-color>
  </prop></set>
</create>`;
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const r = await c.request('MKCOL', '/alice/curl/', { user: 'alice', body, headers });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(await resourceTypes('/alice/curl/'), [C('calendar'), D('collection')].sort());
    assert.equal((await propText('/alice/curl/', D('displayname')))?.text, 'Created by curl');
    assert.equal((await props('/alice/curl/'))['C:supported-calendar-component-set'], 'VEVENT,VTODO');
    assert.equal((await props('/alice/curl/'))['ICAL:calendar-color'], '#ff0000ff');
  });

  it('MKCOL with another root element is still 415 and creates nothing', async () => {
    const body = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>`;
    const r = await c.request('MKCOL', '/alice/notmkcol/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 415);
    assert.ok(!(await exists('alice/notmkcol')));
  });
});

describe('MKCALENDAR', () => {
  it('creates a calendar with props', async () => {
    const r = await mkcalendar(
      c,
      '/alice/home/',
      'alice',
      '<D:displayname>Home</D:displayname><C:calendar-description>At home</C:calendar-description>' +
        '<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>',
    );
    assert.equal(r.status, 201, r.text);
    assert.equal((await propText('/alice/home/', D('displayname')))?.text, 'Home');
    assert.equal((await props('/alice/home/'))['C:supported-calendar-component-set'], 'VTODO');
    const set = await c.propfind('/alice/home/', [C('supported-calendar-component-set')], '0');
    const p = parseMultistatus(set.text)
      .props.get('/alice/home/')
      ?.get(C('supported-calendar-component-set'));
    assert.deepEqual(
      p?.element.children.map((x) => x.attrs.name),
      ['VTODO'],
    );
  });

  it('without a body creates a calendar', async () => {
    assert.equal((await mkcalendar(c, '/alice/bare/')).status, 201);
    assert.ok((await resourceTypes('/alice/bare/')).includes(C('calendar')));
  });

  it('on an existing resource is 409 resource-must-be-null, as Radicale answers', async () => {
    const r = await mkcalendar(c, '/alice/home/');
    assert.equal(r.status, 409);
    assert.deepEqual(preconditions(r.text), [D('resource-must-be-null')]);
  });

  it('without a parent is 409', async () => {
    assert.equal((await mkcalendar(c, '/alice/missing/cal/')).status, 409);
  });

  it('with a protected property is a 207 Multi-Status (RFC 4791 §5.3.1.1): 403 for it, 424 for the rest', async () => {
    const r = await mkcalendar(
      c,
      '/alice/protcal/',
      'alice',
      '<D:displayname>P</D:displayname><D:getetag>"x"</D:getetag>',
    );
    assert.equal(r.status, 207, r.text);
    const ms = parseMultistatus(r.text).props.get('/alice/protcal/');
    assert.equal(ms?.get(D('getetag'))?.status, 403);
    assert.equal(ms?.get(D('displayname'))?.status, 424);
    assert.match(r.text, /cannot-modify-protected-property/);
    assert.ok(!(await exists('alice/protcal')));
  });

  it('inside a calendar is 403 calendar-collection-location-ok', async () => {
    const r = await mkcalendar(c, '/alice/home/inner/');
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('calendar-collection-location-ok')]);
  });

  it("in another user's home is 403", async () => {
    const r = await mkcalendar(c, '/alice/bobs/', 'bob');
    assert.equal(r.status, 403);
    assert.ok(!(await exists('alice/bobs')));
  });
});

describe('PROPPATCH', () => {
  it('displayname, color and description round-trip', async () => {
    const body = proppatchBody(
      '<D:displayname>Renamed ✓</D:displayname><I:calendar-color>#00ff00</I:calendar-color>' +
        '<C:calendar-description>Desc &amp; more</C:calendar-description>',
    );
    const r = await c.request('PROPPATCH', '/alice/home/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 207, r.text);
    const ms = parseMultistatus(r.text);
    for (const n of [D('displayname'), ICAL('calendar-color'), C('calendar-description')]) {
      assert.equal(ms.props.get('/alice/home/')?.get(n)?.status, 200, n);
    }
    assert.equal((await propText('/alice/home/', D('displayname')))?.text, 'Renamed ✓');
    assert.equal((await propText('/alice/home/', ICAL('calendar-color')))?.text, '#00ff00');
    assert.equal((await propText('/alice/home/', C('calendar-description')))?.text, 'Desc & more');
    assert.equal((await props('/alice/home/'))['ICAL:calendar-color'], '#00ff00');
  });

  it('remove deletes a property', async () => {
    const r = await c.request('PROPPATCH', '/alice/home/', {
      user: 'alice',
      body: proppatchBody('', '<I:calendar-color/>'),
      headers: XML,
    });
    assert.equal(r.status, 207);
    assert.equal((await propText('/alice/home/', ICAL('calendar-color')))?.status, 404);
    assert.equal((await props('/alice/home/'))['ICAL:calendar-color'], undefined);
  });

  it('dead properties in unknown namespaces are stored and returned', async () => {
    const body = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:example:x"><D:set><D:prop><X:flavour>mint</X:flavour></D:prop></D:set></D:propertyupdate>`;
    const r = await c.request('PROPPATCH', '/alice/home/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 207);
    assert.equal((await propText('/alice/home/', '{urn:example:x}flavour'))?.text, 'mint');
  });

  it('keeps the xml:lang of a value, given on the property or inherited (RFC 4918 §4.3)', async () => {
    const body = `<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:example:x" xml:lang="de">
  <D:set><D:prop><D:displayname xml:lang="fr">Calendrier</D:displayname><X:motto>Carpe diem</X:motto></D:prop></D:set>
  <D:set><D:prop xml:lang="en-GB"><X:colour>grey</X:colour></D:prop></D:set>
</D:propertyupdate>`;
    const r = await c.request('PROPPATCH', '/alice/home/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 207, r.text);
    const lang = async (name: string): Promise<string | undefined> => {
      const p = await c.propfind('/alice/home/', [name], '0');
      const e = parseMultistatus(p.text).props.get('/alice/home/')?.get(name);
      assert.equal(e?.status, 200, p.text);
      return e?.element.attrs['{http://www.w3.org/XML/1998/namespace}lang'];
    };
    assert.equal(await lang(D('displayname')), 'fr');
    assert.equal(await lang('{urn:example:x}motto'), 'de');
    assert.equal(await lang('{urn:example:x}colour'), 'en-GB');
    // The values stay as Radicale stores them; allprop shows the languages too.
    assert.equal((await props('/alice/home/'))['D:displayname'], 'Calendrier');
    assert.equal((await props('/alice/home/'))['{urn:example:x}colour'], 'grey');
    const all = parseMultistatus((await c.propfind('/alice/home/', 'allprop', '0')).text).props.get(
      '/alice/home/',
    );
    assert.equal(
      all?.get(D('displayname'))?.element.attrs['{http://www.w3.org/XML/1998/namespace}lang'],
      'fr',
    );
    assert.ok(![...(all?.keys() ?? [])].some((n) => n.includes('almanac')));
    // Radicale, taking the folder back, may change the value and keep the key it does not know: the
    // old language then no longer applies.
    const stored = { ...(await props('/alice/home/')), 'D:displayname': 'Kalender' };
    await server.store.setProps('alice/home', stored, {
      user: 'alice',
      path: '/alice/home/',
      request: 'PROPPATCH',
    });
    assert.equal(await lang(D('displayname')), undefined);
    assert.equal(await lang('{urn:example:x}motto'), 'de');
    // A value set again without a language has none; a removed property takes its language along.
    const again = proppatchBody('<D:displayname>Home again</D:displayname>');
    assert.equal(
      (await c.request('PROPPATCH', '/alice/home/', { user: 'alice', body: again, headers: XML })).status,
      207,
    );
    assert.equal(await lang(D('displayname')), undefined);
    const rm = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:example:x"><D:remove><D:prop><X:motto/><X:colour/></D:prop></D:remove></D:propertyupdate>`;
    assert.equal(
      (await c.request('PROPPATCH', '/alice/home/', { user: 'alice', body: rm, headers: XML })).status,
      207,
    );
    assert.ok(!Object.keys(await props('/alice/home/')).some((k) => k.includes('almanac')));
  });

  it('MKCALENDAR keeps the xml:lang of its properties', async () => {
    const r = await mkcalendar(
      c,
      '/alice/langcal/',
      'alice',
      '<D:displayname xml:lang="nl">Agenda</D:displayname>',
    );
    assert.equal(r.status, 201);
    const p = await c.propfind('/alice/langcal/', [D('displayname')], '0');
    const e = parseMultistatus(p.text).props.get('/alice/langcal/')?.get(D('displayname'));
    assert.equal(e?.element.attrs['{http://www.w3.org/XML/1998/namespace}lang'], 'nl');
  });

  it('is atomic: a protected property fails with 403 and the rest with 424, nothing changes', async () => {
    const before = await props('/alice/home/');
    const body = proppatchBody('<D:displayname>Nope</D:displayname><D:getetag>"abc"</D:getetag>');
    const r = await c.request('PROPPATCH', '/alice/home/', { user: 'alice', body, headers: XML });
    assert.equal(r.status, 207);
    const ms = parseMultistatus(r.text).props.get('/alice/home/');
    assert.equal(ms?.get(D('getetag'))?.status, 403);
    assert.equal(ms?.get(D('displayname'))?.status, 424);
    assert.deepEqual(await props('/alice/home/'), before);
  });

  it('on a missing collection is 404', async () => {
    const r = await c.request('PROPPATCH', '/alice/nothing/', {
      user: 'alice',
      body: proppatchBody('<D:displayname>x</D:displayname>'),
      headers: XML,
    });
    assert.equal(r.status, 404);
  });

  it('by another user is 403', async () => {
    const r = await c.request('PROPPATCH', '/alice/home/', {
      user: 'bob',
      body: proppatchBody('<D:displayname>bob was here</D:displayname>'),
      headers: XML,
    });
    assert.equal(r.status, 403);
    assert.notEqual((await propText('/alice/home/', D('displayname')))?.text, 'bob was here');
  });

  it('without a body is 400', async () => {
    const r = await c.request('PROPPATCH', '/alice/home/', { user: 'alice' });
    assert.equal(r.status, 400);
  });

  it('without a body, by a user who may not write there, is 403: rights come first, as Radicale', async () => {
    // owner_write: every user reads every calendar, only its owner writes it.
    const s = await startAlmanac({ config: { rights: { type: 'owner_write' } } });
    try {
      const rc = new DavClient(s.url);
      assert.equal((await mkcalendar(rc, '/alice/shared/')).status, 201);
      assert.equal((await rc.propfind('/alice/shared/', [D('displayname')], '0', 'bob')).status, 207);
      assert.equal((await rc.request('PROPPATCH', '/alice/shared/', { user: 'bob' })).status, 403);
      assert.equal((await rc.request('PROPPATCH', '/', { user: 'bob' })).status, 403);
      assert.equal((await rc.request('PROPPATCH', '/alice/shared/', { user: 'alice' })).status, 400);
    } finally {
      await s.stop();
    }
  });

  it('of resourcetype is 403 cannot-modify-protected-property, the rest 424: the calendar stays a calendar', async () => {
    const before = await props('/alice/home/');
    for (const body of [
      proppatchBody(
        '<D:displayname>Plain now</D:displayname><D:resourcetype><D:collection/></D:resourcetype>',
      ),
      proppatchBody('<D:displayname>Plain now</D:displayname>', '<D:resourcetype/>'),
    ]) {
      const r = await c.request('PROPPATCH', '/alice/home/', { user: 'alice', body, headers: XML });
      assert.equal(r.status, 207, r.text);
      const ms = parseMultistatus(r.text);
      const p = ms.props.get('/alice/home/');
      assert.equal(p?.get(D('resourcetype'))?.status, 403);
      assert.equal(p?.get(D('displayname'))?.status, 424);
      // The precondition is inside the 403 propstat (RFC 4918 §9.2.1).
      const failed = findAll(ms.root, D('propstat')).find((ps) => findAll(ps, D('resourcetype')).length > 0);
      assert.ok(failed && findAll(failed, D('cannot-modify-protected-property')).length === 1, r.text);
    }
    assert.deepEqual(await props('/alice/home/'), before);
    assert.ok((await resourceTypes('/alice/home/')).includes(C('calendar')));
    // Still a calendar: its reports answer and its items are still checked.
    const q = await report(
      c,
      '/alice/home/',
      '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>',
    );
    assert.equal(q.status, 207, q.text);
    const bad = await c.request('PUT', '/alice/home/bad.ics', {
      user: 'alice',
      body: 'not a calendar',
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.ok(bad.status >= 400 && bad.status < 500, String(bad.status));
  });

  it('changes the collection sync-token', async () => {
    const t1 = (await propText('/alice/home/', D('sync-token')))?.text;
    await c.request('PROPPATCH', '/alice/home/', {
      user: 'alice',
      body: proppatchBody('<D:displayname>Again</D:displayname>'),
      headers: XML,
    });
    assert.equal((await put(c, '/alice/home/t.ics', vtodo('t-sync'))).status, 201);
    const t2 = (await propText('/alice/home/', D('sync-token')))?.text;
    assert.notEqual(t1, t2);
  });
});

describe('DELETE, MOVE and COPY of collections', () => {
  it('DELETE removes a calendar with its items', async () => {
    assert.equal((await mkcalendar(c, '/alice/gone/')).status, 201);
    assert.equal((await put(c, '/alice/gone/a.ics', vevent('gone-a'))).status, 201);
    const r = await c.request('DELETE', '/alice/gone/', { user: 'alice' });
    // As Radicale: 200 with a multistatus naming the deleted collection.
    assert.equal(r.status, 200);
    assert.equal(parseMultistatus(r.text).statuses.get('/alice/gone/'), 200);
    assert.equal((await c.propfind('/alice/gone/', [D('getetag')], '0')).status, 404);
    assert.ok(!(await exists('alice/gone')));
  });

  it('DELETE of a missing collection is 404', async () => {
    assert.equal((await c.request('DELETE', '/alice/gone/', { user: 'alice' })).status, 404);
  });

  it('DELETE of the root is refused', async () => {
    const r = await c.request('DELETE', '/', { user: 'alice' });
    assert.ok(r.status === 403 || r.status === 405, String(r.status));
    assert.ok(await exists('alice'));
  });

  it('MOVE renames a calendar keeping its items and props', async () => {
    assert.equal(
      (await mkcalendar(c, '/alice/old/', 'alice', '<D:displayname>Old</D:displayname>')).status,
      201,
    );
    assert.equal((await put(c, '/alice/old/a.ics', vevent('old-a'))).status, 201);
    const r = await c.request('MOVE', '/alice/old/', {
      user: 'alice',
      headers: { Destination: `${server.url}/alice/new/` },
    });
    assert.equal(r.status, 201);
    assert.equal((await c.request('GET', '/alice/old/a.ics', { user: 'alice' })).status, 404);
    const g = await c.request('GET', '/alice/new/a.ics', { user: 'alice' });
    assert.equal(g.status, 200);
    assert.match(g.text, /UID:old-a/);
    assert.equal((await propText('/alice/new/', D('displayname')))?.text, 'Old');
  });

  it('MOVE onto an existing collection with Overwrite F is 412', async () => {
    const r = await c.request('MOVE', '/alice/new/', {
      user: 'alice',
      headers: { Destination: '/alice/home/', Overwrite: 'F' },
    });
    assert.equal(r.status, 412);
    assert.equal((await c.request('GET', '/alice/new/a.ics', { user: 'alice' })).status, 200);
  });

  it('MOVE into itself is refused', async () => {
    const r = await c.request('MOVE', '/alice/new/', {
      user: 'alice',
      headers: { Destination: '/alice/new/x/' },
    });
    assert.ok(r.status === 403 || r.status === 409, String(r.status));
  });

  it('COPY duplicates a calendar', async () => {
    const r = await c.request('COPY', '/alice/new/', {
      user: 'alice',
      headers: { Destination: '/alice/copy/' },
    });
    assert.equal(r.status, 201);
    assert.equal((await c.request('GET', '/alice/new/a.ics', { user: 'alice' })).status, 200);
    const g = await c.request('GET', '/alice/copy/a.ics', { user: 'alice' });
    assert.equal(g.status, 200);
    assert.match(g.text, /UID:old-a/);
  });

  it('MOVE without a Destination is 400', async () => {
    assert.equal((await c.request('MOVE', '/alice/copy/', { user: 'alice' })).status, 400);
  });

  it("MOVE to another user's home is 403 for a user without rights there", async () => {
    await c.propfind('/', [D('current-user-principal')], '0', 'bob');
    const r = await c.request('MOVE', '/alice/copy/', {
      user: 'alice',
      headers: { Destination: '/bob/stolen/' },
    });
    assert.equal(r.status, 403);
    assert.equal((await c.request('GET', '/alice/copy/a.ics', { user: 'alice' })).status, 200);
  });
});
