import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  calendarProperty,
  detectKind,
  itemName,
  randomUuid,
  splitCalendar,
  splitVcards,
} from '../../src/web/client/ical-split.js';
import {
  davBaseFromPath,
  displaynameBody,
  formatBytes,
  kindLabel,
  mkcolBody,
  normalizeColor,
  proppatchBody,
  safeFileName,
} from '../../src/web/client/requests.js';

const CAL = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Test//EN',
  'X-WR-CALNAME:Work \\, stuff',
  'BEGIN:VTIMEZONE',
  'TZID:Europe/Paris',
  'BEGIN:STANDARD',
  'DTSTART:19701025T030000',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'END:STANDARD',
  'END:VTIMEZONE',
  'BEGIN:VEVENT',
  'UID:a@example.com',
  'DTSTART;TZID=Europe/Paris:20240101T100000',
  'RRULE:FREQ=DAILY',
  'SUMMARY:A long summary that is folded onto',
  '  a second line',
  'BEGIN:VALARM',
  'UID:alarm-uid-not-the-event',
  'ACTION:DISPLAY',
  'TRIGGER:-PT5M',
  'END:VALARM',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:b/with slash',
  'DTSTART:20240102T100000Z',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:a@example.com',
  'RECURRENCE-ID;TZID=Europe/Paris:20240103T100000',
  'DTSTART;TZID=Europe/Paris:20240103T120000',
  'END:VEVENT',
  'BEGIN:VTODO',
  'SUMMARY:no uid',
  'END:VTODO',
  'END:VCALENDAR',
  '',
].join('\r\n');

