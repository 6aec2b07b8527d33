/**
 * The standard sharing protocols against a real server: calendarserver-sharing (CS:share, the
 * notification collection, CS:invite-reply, CS:invite, resourcetypes) and draft-pot-webdav-resource-
 * sharing (DAV:share-resource, DAV:invite-reply to the notification, DAV:invite, DAV:share-access), each
 * share stored as a Radicale map share that the `/.sharing/v1` API lists.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  CS,
  D,
  DavClient,
  findAll,
  hrefsIn,
  mkcalendar,
  parseMultistatus,
  put,
  vevent,
} from './helpers/dav-client.js';
import { parseXml, nameOf, textContent } from '../../src/dav/xml.js';

const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' };
const XML = { 'Content-Type': 'application/xml; charset=utf-8' };
const DAVSHARING = { 'Content-Type': 'application/davsharing+xml; charset=utf-8' };

const csShare = (inner: string): string =>
  `<?xml version="1.0" encoding="utf-8" ?>
<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">${inner}</CS:share>`;

const csSet = (href: string, access: 'read' | 'read-write', name = 'Bob B.'): string => `
  <CS:set>
    <D:href>${href}</D:href>
    <CS:common-name>${name}</CS:common-name>
    <CS:summary>Shared workspace</CS:summary>
    <CS:${access} />
  </CS:set>`;

const davShare = (href: string, access: 'read' | 'read-write' | 'no-access'): string =>
  `<?xml version="1.0" encoding="utf-8" ?>
<D:share-resource xmlns:D="DAV:">
  <D:sharee>
    <D:href>${href}</D:href>
    <D:prop><D:displayname>Carol</D:displayname></D:prop>
    <D:comment>Shared calendar</D:comment>
    <D:share-access><D:${access} /></D:share-access>
  </D:sharee>
</D:share-resource>`;

/** Rows of the shares table (PostgreSQL storage keeps the shares there). */
async function sharesRows(server: RunningAlmanac, where: string): Promise<Record<string, string>[]> {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    const r = await client.query<Record<string, string>>(
      `SELECT share_type, path_mapped, owner, permissions FROM shares WHERE ${where} ORDER BY seq`,
    );
    return r.rows;
  } finally {
    await client.end();
  }
}

