/**
 * The bday conversion over HTTP (Radicale 3.8 sharing): alice's address book shared to bob with
 * Conversion=bday is a read-only calendar at bob's path, one all-day yearly event per card with a
 * BDAY, `.ics` for each `.vcf`, ETags `"bda0YYYYMMDD00…` that follow the card, templates from the
 * [sharing] options or the share's Actions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { textContent } from '../../src/dav/xml.js';
import {
  C,
  D,
  DavClient,
  mkaddressbook,
  mkcalendar,
  parseMultistatus,
  put,
  report,
  vcard,
  vevent,
  type DavResult,
} from './helpers/dav-client.js';

const USERS = { alice: 'alicepw', bob: 'bobpw' };
const SHARE = '/bob/alice-bdays/';
const ANN_UID = '11111111-2222-3333-4444-555555555555';

function api(c: DavClient, path: string, user: string, body: Record<string, unknown>): Promise<DavResult> {
  return c.request('POST', `/.sharing/v1/${path}`, {
    user,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
}

const hrefs = (text: string): string[] => [...parseMultistatus(text).props.keys()].sort();

function etagOf(text: string, href: string): string {
  const el = parseMultistatus(text).props.get(href)?.get(D('getetag'))?.element;
  return el ? textContent(el).trim() : '';
}

const timeRange = (start: string, end: string): string =>
  `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>` +
  `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="${start}" end="${end}"/>` +
  `</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;

describe('sharing: bday conversion', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac({
      users: USERS,
      config: {
        sharing: {
          type: 'csv',
          collection_by_map: 'True',
          permit_create_map: 'True',
          collection_by_token: 'True',
          permit_create_token: 'True',
        },
      },
    });
    c = new DavClient(server.url, USERS);
    await c.propfind('/', [D('current-user-principal')], '0', 'bob');
    assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    assert.equal(
      (await put(c, '/alice/book/ann.vcf', vcard(ANN_UID, 'Ann Smith', 'BDAY:1990-03-15'))).status,
      201,
    );
    assert.equal(
      (await put(c, '/alice/book/bert.vcf', vcard('bert', 'Bert Jones', 'BDAY:19851102'))).status,
      201,
    );
    assert.equal((await put(c, '/alice/book/carl.vcf', vcard('carl', 'Carl Nobday'))).status, 201);
    const created = await api(c, 'map/create', 'alice', {
      PathMapped: '/alice/book/',
      PathOrToken: SHARE,
      User: 'bob',
      Conversion: 'bday',
      Enabled: true,
      Hidden: false,
    });
    assert.equal(created.status, 200, created.text);
    assert.equal((await api(c, 'map/enable', 'bob', { PathOrToken: SHARE })).status, 200);
    assert.equal((await api(c, 'map/unhide', 'bob', { PathOrToken: SHARE })).status, 200);
  });
  after(async () => server.stop());

  it('PROPFIND Depth 1: a calendar of VEVENTs, one .ics per card with a BDAY, bda0 ETags, no sync-token', async () => {
    const r = await c.propfind(
      SHARE,
      [
        D('resourcetype'),
        D('getetag'),
        D('getcontenttype'),
        C('supported-calendar-component-set'),
        D('sync-token'),
      ],
      '1',
      'bob',
    );
    assert.equal(r.status, 207);
    assert.deepEqual(hrefs(r.text), [SHARE, `${SHARE}ann.ics`, `${SHARE}bert.ics`]);
    const root = parseMultistatus(r.text).props.get(SHARE);
    assert.ok(root?.get(D('resourcetype'))?.element.children.some((n) => n.local === 'calendar'));
    assert.match(r.text, /<[^>]*comp name="VEVENT"\/>/);
    assert.doesNotMatch(r.text, /name="VTODO"/);
    assert.equal(root?.get(D('sync-token'))?.status, 404);
    const ann = etagOf(r.text, `${SHARE}ann.ics`);
    assert.match(ann, /^"bda01990031500[0-9a-f]{50}"$/);
    assert.match(etagOf(r.text, `${SHARE}bert.ics`), /^"bda01985110200[0-9a-f]{50}"$/);
    // The card's ETag from its 15th character on.
    const card = await c.propfind('/alice/book/ann.vcf', [D('getetag')], '0', 'alice');
    assert.equal(ann.slice(15), etagOf(card.text, '/alice/book/ann.vcf').slice(15));
    assert.match(r.text, /text\/calendar/);
  });

  it("GET of an item: the card's birthday as an all-day yearly event with the default templates", async () => {
    const r = await c.request('GET', `${SHARE}ann.ics`, { user: 'bob' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/calendar/);
    assert.match(String(r.headers.etag), /^"bda019900315/);
    assert.match(r.text, /^BEGIN:VCALENDAR\r\n/);
    assert.match(r.text, /\r\nUID:11111111-2222-3333-4444-bda019900315\r\n/);
    assert.match(r.text, /\r\nDTSTART;VALUE=DATE:19900315\r\n/);
    assert.match(r.text, /\r\nDTEND;VALUE=DATE:19900316\r\n/);
    assert.match(r.text, /\r\nRRULE:FREQ=YEARLY\r\n/);
    assert.match(r.text, /\r\nSUMMARY:Smith Ann \(1990\) \(BDAY\)\r\n/);
    assert.match(r.text, /\r\nDESCRIPTION:BDAY=1990-03-15\r\n/);
    assert.match(r.text, /\r\nCATEGORIES:Birthday\r\n/);
    assert.match(r.text, /\r\nTRANSP:TRANSPARENT\r\n/);
    const bert = await c.request('GET', `${SHARE}bert.ics`, { user: 'bob' });
    assert.match(bert.text, /\r\nUID:bert-auto-converted-by-Radicale\r\n/);
    assert.match(bert.text, /\r\nDTSTART;VALUE=DATE:19851102\r\n/);
    // A card without BDAY has no event; the .vcf names are not served.
    assert.equal((await c.request('GET', `${SHARE}carl.ics`, { user: 'bob' })).status, 404);
    assert.equal((await c.request('GET', `${SHARE}ann.vcf`, { user: 'bob' })).status, 404);
  });

  it('GET of the collection: one text/calendar with both events', async () => {
    const r = await c.request('GET', SHARE, { user: 'bob' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/calendar/);
    assert.equal(r.text.match(/BEGIN:VEVENT/g)?.length, 2);
    assert.match(r.text, /SUMMARY:Jones Bert \(1985\) \(BDAY\)/);
    assert.doesNotMatch(r.text, /Carl/);
  });

  it('calendar-query with a time range: a year has both birthdays, a week in March only Ann', async () => {
    const year = await report(c, SHARE, timeRange('20260101T000000Z', '20270101T000000Z'), '1', 'bob');
    assert.equal(year.status, 207);
    assert.deepEqual(hrefs(year.text), [`${SHARE}ann.ics`, `${SHARE}bert.ics`]);
    const march = await report(c, SHARE, timeRange('20260312T000000Z', '20260319T000000Z'), '1', 'bob');
    assert.deepEqual(hrefs(march.text), [`${SHARE}ann.ics`]);
  });

  it('calendar-multiget: the events by their .ics hrefs, 404 for a card without BDAY', async () => {
    const body =
      `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>` +
      `<D:href>${SHARE}ann.ics</D:href><D:href>${SHARE}carl.ics</D:href></C:calendar-multiget>`;
    const r = await report(c, SHARE, body, '1', 'bob');
    assert.equal(r.status, 207);
    const ms = parseMultistatus(r.text);
    assert.equal(ms.props.get(`${SHARE}ann.ics`)?.get(C('calendar-data'))?.status, 200);
    assert.match(r.text, /SUMMARY:Smith Ann/);
    assert.equal(ms.statuses.get(`${SHARE}carl.ics`), 404);
  });

  it('writes are refused: PUT, DELETE, MOVE; sync-collection is refused', async () => {
    assert.equal((await put(c, `${SHARE}new.ics`, vevent('new'), 'bob')).status, 403);
    assert.equal((await put(c, `${SHARE}ann.ics`, vevent('ann'), 'bob')).status, 403);
    assert.equal((await c.request('DELETE', `${SHARE}ann.ics`, { user: 'bob' })).status, 403);
    const move = await c.request('MOVE', `${SHARE}ann.ics`, {
      user: 'bob',
      headers: { Destination: `${server.url}${SHARE}moved.ics` },
    });
    assert.equal(move.status, 403);
    assert.equal((await c.request('GET', '/alice/book/ann.vcf', { user: 'alice' })).status, 200);
    // No collection at the share's path (409, as for every map share) nor inside it.
    assert.equal((await mkcalendar(c, SHARE, 'bob')).status, 409);
    assert.equal((await c.request('MKCOL', `${SHARE}sub/`, { user: 'bob' })).status, 403);
    const sync =
      '<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>';
    assert.equal((await report(c, SHARE, sync, '0', 'bob')).status, 403);
    const priv = await c.propfind(SHARE, [D('current-user-privilege-set')], '0', 'bob');
    assert.doesNotMatch(priv.text, /<[^>]*:write\/>|<write\/>/);
  });

  it('create: bday needs an address book; w, E and e are refused; Actions templates are checked', async () => {
    const onCalendar = await api(c, 'map/create', 'alice', {
      PathMapped: '/alice/cal/',
      PathOrToken: '/bob/cal-bdays/',
      User: 'bob',
      Conversion: 'bday',
    });
    assert.equal(onCalendar.status, 400);
    for (const Permissions of ['rw', 'rE', 're']) {
      const r = await api(c, 'map/create', 'alice', {
        PathMapped: '/alice/book/',
        PathOrToken: '/bob/other-bdays/',
        User: 'bob',
        Conversion: 'bday',
        Permissions,
      });
      assert.equal(r.status, 400, Permissions);
    }
    const badTemplate = await api(c, 'map/update', 'alice', {
      PathOrToken: SHARE,
      Actions: { config: { conversion_bday_summary_template: '{fn} {surname}' } },
    });
    assert.equal(badTemplate.status, 400);
    const info = JSON.parse((await api(c, 'map/info', 'alice', {})).text) as Record<string, unknown>;
    assert.deepEqual(info.SupportedConversions, ['bday', 'none']);
  });

  it('a changed card changes its event and its ETag', async () => {
    const before = await c.request('GET', `${SHARE}bert.ics`, { user: 'bob' });
    const changed = await put(c, '/alice/book/bert.vcf', vcard('bert', 'Bert Jones', 'BDAY:1986-12-24'));
    assert.ok([201, 204].includes(changed.status), String(changed.status));
    const after = await c.request('GET', `${SHARE}bert.ics`, { user: 'bob' });
    assert.match(after.text, /DTSTART;VALUE=DATE:19861224/);
    assert.match(String(after.headers.etag), /^"bda019861224/);
    assert.notEqual(String(after.headers.etag).slice(15), String(before.headers.etag).slice(15));
  });

  it("Actions.config overrides the share's templates: age events, alarms, categories", async () => {
    const r = await api(c, 'map/update', 'alice', {
      PathOrToken: SHARE,
      Actions: {
        config: {
          conversion_bday_summary_template: '{fn} turns {age}',
          conversion_bday_description_template: '',
          conversion_bday_alarm_trigger_template: '-1D;Tomorrow: [{nickname}|{fn}]',
          conversion_bday_categories: 'Birthday,Family',
          conversion_bday_age_max: 199,
        },
      },
    });
    assert.equal(r.status, 200, r.text);
    const ann = await c.request('GET', `${SHARE}ann.ics`, { user: 'bob' });
    assert.equal(ann.status, 200);
    // One event per age 0..199, each in its own year, with no rule.
    assert.equal(ann.text.match(/BEGIN:VEVENT/g)?.length, 200);
    assert.doesNotMatch(ann.text, /RRULE/);
    assert.match(
      ann.text,
      /UID:11111111-2222-3333-4444-bda019900315-AGE-0\r\nDTSTART;VALUE=DATE:19900315\r\n/,
    );
    assert.match(ann.text, /SUMMARY:Ann Smith turns 36\r\n/);
    assert.match(ann.text, /UID:[^\r]*-AGE-36\r\nDTSTART;VALUE=DATE:20260315\r\n/);
    assert.doesNotMatch(ann.text, /DESCRIPTION:BDAY=/);
    assert.match(ann.text, /CATEGORIES:Birthday,Family\r\n/);
    assert.match(
      ann.text,
      /BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Tomorrow: Ann Smith\r\nTRIGGER:-P1D\r\nEND:VALARM/,
    );
  });

  it("Depth 1 of bob's home lists the share as a calendar", async () => {
    const list = await c.propfind('/bob/', [D('resourcetype')], '1', 'bob');
    assert.equal(list.status, 207);
    const share = parseMultistatus(list.text).props.get(SHARE);
    assert.ok(share?.get(D('resourcetype'))?.element.children.some((n) => n.local === 'calendar'));
  });

  it('a token share with Conversion=bday: the birthday calendar without a login', async () => {
    const created = await api(c, 'token/create', 'alice', { PathMapped: '/alice/book/', Conversion: 'bday' });
    assert.equal(created.status, 200, created.text);
    const token = (JSON.parse(created.text) as { PathOrToken: string }).PathOrToken;
    assert.equal((await api(c, 'token/enable', 'alice', { PathOrToken: token })).status, 200);
    const all = await c.request('GET', token);
    assert.equal(all.status, 200);
    assert.match(String(all.headers['content-type']), /^text\/calendar/);
    assert.match(all.text, /DTSTART;VALUE=DATE:19900315/);
    const one = await c.request('GET', `${token}ann.ics`);
    assert.equal(one.status, 200);
    assert.match(String(one.headers.etag), /^"bda019900315/);
    assert.equal((await put(c, `${token}x.ics`, vevent('x'), 'bob')).status, 403);
  });
});

describe('sharing: bday conversion with [sharing] templates', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  before(async () => {
    server = await startAlmanac({
      users: USERS,
      config: {
        sharing: {
          type: 'csv',
          collection_by_token: 'True',
          permit_create_token: 'True',
          conversion_bday_summary_template: 'Birthday of [{nickname}|{fn}]',
          conversion_bday_description_template: '',
          conversion_bday_alarm_trigger_template: '-1D;{fn} tomorrow$9H;{fn} today',
          conversion_bday_categories: '',
        },
      },
    });
    c = new DavClient(server.url, USERS);
    assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
    const nick = vcard('nick', 'Nicholas Doe', 'NICKNAME:Nick\nBDAY:2001-07-04');
    assert.equal((await put(c, '/alice/book/nick.vcf', nick)).status, 201);
    assert.equal(
      (await put(c, '/alice/book/dora.vcf', vcard('dora', 'Dora Doe', 'BDAY:20000101'))).status,
      201,
    );
  });
  after(async () => server.stop());

  it("the server's options shape every share without Actions", async () => {
    const created = await api(c, 'token/create', 'alice', {
      PathMapped: '/alice/book/',
      Conversion: 'bday',
      Enabled: true,
    });
    assert.equal(created.status, 200, created.text);
    const token = (JSON.parse(created.text) as { PathOrToken: string }).PathOrToken;
    const nick = await c.request('GET', `${token}nick.ics`);
    assert.equal(nick.status, 200);
    assert.match(nick.text, /\r\nSUMMARY:Birthday of Nick\r\n/);
    assert.doesNotMatch(nick.text, /DESCRIPTION:BDAY|CATEGORIES/);
    assert.match(nick.text, /DESCRIPTION:Nicholas Doe tomorrow\r\nTRIGGER:-P1D\r\n/);
    assert.match(nick.text, /DESCRIPTION:Nicholas Doe today\r\nTRIGGER:PT9H\r\n/);
    const dora = await c.request('GET', `${token}dora.ics`);
    assert.match(dora.text, /\r\nSUMMARY:Birthday of Dora Doe\r\n/);
  });
});
