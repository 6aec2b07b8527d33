/**
 * CalDAV scheduling (RFC 6638) between local users: addresses and boxes, invitations, replies,
 * reschedules, cancellations, the preconditions, Schedule-Tag, and races.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import ICAL from 'ical.js';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  C,
  D,
  DavClient,
  hrefsIn,
  mkcalendar,
  parseMultistatus,
  preconditions,
  put,
} from './helpers/dav-client.js';
import { nameOf, parseXml, textContent } from '../../src/dav/xml.js';

const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw', dave: 'davepw' };
let server: RunningAlmanac;
let c: DavClient;

before(async () => {
  server = await startAlmanac({
    users: USERS,
    config: {
      scheduling: { enabled: 'True', email_domain: 'example.org', addresses: 'dave:d.boss@corp.example' },
    },
  });
  c = new DavClient(server.url, USERS);
  for (const u of Object.keys(USERS)) {
    assert.equal((await mkcalendar(c, `/${u}/calendar/`, u)).status, 201);
  }
});
after(async () => server.stop());

interface EventOpts {
  organizer?: string;
  attendees?: [string, string?][];
  start?: string;
  end?: string;
  sequence?: number;
  extra?: string[];
  overrides?: string[][];
}

const mail = (u: string): string => (u.includes('@') ? `mailto:${u}` : `mailto:${u}@example.org`);

function event(uid: string, o: EventOpts = {}): string {
  const comp = (extra: string[]): string[] => [
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20250101T000000Z',
    ...extra,
    'END:VEVENT',
  ];
  const people = [
    `ORGANIZER;CN=Organizer:${mail(o.organizer ?? 'alice')}`,
    ...(o.attendees ?? []).map(([a, ps]) => `ATTENDEE;PARTSTAT=${ps ?? 'NEEDS-ACTION'};RSVP=TRUE:${mail(a)}`),
  ];
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    ...comp([
      `DTSTART:${o.start ?? '20250310T100000Z'}`,
      `DTEND:${o.end ?? '20250310T110000Z'}`,
      `SEQUENCE:${o.sequence ?? 0}`,
      'SUMMARY:Meeting',
      ...people,
      ...(o.extra ?? []),
    ]),
    ...(o.overrides ?? []).flatMap((lines) => comp(lines)),
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

async function getText(path: string, user: string): Promise<{ status: number; text: string }> {
  const r = await c.request('GET', path, { user });
  return { status: r.status, text: r.text };
}

/** The items of a collection with their texts. */
async function items(path: string): Promise<{ href: string; text: string }[]> {
  const out: { href: string; text: string }[] = [];
  for await (const item of server.store.getItems(path)) out.push({ href: item.href, text: item.text });
  return out;
}

async function inbox(user: string, uid: string): Promise<ICAL.Component[]> {
  const msgs = (await items(`${user}/schedule-inbox`)).filter((i) => i.text.includes(`UID:${uid}`));
  return msgs.map((m) => new ICAL.Component(ICAL.parse(m.text) as unknown[]));
}

const methods = (msgs: ICAL.Component[]): string[] =>
  msgs.map((m) => String(m.getFirstPropertyValue('method'))).sort();

function attendeeParam(text: string, who: string, param: string, rid = ''): string | undefined {
  const vcal = new ICAL.Component(ICAL.parse(text) as unknown[]);
  for (const ev of vcal.getAllSubcomponents('vevent')) {
    const r = ev.getFirstPropertyValue('recurrence-id');
    if ((r ? String((r as ICAL.Time).toUnixTime()) : '') !== rid) continue;
    for (const a of ev.getAllProperties('attendee')) {
      if (String(a.getFirstValue()).toLowerCase() === mail(who)) {
        const v = a.getParameter(param);
        return v === undefined || v === null ? undefined : String(v);
      }
    }
  }
  return undefined;
}

function setPartstat(text: string, who: string, value: string): string {
  return text.replace(
    new RegExp(`(ATTENDEE[^\\r\\n]*?)PARTSTAT=[A-Z-]+([^\\r\\n]*:${mail(who)})`, 'gi'),
    `$1PARTSTAT=${value}$2`,
  );
}