void describe('splitting uploads into items', () => {
  void it('groups calendar components by UID, keeps overrides together and copies the time zones', () => {
    const items = splitCalendar(CAL);
    assert.equal(items.length, 3);
    const [a, b, todo] = items;
    assert.equal(a?.uid, 'a@example.com');
    assert.equal(a?.text.match(/BEGIN:VEVENT/g)?.length, 2, 'master and override in one item');
    assert.match(a?.text ?? '', /BEGIN:VTIMEZONE\r\nTZID:Europe\/Paris/);
    assert.match(a?.text ?? '', /onto\r\n {2}a second line/, 'folding kept');
    assert.match(a?.text ?? '', /^BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-\/\/Test\/\/EN\r\n/);
    assert.doesNotMatch(a?.text ?? '', /X-WR-CALNAME/);
    assert.match(a?.text ?? '', /END:VCALENDAR\r\n$/);
    assert.equal(b?.uid, 'b/with slash');
    assert.equal(b?.text.match(/BEGIN:VEVENT/g)?.length, 1);
    assert.match(todo?.uid ?? '', /^[0-9a-f-]{36}$/, 'a UID is made up for components without one');
    assert.match(todo?.text ?? '', new RegExp(`BEGIN:VTODO\r\nUID:${todo?.uid ?? 'x'}\r\n`));
  });

  void it('splits vCards, one item each, and accepts LF line ends', () => {
    const vcf =
      'BEGIN:VCARD\nVERSION:3.0\nUID:c1\nFN:One\nEND:VCARD\n' +
      'BEGIN:VCARD\nVERSION:3.0\nitem1.UID:c2\nFN:Two\nEND:VCARD\n' +
      'BEGIN:VCARD\nVERSION:4.0\nFN:Three\nEND:VCARD\n';
    const items = splitVcards(vcf);
    assert.deepEqual(
      items.slice(0, 2).map((i) => i.uid),
      ['c1', 'c2'],
    );
    assert.equal(items.length, 3);
    assert.match(
      items[2]?.text ?? '',
      /^BEGIN:VCARD\r\nUID:[0-9a-f-]{36}\r\nVERSION:4.0\r\nFN:Three\r\nEND:VCARD\r\n$/,
    );
  });

  void it('detects the kind of file and reads the calendar name', () => {
    assert.equal(detectKind(CAL), 'calendar');
    assert.equal(detectKind('\uFEFFBEGIN:VCARD\r\nEND:VCARD'), 'addressbook');
    assert.equal(detectKind('hello'), null);
    assert.equal(detectKind('BEGIN:VTODO\r\nEND:VTODO'), null);
    assert.equal(calendarProperty(CAL, 'X-WR-CALNAME'), 'Work , stuff');
    assert.equal(calendarProperty(CAL, 'X-WR-CALDESC'), null);
  });

  void it('names items after safe UIDs only', () => {
    assert.equal(itemName('a@example.com', 'calendar'), 'a@example.com.ics');
    assert.equal(itemName('c1', 'addressbook'), 'c1.vcf');
    assert.match(itemName('b/with slash', 'calendar'), /^[0-9a-f-]{36}\.ics$/);
    assert.match(itemName('..', 'calendar'), /^[0-9a-f-]{36}\.ics$/);
    assert.match(randomUuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

void describe('collection requests', () => {
  void it('builds an extended MKCOL for a calendar with escaped values', () => {
    const body = mkcolBody({
      kind: 'calendar',
      components: ['VEVENT', 'VTODO'],
      name: 'A & <B>',
      color: '#ff0000',
      description: '',
      source: '',
    });
    assert.match(body, /<D:resourcetype><D:collection\/><C:calendar\/><\/D:resourcetype>/);
    assert.match(body, /<D:displayname>A &#38; &#60;B&#62;<\/D:displayname>/);
    assert.match(body, /<ICAL:calendar-color>#ff0000ff<\/ICAL:calendar-color>/);
    assert.match(body, /<C:comp name="VEVENT"\/><C:comp name="VTODO"\/>/);
    assert.doesNotMatch(body, /calendar-description/);
  });

  void it('builds MKCOL for address books and subscriptions', () => {
    const book = mkcolBody({
      kind: 'addressbook',
      components: [],
      name: 'B',
      color: '#00ff00',
      description: 'd',
      source: '',
    });
    assert.match(book, /<CR:addressbook\/>/);
    assert.match(book, /<INF:addressbook-color>#00ff00ff<\/INF:addressbook-color>/);
    assert.match(book, /<CR:addressbook-description>d<\/CR:addressbook-description>/);
    const sub = mkcolBody({
      kind: 'subscription',
      components: [],
      name: 'S',
      color: '',
      description: '',
      source: 'https://example.com/a.ics?x=1&y=2',
    });
    assert.match(sub, /<CS:subscribed\/>/);
    assert.match(sub, /<CS:source>https:\/\/example.com\/a.ics\?x=1&#38;y=2<\/CS:source>/);
  });

  void it('PROPPATCH sets what is filled in and removes what was cleared', () => {
    const body = proppatchBody({
      kind: 'calendar',
      components: [],
      name: 'N',
      color: '',
      description: '',
      source: '',
    });
    assert.match(body, /<D:set><D:prop><D:displayname>N<\/D:displayname><\/D:prop><\/D:set>/);
    assert.match(
      body,
      /<D:remove><D:prop><ICAL:calendar-color\/><C:calendar-description\/><\/D:prop><\/D:remove>/,
    );
  });

  void it('normalises colours and sizes for display', () => {
    assert.equal(normalizeColor('#FF8800ff'), '#ff8800');
    assert.equal(normalizeColor('#123456'), '#123456');
    assert.equal(normalizeColor('red'), null);
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KB');
    assert.equal(formatBytes(50 * 1024 * 1024), '50 MB');
    assert.equal(kindLabel({ kind: 'calendar', components: ['VTODO'] }), 'Task list');
    assert.equal(
      kindLabel({ kind: 'calendar', components: ['VEVENT', 'VJOURNAL'] }),
      'Calendar (events, journal)',
    );
    assert.equal(safeFileName('a/b: c?'), 'a_b_ c_');
    assert.equal(safeFileName('  '), 'collection');
    assert.match(displaynameBody('x<y'), /<D:set><D:prop><D:displayname>x&#60;y<\/D:displayname>/);
  });

  void it('finds the DAV root from the page path, with or without a proxy prefix', () => {
    assert.equal(davBaseFromPath('/.web/'), '/');
    assert.equal(davBaseFromPath('/radicale/.web/'), '/radicale/');
    assert.equal(davBaseFromPath('/a/b/.web/index.html'), '/a/b/');
  });
});