for (const type of ['csv', 'files'] as const)
  describe(`sharing protocols (${type} database)`, () => {
    let server: RunningAlmanac;
    let c: DavClient;

    const mapList = async (user: string): Promise<Array<Record<string, unknown>>> => {
      const r = await c.request('POST', '/.sharing/v1/map/list', {
        user,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: '{}',
      });
      assert.equal(r.status, 200, r.text);
      return ((JSON.parse(r.text) as { Content?: Array<Record<string, unknown>> }).Content ?? []).filter(
        (x) => x.ShareType === 'map',
      );
    };

    /** The notification resources in the user's notification collection (href → notificationtype). */
    const notifications = async (user: string): Promise<string[]> => {
      const r = await c.propfind(
        `/${user}/notifications/`,
        [CS('notificationtype'), D('getetag')],
        '1',
        user,
      );
      assert.equal(r.status, 207, r.text);
      return [...parseMultistatus(r.text).props.keys()].filter((h) => h.endsWith('.xml'));
    };

    before(async () => {
      server = await startAlmanac({
        users: USERS,
        config: {
          sharing: { type, collection_by_map: 'True', permit_create_map: 'True' },
          scheduling: { addresses: 'bob:bob@example.com, carol:carol@example.com' },
        },
      });
      c = new DavClient(server.url, USERS);
      for (const u of Object.keys(USERS)) await c.propfind('/', [D('current-user-principal')], '0', u);
      for (const cal of ['cal', 'work', 'team']) {
        assert.equal((await mkcalendar(c, `/alice/${cal}/`)).status, 201);
        assert.equal((await put(c, `/alice/${cal}/a.ics`, vevent(`${cal}-a`))).status, 201);
      }
    });
    after(async () => server.stop());

    it('announces calendarserver-sharing and resource-sharing in the DAV header', async () => {
      const r = await c.request('OPTIONS', '/alice/cal/', { user: 'alice' });
      const dav = String(r.headers.dav);
      assert.match(dav, /calendarserver-sharing/);
      assert.match(dav, /resource-sharing/);
    });

    it('calendars can be shared (CS:allowed-sharing-modes) and are not shared yet', async () => {
      const r = await c.propfind(
        '/alice/cal/',
        [CS('allowed-sharing-modes'), D('share-access'), D('resourcetype')],
        '0',
      );
      const p = parseMultistatus(r.text).props.get('/alice/cal/');
      assert.equal(p?.get(CS('allowed-sharing-modes'))?.element.children.map(nameOf)[0], CS('can-be-shared'));
      assert.equal(p?.get(D('share-access'))?.element.children.map(nameOf)[0], D('not-shared'));
      assert.ok(!p?.get(D('resourcetype'))?.element.children.map(nameOf).includes(CS('shared-owner')));
    });

    it('CS:share by mailto: invites bob; his notification collection lists the invite; he accepts and reads', async () => {
      const share = await c.request('POST', '/alice/cal/', {
        user: 'alice',
        headers: XML,
        body: csShare(csSet('mailto:bob@example.com', 'read')),
      });
      assert.equal(share.status, 200, share.text);

      // The owner's calendar is now shared-owner, and CS:invite lists bob without an answer yet.
      const owner = await c.propfind('/alice/cal/', [D('resourcetype'), CS('invite')], '0');
      const op = parseMultistatus(owner.text).props.get('/alice/cal/');
      assert.ok(op?.get(D('resourcetype'))?.element.children.map(nameOf).includes(CS('shared-owner')));
      const invite = op?.get(CS('invite'))?.element;
      assert.ok(invite);
      const users = findAll(invite, CS('user'));
      assert.equal(users.length, 1);
      assert.deepEqual(hrefsIn(users[0] ?? invite), ['mailto:bob@example.com']);
      assert.equal(findAll(invite, CS('invite-noresponse')).length, 1);
      assert.equal(findAll(invite, CS('read')).length, 1);
      assert.equal(textContent(findAll(invite, CS('common-name'))[0] ?? invite), 'Bob B.');

      // Bob's principal names his notification collection, which is listed in his home.
      const principal = await c.propfind('/bob/', [CS('notification-URL')], '0', 'bob');
      const url = parseMultistatus(principal.text).props.get('/bob/')?.get(CS('notification-URL'))?.element;
      assert.deepEqual(hrefsIn(url ?? parseXml('<x/>')), ['/bob/notifications/']);
      const coll = await c.propfind('/bob/notifications/', [D('resourcetype')], '0', 'bob');
      const types = parseMultistatus(coll.text)
        .props.get('/bob/notifications/')
        ?.get(D('resourcetype'))?.element;
      assert.ok(types?.children.map(nameOf).includes(CS('notification')));

      // Before accepting, the share is not usable.
      assert.equal((await c.request('GET', '/bob/alice-cal/a.ics', { user: 'bob' })).status, 404);

      const list = await notifications('bob');
      assert.equal(list.length, 1);
      const got = await c.request('GET', list[0] ?? '', { user: 'bob' });
      assert.equal(got.status, 200);
      const doc = parseXml(got.text);
      assert.equal(nameOf(doc), CS('notification'));
      const inv = findAll(doc, CS('invite-notification'))[0];
      assert.ok(inv, got.text);
      const uid = textContent(findAll(inv, CS('uid'))[0] ?? inv).trim();
      assert.deepEqual(hrefsIn(findAll(inv, CS('hosturl'))[0] ?? inv), ['/alice/cal/']);
      assert.equal(findAll(inv, CS('invite-noresponse')).length, 1);
      assert.equal(textContent(findAll(inv, CS('summary'))[0] ?? inv), 'Shared workspace');
      const comps = findAll(inv, C('comp')).map((e) => e.attrs.name);
      assert.ok(comps.includes('VEVENT'), got.text);

      const reply = await c.request('POST', '/bob/', {
        user: 'bob',
        headers: XML,
        body: `<?xml version="1.0" encoding="utf-8" ?>
<CS:invite-reply xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <D:href>mailto:bob@example.com</D:href>
  <CS:invite-accepted />
  <CS:hosturl><D:href>/alice/cal/</D:href></CS:hosturl>
  <CS:in-reply-to>${uid}</CS:in-reply-to>
  <CS:summary>Alice's calendar</CS:summary>
</CS:invite-reply>`,
      });
      assert.equal(reply.status, 200, reply.text);
      const sharedAs = parseXml(reply.text);
      assert.equal(nameOf(sharedAs), CS('shared-as'));
      assert.deepEqual(hrefsIn(sharedAs), ['/bob/alice-cal/']);

      // The invitation is answered: no longer in the notifications.
      assert.deepEqual(await notifications('bob'), []);

      // Bob's home shows the shared calendar, marked CS:shared; he reads alice's event and cannot write.
      const home = await c.propfind(
        '/bob/',
        [D('resourcetype'), CS('shared-url'), D('share-access')],
        '1',
        'bob',
      );
      const hp = parseMultistatus(home.text).props.get('/bob/alice-cal/');
      assert.ok(hp, home.text);
      const rt = hp.get(D('resourcetype'))?.element.children.map(nameOf) ?? [];
      assert.ok(rt.includes(C('calendar')) && rt.includes(CS('shared')), rt.join(' '));
      assert.deepEqual(hrefsIn(hp.get(CS('shared-url'))?.element ?? parseXml('<x/>')), ['/alice/cal/']);
      assert.equal(hp.get(D('share-access'))?.element.children.map(nameOf)[0], D('read'));
      const event = await c.request('GET', '/bob/alice-cal/a.ics', { user: 'bob' });
      assert.equal(event.status, 200);
      assert.match(event.text, /UID:cal-a/);
      assert.equal((await put(c, '/bob/alice-cal/b.ics', vevent('b'), 'bob')).status, 403);
      const priv = await c.propfind('/bob/alice-cal/', [D('current-user-privilege-set')], '0', 'bob');
      assert.match(priv.text, /read\/>/);
      assert.doesNotMatch(priv.text, /write/);

      // CS:invite shows bob's acceptance to alice, and to bob the organizer.
      const after1 = await c.propfind('/alice/cal/', [CS('invite')], '0');
      assert.match(after1.text, /invite-accepted/);
      const bobsView = await c.propfind('/bob/alice-cal/', [CS('invite')], '0', 'bob');
      const organizer = findAll(parseXml(bobsView.text), CS('organizer'))[0];
      assert.ok(organizer, bobsView.text);
      assert.deepEqual(hrefsIn(organizer), ['/alice/']);

      // The Radicale API lists the share the protocol made, enabled by both.
      const shares = await mapList('alice');
      const made = shares.find((s) => s.PathOrToken === '/bob/alice-cal/');
      assert.ok(made, JSON.stringify(shares));
      assert.equal(made.PathMapped, '/alice/cal/');
      assert.equal(made.User, 'bob');
      assert.equal(made.Permissions, 'r');
      assert.equal(made.EnabledByOwner, true);
      assert.equal(made.EnabledByUser, true);
      assert.ok((await mapList('bob')).some((s) => s.PathOrToken === '/bob/alice-cal/'));
    });

    it('CS:share by principal href with read-write: bob writes into alice\u2019s calendar', async () => {
      const share = await c.request('POST', '/alice/work/', {
        user: 'alice',
        headers: XML,
        body: csShare(csSet('/bob/', 'read-write')),
      });
      assert.equal(share.status, 200, share.text);
      const list = await notifications('bob');
      assert.equal(list.length, 1);
      const doc = parseXml((await c.request('GET', list[0] ?? '', { user: 'bob' })).text);
      const uid = textContent(findAll(doc, CS('uid'))[0] ?? doc).trim();
      const reply = await c.request('POST', '/bob/', {
        user: 'bob',
        headers: XML,
        body: `<CS:invite-reply xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:href>/bob/</D:href><CS:invite-accepted/><CS:hosturl><D:href>/alice/work/</D:href></CS:hosturl><CS:in-reply-to>${uid}</CS:in-reply-to></CS:invite-reply>`,
      });
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(hrefsIn(parseXml(reply.text)), ['/bob/alice-work/']);
      assert.equal((await put(c, '/bob/alice-work/b.ics', vevent('by-bob'), 'bob')).status, 201);
      const mine = await c.request('GET', '/alice/work/b.ics', { user: 'alice' });
      assert.equal(mine.status, 200);
      assert.match(mine.text, /UID:by-bob/);
      const priv = await c.propfind('/bob/alice-work/', [D('current-user-privilege-set')], '0', 'bob');
      assert.match(priv.text, /write-content/);
      const shares = await mapList('alice');
      assert.equal(shares.find((s) => s.PathOrToken === '/bob/alice-work/')?.Permissions, 'rw');
    });

    it("alice's notification collection tells bob's answers (CS:invite-reply) until she deletes them", async () => {
      const r = await c.propfind('/alice/notifications/', [CS('notificationtype')], '1');
      const ms = parseMultistatus(r.text);
      const replies = [...ms.props.entries()].filter(
        ([h, p]) =>
          h.endsWith('.xml') &&
          p.get(CS('notificationtype'))?.element.children.map(nameOf)[0] === CS('invite-reply'),
      );
      assert.equal(replies.length, 2, r.text);
      const [href] = replies[0] ?? [''];
      const doc = parseXml((await c.request('GET', href, { user: 'alice' })).text);
      const reply = findAll(doc, CS('invite-reply'))[0];
      assert.ok(reply);
      assert.equal(findAll(reply, CS('invite-accepted')).length, 1);
      assert.equal((await c.request('GET', href, { user: 'bob' })).status, 403);
      assert.equal((await c.request('DELETE', href, { user: 'alice' })).status, 204);
      const again = await c.propfind('/alice/notifications/', [CS('notificationtype')], '1');
      assert.equal(
        [...parseMultistatus(again.text).props.keys()].filter((h) => h.endsWith('.xml')).length,
        1,
      );
      assert.equal((await c.request('GET', href, { user: 'alice' })).status, 404);
    });

    it('decline: the share stays unusable, alice sees invite-declined', async () => {
      const share = await c.request('POST', '/alice/team/', {
        user: 'alice',
        headers: XML,
        body: csShare(csSet('mailto:bob@example.com', 'read')),
      });
      assert.equal(share.status, 200);
      const reply = await c.request('POST', '/bob/', {
        user: 'bob',
        headers: XML,
        body: `<CS:invite-reply xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:href>mailto:bob@example.com</D:href><CS:invite-declined/><CS:hosturl><D:href>/alice/team/</D:href></CS:hosturl></CS:invite-reply>`,
      });
      assert.equal(reply.status, 204, reply.text);
      assert.deepEqual(await notifications('bob'), []);
      assert.equal((await c.request('GET', '/bob/alice-team/a.ics', { user: 'bob' })).status, 404);
      const home = await c.propfind('/bob/', [D('resourcetype')], '1', 'bob');
      assert.ok(!parseMultistatus(home.text).props.has('/bob/alice-team/'));
      const inv = await c.propfind('/alice/team/', [CS('invite')], '0');
      assert.match(inv.text, /invite-declined/);
      const row = (await mapList('alice')).find((s) => s.PathOrToken === '/bob/alice-team/');
      assert.equal(row?.EnabledByUser, false);
    });

    it('removal by alice (CS:remove): the share is gone from bob\u2019s home and from the database', async () => {
      const r = await c.request('POST', '/alice/team/', {
        user: 'alice',
        headers: XML,
        body: csShare('<CS:remove><D:href>mailto:bob@example.com</D:href></CS:remove>'),
      });
      assert.equal(r.status, 200, r.text);
      assert.ok(!(await mapList('alice')).some((s) => s.PathOrToken === '/bob/alice-team/'));
      const inv = await c.propfind('/alice/team/', [CS('invite'), D('resourcetype')], '0');
      assert.equal(findAll(parseXml(inv.text), CS('user')).length, 0);
      assert.doesNotMatch(inv.text, /shared-owner/);
      // Removing an accepted share: /bob/alice-cal/ disappears for bob.
      const r2 = await c.request('POST', '/alice/cal/', {
        user: 'alice',
        headers: XML,
        body: csShare('<CS:remove><D:href>/bob/</D:href></CS:remove>'),
      });
      assert.equal(r2.status, 200);
      assert.notEqual((await c.request('GET', '/bob/alice-cal/a.ics', { user: 'bob' })).status, 200);
      const home = await c.propfind('/bob/', [D('resourcetype')], '1', 'bob');
      assert.ok(!parseMultistatus(home.text).props.has('/bob/alice-cal/'));
    });

    it('refuses unknown sharees and sharing a collection shared with you', async () => {
      const unknown = await c.request('POST', '/alice/cal/', {
        user: 'alice',
        headers: XML,
        body: csShare(csSet('mailto:nobody@example.net', 'read')),
      });
      assert.equal(unknown.status, 403);
      const reshare = await c.request('POST', '/bob/alice-work/', {
        user: 'bob',
        headers: XML,
        body: csShare(csSet('mailto:carol@example.com', 'read')),
      });
      assert.equal(reshare.status, 403);
      const notMine = await c.request('POST', '/alice/cal/', {
        user: 'bob',
        headers: XML,
        body: csShare(csSet('mailto:carol@example.com', 'read')),
      });
      assert.equal(notMine.status, 403);
    });

    it('DAV:share-resource: carol gets a DAV:sharer-invite-notification and accepts with DAV:invite-reply', async () => {
      const share = await c.request('POST', '/alice/work/', {
        user: 'alice',
        headers: DAVSHARING,
        body: davShare('mailto:carol@example.com', 'read-write'),
      });
      assert.equal(share.status, 200, share.text);
      const dinv = await c.propfind('/alice/work/', [D('invite'), D('share-access')], '0');
      const dp = parseMultistatus(dinv.text).props.get('/alice/work/');
      assert.equal(dp?.get(D('share-access'))?.element.children.map(nameOf)[0], D('shared-owner'));
      const sharees = findAll(dp?.get(D('invite'))?.element ?? parseXml('<x/>'), D('sharee'));
      assert.deepEqual(sharees.map((s) => hrefsIn(s)[0]).sort(), [
        'mailto:bob@example.com',
        'mailto:carol@example.com',
      ]);

      const principal = await c.propfind('/carol/', [D('notification-URL')], '0', 'carol');
      assert.match(principal.text, /\/carol\/notifications\//);
      const list = await notifications('carol');
      assert.equal(list.length, 1);
      const got = await c.request('GET', list[0] ?? '', { user: 'carol' });
      const doc = parseXml(got.text);
      assert.equal(nameOf(doc), D('notification'));
      const n = findAll(doc, D('sharer-invite-notification'))[0];
      assert.ok(n, got.text);
      assert.deepEqual(hrefsIn(findAll(n, D('sharer-resource-uri'))[0] ?? n), ['/alice/work/']);
      assert.equal(findAll(n, D('read-write')).length, 1);
      assert.equal(findAll(n, D('invite-noresponse')).length, 1);
      assert.equal(textContent(findAll(n, D('comment'))[0] ?? n), 'Shared calendar');

      const reply = await c.request('POST', list[0] ?? '', {
        user: 'carol',
        headers: DAVSHARING,
        body: `<?xml version="1.0" encoding="utf-8" ?>
<D:invite-reply xmlns:D="DAV:">
  <D:invite-accepted />
  <D:comment>Thanks for the share!</D:comment>
</D:invite-reply>`,
      });
      assert.equal(reply.status, 201, reply.text);
      assert.equal(reply.headers.location, '/carol/alice-work/');
      const view = await c.propfind(
        '/carol/alice-work/',
        [D('share-access'), D('sharer-resource-uri'), D('invite')],
        '0',
        'carol',
      );
      const vp = parseMultistatus(view.text).props.get('/carol/alice-work/');
      assert.equal(vp?.get(D('share-access'))?.element.children.map(nameOf)[0], D('read-write'));
      assert.deepEqual(hrefsIn(vp?.get(D('sharer-resource-uri'))?.element ?? parseXml('<x/>')), [
        '/alice/work/',
      ]);
      assert.equal((await put(c, '/carol/alice-work/c.ics', vevent('by-carol'), 'carol')).status, 201);
      assert.equal((await c.request('GET', '/alice/work/c.ics', { user: 'alice' })).status, 200);
      const row = (await mapList('carol')).find((s) => s.PathOrToken === '/carol/alice-work/');
      assert.equal(row?.EnabledByUser, true);
      assert.equal(row?.Permissions, 'rw');

      // DAV:no-access removes the sharee.
      const rm = await c.request('POST', '/alice/work/', {
        user: 'alice',
        headers: DAVSHARING,
        body: davShare('/carol/', 'no-access'),
      });
      assert.equal(rm.status, 200, rm.text);
      assert.ok(!(await mapList('alice')).some((s) => s.PathOrToken === '/carol/alice-work/'));
      assert.notEqual((await c.request('GET', '/carol/alice-work/c.ics', { user: 'carol' })).status, 200);
    });

    it('DAV:invite-reply declined, and a deleted notification leaves the invitation open', async () => {
      assert.equal(
        (
          await c.request('POST', '/alice/team/', {
            user: 'alice',
            headers: DAVSHARING,
            body: davShare('mailto:carol@example.com', 'read'),
          })
        ).status,
        200,
      );
      const [first] = await notifications('carol');
      assert.ok(first);
      assert.equal((await c.request('DELETE', first, { user: 'carol' })).status, 204);
      assert.deepEqual(await notifications('carol'), []);
      const inv = await c.propfind('/alice/team/', [D('invite')], '0');
      assert.match(inv.text, /invite-noresponse/);
      // Shared again: offered again, then declined.
      await c.request('POST', '/alice/team/', {
        user: 'alice',
        headers: DAVSHARING,
        body: davShare('mailto:carol@example.com', 'read'),
      });
      const [again] = await notifications('carol');
      assert.ok(again);
      const reply = await c.request('POST', again, {
        user: 'carol',
        headers: DAVSHARING,
        body: '<D:invite-reply xmlns:D="DAV:"><D:invite-declined/></D:invite-reply>',
      });
      assert.equal(reply.status, 204);
      assert.match((await c.propfind('/alice/team/', [D('invite')], '0')).text, /invite-declined/);
      // Nobody else reads carol's notifications.
      assert.equal((await c.propfind('/carol/notifications/', [D('getetag')], '1', 'bob')).status, 403);
    });

    it('a sharee DELETE of an accepted shared calendar declines it; the owner keeps the calendar', async () => {
      // bob accepted /alice/work/ above (read-write).
      assert.equal((await c.request('DELETE', '/bob/alice-work/', { user: 'bob' })).status, 204);
      assert.notEqual((await c.request('GET', '/bob/alice-work/a.ics', { user: 'bob' })).status, 200);
      assert.equal((await c.request('GET', '/alice/work/a.ics', { user: 'alice' })).status, 200);
      assert.match((await c.propfind('/alice/work/', [CS('invite')], '0')).text, /invite-declined/);
    });

    it('a share made by the Radicale API is offered as an invitation and accepted by CS:invite-reply', async () => {
      assert.equal((await mkcalendar(c, '/alice/api/')).status, 201);
      const made = await c.request('POST', '/.sharing/v1/map/create', {
        user: 'alice',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          PathMapped: '/alice/api/',
          PathOrToken: '/carol/from-alice/',
          User: 'carol',
          Permissions: 'r',
          Enabled: true,
        }),
      });
      assert.equal(made.status, 200, made.text);
      const [href] = await notifications('carol');
      assert.ok(href, 'a notification');
      const doc = parseXml((await c.request('GET', href, { user: 'carol' })).text);
      assert.deepEqual(hrefsIn(findAll(doc, CS('hosturl'))[0] ?? doc), ['/alice/api/']);
      const reply = await c.request('POST', '/carol/', {
        user: 'carol',
        headers: XML,
        body: `<CS:invite-reply xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:href>/carol/</D:href><CS:invite-accepted/><CS:hosturl><D:href>/alice/api/</D:href></CS:hosturl></CS:invite-reply>`,
      });
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(hrefsIn(parseXml(reply.text)), ['/carol/from-alice/']);
      const row = (await mapList('carol')).find((s) => s.PathOrToken === '/carol/from-alice/');
      assert.equal(row?.EnabledByUser, true);
      assert.equal(row?.HiddenByUser, false);
      // Usable at its path; not listed in carol's home, as the API made it hidden by its owner.
      assert.equal((await c.propfind('/carol/from-alice/', [D('resourcetype')], '0', 'carol')).status, 207);
      const home = await c.propfind('/carol/', [D('resourcetype')], '1', 'carol');
      const listed = [...parseMultistatus(home.text).props.keys()];
      assert.ok(!listed.includes('/carol/from-alice/'), home.text);
    });

    it('stores the shares in the database Radicale reads (PostgreSQL storage: in the shares table)', async () => {
      if (server.storage === 'postgresql') {
        const rows = await sharesRows(server, "path_or_token = '/bob/alice-work/'");
        assert.deepEqual(rows, [
          { share_type: 'map', path_mapped: '/alice/work/', owner: 'alice', permissions: 'rw' },
        ]);
        return;
      }
      const db = join(server.folder, 'collection-db');
      if (type === 'csv')
        assert.match(
          readFileSync(join(db, 'sharing.csv'), 'utf8'),
          /^map;\/bob\/alice-work\/;\/alice\/work\/;none;alice;bob;rw;True;False;/m,
        );
      else assert.ok(existsSync(join(db, 'files', 'map', '%2Fbob%2Falice-work%2F')));
    });
  });