describe('addresses and collections', () => {
  it('a principal has its mailto: addresses, a user type and both boxes', async () => {
    const r = await c.propfind(
      '/dave/',
      [
        C('calendar-user-address-set'),
        C('calendar-user-type'),
        C('schedule-inbox-URL'),
        C('schedule-outbox-URL'),
      ],
      '0',
      'dave',
    );
    assert.equal(r.status, 207);
    const props = parseMultistatus(r.text).props.get('/dave/');
    const set = props?.get(C('calendar-user-address-set'));
    assert.deepEqual(hrefsIn(set?.element ?? { ns: '', local: '', attrs: {}, children: [], text: '' }), [
      'mailto:d.boss@corp.example',
      'mailto:dave@example.org',
      '/dave/',
    ]);
    assert.equal(
      textContent(
        props?.get(C('calendar-user-type'))?.element ?? {
          ns: '',
          local: '',
          attrs: {},
          children: [],
          text: '',
        },
      ),
      'INDIVIDUAL',
    );
    const inboxHref = hrefsIn(
      props?.get(C('schedule-inbox-URL'))?.element ?? {
        ns: '',
        local: '',
        attrs: {},
        children: [],
        text: '',
      },
    );
    assert.deepEqual(inboxHref, ['/dave/schedule-inbox/']);
    const box = await c.propfind(
      '/dave/schedule-inbox/',
      [D('resourcetype'), C('schedule-default-calendar-URL')],
      '0',
      'dave',
    );
    assert.equal(box.status, 207);
    const boxProps = parseMultistatus(box.text).props.get('/dave/schedule-inbox/');
    const rt = boxProps?.get(D('resourcetype'))?.element;
    assert.ok(rt?.children.some((ch) => ch.local === 'schedule-inbox'));
    assert.ok(!rt?.children.some((ch) => ch.local === 'calendar'));
  });

  it('OPTIONS names calendar-auto-schedule', async () => {
    const r = await c.request('OPTIONS', '/alice/');
    assert.match(String(r.headers.dav), /calendar-auto-schedule/);
  });
});

describe('invitations between local users', () => {
  it('invite: the attendee gets a REQUEST in the inbox and a copy with NEEDS-ACTION', async () => {
    const r = await put(c, '/alice/calendar/m1.ics', event('m1', { attendees: [['bob'], ['carol']] }));
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers.etag, undefined, 'the stored object differs from the body: no ETag');
    assert.ok(r.headers['schedule-tag']);
    for (const u of ['bob', 'carol']) {
      assert.deepEqual(methods(await inbox(u, 'm1')), ['REQUEST']);
      const copy = await getText(`/${u}/calendar/m1.ics`, u);
      assert.equal(copy.status, 200);
      assert.equal(attendeeParam(copy.text, u, 'partstat'), 'NEEDS-ACTION');
      assert.doesNotMatch(copy.text, /SCHEDULE-STATUS/);
    }
    const org = await getText('/alice/calendar/m1.ics', 'alice');
    assert.equal(attendeeParam(org.text, 'bob', 'schedule-status'), '1.2');
  });

  it('accept: the organizer gets a REPLY and her copy says ACCEPTED', async () => {
    const copy = await getText('/bob/calendar/m1.ics', 'bob');
    const r = await put(c, '/bob/calendar/m1.ics', setPartstat(copy.text, 'bob', 'ACCEPTED'), 'bob');
    assert.equal(r.status, 204, r.text);
    assert.deepEqual(methods(await inbox('alice', 'm1')), ['REPLY']);
    const org = await getText('/alice/calendar/m1.ics', 'alice');
    assert.equal(attendeeParam(org.text, 'bob', 'partstat'), 'ACCEPTED');
    assert.equal(attendeeParam(org.text, 'carol', 'partstat'), 'NEEDS-ACTION');
  });

  it('decline: the organizer sees DECLINED', async () => {
    const copy = await getText('/carol/calendar/m1.ics', 'carol');
    assert.equal(
      (await put(c, '/carol/calendar/m1.ics', setPartstat(copy.text, 'carol', 'DECLINED'), 'carol')).status,
      204,
    );
    const org = await getText('/alice/calendar/m1.ics', 'alice');
    assert.equal(attendeeParam(org.text, 'carol', 'partstat'), 'DECLINED');
    assert.equal(attendeeParam(org.text, 'bob', 'partstat'), 'ACCEPTED');
  });
});

describe('changes by the organizer', () => {
  it('reschedule: attendees get a new REQUEST and are asked again (NEEDS-ACTION)', async () => {
    const before = (await inbox('bob', 'm1')).length;
    const org = await getText('/alice/calendar/m1.ics', 'alice');
    const moved = org.text
      .replace('DTSTART:20250310T100000Z', 'DTSTART:20250311T100000Z')
      .replace('DTEND:20250310T110000Z', 'DTEND:20250311T110000Z')
      .replace('SEQUENCE:0', 'SEQUENCE:1');
    assert.equal((await put(c, '/alice/calendar/m1.ics', moved)).status, 204);
    const msgs = await inbox('bob', 'm1');
    assert.equal(msgs.length, before + 1);
    const copy = await getText('/bob/calendar/m1.ics', 'bob');
    assert.match(copy.text, /DTSTART:20250311T100000Z/);
    assert.equal(attendeeParam(copy.text, 'bob', 'partstat'), 'NEEDS-ACTION');
    const stored = await getText('/alice/calendar/m1.ics', 'alice');
    assert.equal(attendeeParam(stored.text, 'bob', 'partstat'), 'NEEDS-ACTION');
  });

  it('an unchanged re-PUT sends nothing; SCHEDULE-FORCE-SEND=REQUEST sends anyway and is not stored', async () => {
    const before = (await inbox('carol', 'm1')).length;
    const org = await getText('/alice/calendar/m1.ics', 'alice');
    assert.equal((await put(c, '/alice/calendar/m1.ics', org.text)).status, 204);
    assert.equal((await inbox('carol', 'm1')).length, before);
    const forced = org.text.replace(/ATTENDEE;/, 'ATTENDEE;SCHEDULE-FORCE-SEND=REQUEST;');
    assert.equal((await put(c, '/alice/calendar/m1.ics', forced)).status, 204);
    const after = await getText('/alice/calendar/m1.ics', 'alice');
    assert.doesNotMatch(after.text, /SCHEDULE-FORCE-SEND/);
  });

  it('attendee removed: they get a CANCEL and their copy is cancelled; the others an updated list', async () => {
    const org = await getText('/alice/calendar/m1.ics', 'alice');
    // ical.js may fold the line: drop the property whatever its length.
    const noBob = org.text
      .replace(/\r\n[ \t]/g, '')
      .split('\r\n')
      .filter((l) => !/^ATTENDEE.*bob@example\.org/i.test(l))
      .join('\r\n');
    assert.equal((await put(c, '/alice/calendar/m1.ics', noBob)).status, 204);
    const msgs = await inbox('bob', 'm1');
    assert.equal(msgs.filter((m) => m.getFirstPropertyValue('method') === 'CANCEL').length, 1);
    const copy = await getText('/bob/calendar/m1.ics', 'bob');
    assert.match(copy.text, /STATUS:CANCELLED/);
    assert.ok(!methods(await inbox('carol', 'm1')).includes('CANCEL'));
    const carols = await getText('/carol/calendar/m1.ics', 'carol');
    assert.doesNotMatch(carols.text.replace(/\r\n[ \t]/g, ''), /bob@example\.org/);
    assert.doesNotMatch(carols.text, /STATUS:CANCELLED/);
  });

  it('cancel all: DELETE by the organizer cancels every attendee copy', async () => {
    assert.equal(
      (await put(c, '/alice/calendar/m2.ics', event('m2', { attendees: [['bob'], ['carol']] }))).status,
      201,
    );
    assert.equal((await c.request('DELETE', '/alice/calendar/m2.ics', { user: 'alice' })).status, 200);
    for (const u of ['bob', 'carol']) {
      assert.deepEqual(methods(await inbox(u, 'm2')), ['CANCEL', 'REQUEST']);
      const copy = await getText(`/${u}/calendar/m2.ics`, u);
      assert.match(copy.text, /STATUS:CANCELLED/);
    }
  });

  it('cancel one instance: an EXDATE sends a CANCEL with its RECURRENCE-ID, the copy gets the EXDATE', async () => {
    const series = event('m3', { attendees: [['bob']], extra: ['RRULE:FREQ=DAILY;COUNT=5'] });
    assert.equal((await put(c, '/alice/calendar/m3.ics', series)).status, 201);
    const org = await getText('/alice/calendar/m3.ics', 'alice');
    const withEx = org.text.replace(
      'RRULE:FREQ=DAILY;COUNT=5',
      'RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:20250312T100000Z',
    );
    assert.equal((await put(c, '/alice/calendar/m3.ics', withEx)).status, 204);
    const msgs = await inbox('bob', 'm3');
    const cancel = msgs.find((m) => m.getFirstPropertyValue('method') === 'CANCEL');
    assert.ok(cancel, 'a CANCEL');
    const ev = cancel.getFirstSubcomponent('vevent');
    assert.equal(String(ev?.getFirstPropertyValue('recurrence-id')), '2025-03-12T10:00:00Z');
    const copy = await getText('/bob/calendar/m3.ics', 'bob');
    assert.match(copy.text, /EXDATE:20250312T100000Z/);
    assert.doesNotMatch(copy.text, /STATUS:CANCELLED/);
  });

  it('cancel one instance: an override with STATUS:CANCELLED', async () => {
    const org = await getText('/alice/calendar/m3.ics', 'alice');
    const override = [
      'BEGIN:VEVENT',
      'UID:m3',
      'DTSTAMP:20250101T000000Z',
      'RECURRENCE-ID:20250313T100000Z',
      'DTSTART:20250313T100000Z',
      'DTEND:20250313T110000Z',
      'STATUS:CANCELLED',
      'ORGANIZER:mailto:alice@example.org',
      'ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org',
      'END:VEVENT',
    ].join('\r\n');
    const text = org.text.replace('END:VCALENDAR', `${override}\r\nEND:VCALENDAR`);
    assert.equal((await put(c, '/alice/calendar/m3.ics', text)).status, 204);
    const cancels = (await inbox('bob', 'm3')).filter((m) => m.getFirstPropertyValue('method') === 'CANCEL');
    assert.equal(cancels.length, 2);
    const copy = await getText('/bob/calendar/m3.ics', 'bob');
    assert.match(copy.text, /RECURRENCE-ID:20250313T100000Z/);
  });

  it('SCHEDULE-AGENT=CLIENT: the server sends nothing to that attendee', async () => {
    const text = event('m4', { attendees: [['carol']] }).replace(
      'ATTENDEE;',
      'ATTENDEE;SCHEDULE-AGENT=CLIENT;',
    );
    assert.equal((await put(c, '/alice/calendar/m4.ics', text)).status, 201);
    assert.deepEqual(await inbox('carol', 'm4'), []);
    assert.equal((await getText('/carol/calendar/m4.ics', 'carol')).status, 404);
  });
});