describe('sharing protocols: sharing by map off', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac({
      config: { sharing: { type: 'csv', collection_by_map: 'False', collection_by_token: 'True' } },
    });
    c = new DavClient(server.url);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  });
  after(async () => server.stop());

  it('has no sharing tokens in the DAV header, no sharing properties, and no CS:share', async () => {
    const r = await c.request('OPTIONS', '/alice/cal/', { user: 'alice' });
    assert.doesNotMatch(String(r.headers.dav), /calendarserver-sharing|resource-sharing/);
    const p = await c.propfind('/alice/cal/', [CS('allowed-sharing-modes'), CS('invite')], '0');
    const props = parseMultistatus(p.text).props.get('/alice/cal/');
    assert.equal(props?.get(CS('allowed-sharing-modes'))?.status, 404);
    assert.equal(props?.get(CS('invite'))?.status, 404);
    const share = await c.request('POST', '/alice/cal/', {
      user: 'alice',
      headers: XML,
      body: csShare(csSet('/bob/', 'read')),
    });
    // Not taken as a share (WebDAV-Push registration, on by default, refuses the body with 415).
    assert.equal(share.status, 415);
    if (server.storage === 'postgresql') assert.deepEqual(await sharesRows(server, 'true'), []);
    else {
      const db = readFileSync(join(server.folder, 'collection-db', 'sharing.csv'), 'utf8');
      assert.equal(db.trim().split('\n').length, 1);
    }
  });
});