describe('preconditions and Schedule-Tag', () => {
  it('an attendee cannot change the organizer (403 allowed-attendee-scheduling-object-change)', async () => {
    assert.equal((await put(c, '/alice/calendar/m5.ics', event('m5', { attendees: [['bob']] }))).status, 201);
    const copy = await getText('/bob/calendar/m5.ics', 'bob');
    const hijacked = copy.text.replace(/mailto:alice@example\.org/gi, 'mailto:carol@example.org');
    const r = await put(c, '/bob/calendar/m5.ics', hijacked, 'bob');
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('allowed-attendee-scheduling-object-change')]);
  });

  it('components with different organizers are refused (same-organizer-in-all-components)', async () => {
    const text = event('m6', {
      attendees: [['bob']],
      extra: ['RRULE:FREQ=DAILY;COUNT=3'],
      overrides: [
        [
          'RECURRENCE-ID:20250311T100000Z',
          'DTSTART:20250311T120000Z',
          'DTEND:20250311T130000Z',
          'ORGANIZER:mailto:carol@example.org',
          'ATTENDEE:mailto:bob@example.org',
        ],
      ],
    });
    const r = await put(c, '/alice/calendar/m6.ics', text);
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('same-organizer-in-all-components')]);
  });

  it('a second scheduling object with the same UID in another calendar is refused', async () => {
    assert.equal((await mkcalendar(c, '/alice/work/', 'alice')).status, 201);
    const r = await put(c, '/alice/work/m5-again.ics', event('m5', { attendees: [['bob']] }));
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('unique-scheduling-object-resource')]);
  });

  it('If-Schedule-Tag-Match: the tag survives a reply merge; a stale tag is 412', async () => {
    const tagOf = async (path: string, user: string): Promise<string> => {
      const r = await c.propfind(path, [C('schedule-tag')], '0', user);
      const el = parseMultistatus(r.text).props.get(path)?.get(C('schedule-tag'))?.element;
      return el ? textContent(el) : '';
    };
    const before = await tagOf('/alice/calendar/m5.ics', 'alice');
    assert.ok(before);
    const copy = await getText('/bob/calendar/m5.ics', 'bob');
    assert.equal(
      (await put(c, '/bob/calendar/m5.ics', setPartstat(copy.text, 'bob', 'TENTATIVE'), 'bob')).status,
      204,
    );
    const org = await getText('/alice/calendar/m5.ics', 'alice');
    assert.equal(attendeeParam(org.text, 'bob', 'partstat'), 'TENTATIVE');
    assert.equal(await tagOf('/alice/calendar/m5.ics', 'alice'), before, 'a merged reply keeps the tag');
    const edited = org.text.replace('SUMMARY:Meeting', 'SUMMARY:Meeting (agenda)');
    const ok = await put(c, '/alice/calendar/m5.ics', edited, 'alice', { 'If-Schedule-Tag-Match': before });
    assert.equal(ok.status, 204);
    const stale = await put(c, '/alice/calendar/m5.ics', edited, 'alice', {
      'If-Schedule-Tag-Match': before,
    });
    assert.equal(stale.status, 412);
  });

  it('GET of a scheduling object carries its Schedule-Tag (RFC 6638 §3.2.10); other items none', async () => {
    const tag = async (path: string, user: string): Promise<string | undefined> => {
      const r = await c.propfind(path, [C('schedule-tag')], '0', user);
      const el = parseMultistatus(r.text).props.get(path)?.get(C('schedule-tag'))?.element;
      return el ? textContent(el) : undefined;
    };
    for (const [path, user] of [
      ['/alice/calendar/m5.ics', 'alice'],
      ['/bob/calendar/m5.ics', 'bob'],
    ] as const) {
      const r = await c.request('GET', path, { user });
      assert.equal(r.status, 200);
      assert.ok(r.headers['schedule-tag'], `${path} has a Schedule-Tag`);
      assert.equal(r.headers['schedule-tag'], await tag(path, user));
      const h = await c.request('HEAD', path, { user });
      assert.equal(h.headers['schedule-tag'], r.headers['schedule-tag']);
    }
    assert.equal((await put(c, '/alice/calendar/plain.ics', event('plain'))).status, 201);
    const plain = await c.request('GET', '/alice/calendar/plain.ics', { user: 'alice' });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['schedule-tag'], undefined, 'no attendees: not a scheduling object');
  });
});

describe('races', () => {
  it('two organizers inviting one attendee at once: every invitation arrives', async () => {
    const puts = [];
    for (let i = 0; i < 6; i++) {
      const org = i % 2 === 0 ? 'alice' : 'carol';
      puts.push(
        put(
          c,
          `/${org}/calendar/race${i}.ics`,
          event(`race${i}`, { organizer: org, attendees: [['bob']] }),
          org,
        ),
      );
    }
    for (const r of await Promise.all(puts)) assert.equal(r.status, 201);
    for (let i = 0; i < 6; i++) {
      assert.equal((await getText(`/bob/calendar/race${i}.ics`, 'bob')).status, 200);
      assert.deepEqual(methods(await inbox('bob', `race${i}`)), ['REQUEST']);
    }
  });

  it('two organizers with one UID: the attendee keeps the first, the second is told 3.8', async () => {
    assert.equal(
      (await put(c, '/alice/calendar/same.ics', event('same', { attendees: [['bob']] }))).status,
      201,
    );
    const r = await put(
      c,
      '/carol/calendar/same.ics',
      event('same', { organizer: 'carol', attendees: [['bob']] }),
      'carol',
    );
    assert.equal(r.status, 201);
    const copy = await getText('/bob/calendar/same.ics', 'bob');
    assert.match(copy.text, /ORGANIZER[^\r\n]*alice@example\.org/i);
    const carols = await getText('/carol/calendar/same.ics', 'carol');
    assert.equal(attendeeParam(carols.text, 'bob', 'schedule-status'), '3.8');
  });

  it('replies racing with an organizer update are all kept', async () => {
    assert.equal(
      (await put(c, '/alice/calendar/busy.ics', event('busy', { attendees: [['bob'], ['carol'], ['dave']] })))
        .status,
      201,
    );
    const replies = ['bob', 'carol', 'dave'].map(async (u) => {
      const copy = await getText(`/${u}/calendar/busy.ics`, u);
      return put(c, `/${u}/calendar/busy.ics`, setPartstat(copy.text, u, 'ACCEPTED'), u);
    });
    for (const r of await Promise.all(replies)) assert.equal(r.status, 204);
    const org = await getText('/alice/calendar/busy.ics', 'alice');
    for (const u of ['bob', 'carol', 'dave'])
      assert.equal(attendeeParam(org.text, u, 'partstat'), 'ACCEPTED');
  });
});

describe('principal-match with calendar user addresses', () => {
  it('finds the principal whose calendar-user-address-set names the user', async () => {
    const body =
      '<D:principal-match xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' +
      '<D:principal-property><C:calendar-user-address-set/></D:principal-property><D:prop><D:displayname/></D:prop></D:principal-match>';
    const r = await c.request('REPORT', '/', { user: 'dave', body, headers: { Depth: '0' } });
    assert.equal(r.status, 207);
    assert.deepEqual([...parseMultistatus(r.text).props.keys()], ['/dave/']);
  });
});

describe('MOVE and COPY of scheduling objects', () => {
  const move = (from: string, to: string, user: string, method = 'MOVE'): ReturnType<DavClient['request']> =>
    c.request(method, from, { user, headers: { Destination: `${server.url}${to}` } });

  it("a MOVE between the organizer's calendars sends nothing, and scheduling goes on from there", async () => {
    assert.equal((await mkcalendar(c, '/alice/projects/', 'alice')).status, 201);
    assert.equal(
      (await put(c, '/alice/calendar/mv1.ics', event('mv1', { attendees: [['bob']] }))).status,
      201,
    );
    const bobCopy = await getText('/bob/calendar/mv1.ics', 'bob');
    assert.equal(bobCopy.status, 200);
    const inboxBefore = (await inbox('bob', 'mv1')).length;
    assert.equal((await move('/alice/calendar/mv1.ics', '/alice/projects/mv1.ics', 'alice')).status, 201);
    assert.equal((await inbox('bob', 'mv1')).length, inboxBefore, 'no message for a move');
    assert.equal((await getText('/bob/calendar/mv1.ics', 'bob')).text, bobCopy.text);
    const moved = await getText('/alice/projects/mv1.ics', 'alice');
    const edited = moved.text.replace('SUMMARY:Meeting', 'SUMMARY:Moved meeting');
    assert.equal((await put(c, '/alice/projects/mv1.ics', edited)).status, 204);
    assert.match((await getText('/bob/calendar/mv1.ics', 'bob')).text, /SUMMARY:Moved meeting/);
  });

  it('a COPY that makes a second scheduling object of one UID is refused (unique-scheduling-object-resource)', async () => {
    const r = await move('/alice/projects/mv1.ics', '/alice/calendar/mv1-copy.ics', 'alice', 'COPY');
    assert.equal(r.status, 403);
    assert.deepEqual(preconditions(r.text), [C('unique-scheduling-object-resource')]);
    assert.equal((await getText('/alice/calendar/mv1-copy.ics', 'alice')).status, 404);
    // A plain event (no attendees) is copied as before.
    assert.equal((await put(c, '/alice/calendar/solo.ics', event('solo'))).status, 201);
    const plain = await move('/alice/calendar/solo.ics', '/alice/projects/solo.ics', 'alice', 'COPY');
    assert.equal(plain.status, 201);
  });

  it('nothing is moved or copied into or out of a scheduling inbox', async () => {
    const into = await move('/bob/calendar/mv1.ics', '/bob/schedule-inbox/mv1.ics', 'bob');
    assert.equal(into.status, 403);
    assert.equal((await getText('/bob/calendar/mv1.ics', 'bob')).status, 200, 'left where it was');
    const [message] = await items('bob/schedule-inbox');
    assert.ok(message);
    const out = await move(
      `/bob/schedule-inbox/${message.href}`,
      '/bob/calendar/from-inbox.ics',
      'bob',
      'COPY',
    );
    assert.equal(out.status, 403);
  });

  it("a MOVE of a scheduling object into another user's calendar is refused, even where rights allow it", async () => {
    const open = await startAlmanac({
      users: USERS,
      config: {
        scheduling: { enabled: 'True', email_domain: 'example.org' },
        rights: { type: 'authenticated' },
      },
    });
    try {
      const oc = new DavClient(open.url, USERS);
      for (const u of ['alice', 'carol'])
        assert.equal((await mkcalendar(oc, `/${u}/calendar/`, u)).status, 201);
      assert.equal(
        (await put(oc, '/alice/calendar/x.ics', event('x', { attendees: [['bob']] }))).status,
        201,
      );
      const r = await oc.request('MOVE', '/alice/calendar/x.ics', {
        user: 'alice',
        headers: { Destination: `${open.url}/carol/calendar/x.ics` },
      });
      assert.equal(r.status, 403);
      assert.equal((await oc.request('GET', '/alice/calendar/x.ics', { user: 'alice' })).status, 200);
      assert.equal((await oc.request('GET', '/carol/calendar/x.ics', { user: 'carol' })).status, 404);
    } finally {
      await open.stop();
    }
  });
});

describe('off by default', () => {
  it('without [scheduling] enabled nothing is sent and nothing is advertised', async () => {
    const plain = await startAlmanac({ users: USERS });
    try {
      const pc = new DavClient(plain.url, USERS);
      for (const u of ['alice', 'bob'])
        assert.equal((await mkcalendar(pc, `/${u}/calendar/`, u)).status, 201);
      const text = event('off1', { attendees: [['bob']] });
      const r = await put(pc, '/alice/calendar/off1.ics', text);
      assert.equal(r.status, 201);
      assert.ok(r.headers.etag, 'stored as sent');
      assert.equal((await pc.request('GET', '/alice/calendar/off1.ics', { user: 'alice' })).text, text);
      assert.equal((await pc.request('GET', '/bob/calendar/off1.ics', { user: 'bob' })).status, 404);
      assert.equal(await plain.store.getCollection('bob/schedule-inbox'), undefined);
      const opts = await pc.request('OPTIONS', '/alice/');
      assert.doesNotMatch(String(opts.headers.dav), /calendar-auto-schedule/);
      const p = await pc.propfind('/bob/', [C('schedule-inbox-URL')], '0', 'bob');
      assert.equal(parseMultistatus(p.text).props.get('/bob/')?.get(C('schedule-inbox-URL'))?.status, 404);
    } finally {
      await plain.stop();
    }
  });
});

describe('free-busy through the outbox', () => {
  const fbRequest = (attendees: string[], organizer = 'alice'): string =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//almanac tests//EN',
      'METHOD:REQUEST',
      'BEGIN:VFREEBUSY',
      'UID:fb-1',
      'DTSTAMP:20250101T000000Z',
      'DTSTART:20250401T000000Z',
      'DTEND:20250402T000000Z',
      `ORGANIZER:${mail(organizer)}`,
      ...attendees.map((a) => `ATTENDEE:${a.includes(':') ? a : mail(a)}`),
      'END:VFREEBUSY',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  const plain = (uid: string, start: string, end: string, extra: string[] = []): string =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//almanac tests//EN',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20250101T000000Z',
      `DTSTART:${start}`,
      `DTEND:${end}`,
      'SUMMARY:x',
      ...extra,
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  const post = (
    body: string,
    user = 'alice',
    path = `/${user}/schedule-outbox/`,
  ): ReturnType<DavClient['request']> =>
    c.request('POST', path, { user, body, headers: { 'Content-Type': 'text/calendar; charset=utf-8' } });

  before(async () => {
    const dave = '/dave/calendar/';
    assert.equal(
      (await put(c, `${dave}fb-busy.ics`, plain('fb-busy', '20250401T090000Z', '20250401T100000Z'), 'dave'))
        .status,
      201,
    );
    assert.equal(
      (
        await put(
          c,
          `${dave}fb-tent.ics`,
          plain('fb-tent', '20250401T110000Z', '20250401T120000Z', ['STATUS:TENTATIVE']),
          'dave',
        )
      ).status,
      201,
    );
    assert.equal(
      (
        await put(
          c,
          `${dave}fb-transp.ics`,
          plain('fb-tr', '20250401T130000Z', '20250401T140000Z', ['TRANSP:TRANSPARENT']),
          'dave',
        )
      ).status,
      201,
    );
    assert.equal(
      (
        await put(
          c,
          `${dave}fb-cancelled.ics`,
          plain('fb-cx', '20250401T150000Z', '20250401T160000Z', ['STATUS:CANCELLED']),
          'dave',
        )
      ).status,
      201,
    );
    // An invitation dave declined takes none of his time.
    const declined = event('fb-declined', {
      attendees: [['dave', 'DECLINED']],
      start: '20250401T190000Z',
      end: '20250401T200000Z',
    });
    assert.equal((await put(c, `${dave}fb-declined.ics`, declined, 'dave')).status, 201);
    // A calendar marked transparent does not count at all.
    assert.equal((await mkcalendar(c, '/dave/holidays/', 'dave')).status, 201);
    const patch = await c.request('PROPPATCH', '/dave/holidays/', {
      user: 'dave',
      body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp></D:prop></D:set></D:propertyupdate>`,
    });
    assert.equal(patch.status, 207);
    assert.equal(
      (await put(c, '/dave/holidays/h.ics', plain('fb-hol', '20250401T170000Z', '20250401T180000Z'), 'dave'))
        .status,
      201,
    );
  });

  it('answers per attendee: busy, tentative, transparent, cancelled, declined, transparent calendar, unknown user', async () => {
    const r = await post(fbRequest(['dave', 'mailto:nobody@elsewhere.example']));
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /xml/);
    const root = parseXml(r.text);
    assert.equal(nameOf(root), C('schedule-response'));
    const answers = new Map<string, { status: string; data: string }>();
    for (const resp of root.children.filter((ch) => ch.local === 'response')) {
      const recipient = hrefsIn(resp)[0] ?? '';
      const status = textContent(resp.children.find((ch) => ch.local === 'request-status') ?? resp);
      const data = resp.children.find((ch) => ch.local === 'calendar-data');
      answers.set(recipient, { status, data: data ? textContent(data) : '' });
    }
    const dave = answers.get('mailto:dave@example.org');
    assert.ok(dave);
    assert.match(dave.status, /^2\.0/);
    assert.match(dave.data, /METHOD:REPLY/);
    const busy = dave.data
      .split(/\r?\n/)
      .filter((l) => l.startsWith('FREEBUSY'))
      .sort();
    assert.deepEqual(busy, [
      'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20250401T110000Z/20250401T120000Z',
      'FREEBUSY;FBTYPE=BUSY:20250401T090000Z/20250401T100000Z',
    ]);
    assert.match(dave.data, /ATTENDEE:mailto:dave@example\.org/);
    assert.match(answers.get('mailto:nobody@elsewhere.example')?.status ?? '', /^3\.7/);
  });

  it('only the owner may POST, only a VFREEBUSY REQUEST from their own address', async () => {
    assert.equal((await post(fbRequest(['dave']), 'bob', '/alice/schedule-outbox/')).status, 403);
    const notMine = await post(fbRequest(['dave'], 'carol'));
    assert.equal(notMine.status, 403);
    assert.deepEqual(preconditions(notMine.text), [C('organizer-allowed')]);
    const publish = await post(fbRequest(['dave']).replace('METHOD:REQUEST', 'METHOD:PUBLISH'));
    assert.equal(publish.status, 403);
    assert.deepEqual(preconditions(publish.text), [C('valid-scheduling-message')]);
    const many = await post(fbRequest(Array.from({ length: 101 }, (_, i) => `u${i}`)));
    assert.equal(many.status, 403);
    assert.deepEqual(preconditions(many.text), [C('max-attendees-per-instance')]);
  });
});
