import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  foldLine,
  formatWhen,
  normalizeAddress,
  parseContentLine,
  parseItip,
  setPartstat,
} from '../../src/web/client/itip.js';

const REQUEST = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//test//EN',
  'METHOD:REQUEST',
  'BEGIN:VEVENT',
  'UID:meet-1@example.org',
  'DTSTAMP:20261201T000000Z',
  'DTSTART;TZID=Europe/Berlin:20261210T100000',
  'DURATION:PT1H',
  'SUMMARY:Budget\\, Q1',
  'LOCATION:Room 2',
  'ORGANIZER;CN="Smith, Alice":mailto:alice@example.org',
  'ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.org',
  'ATTENDEE;CN="Bob: the builder";PARTSTAT=NEEDS-ACTION;RSVP=TRUE;ROLE=REQ-PARTICIPANT:mailto:Bob@Exa',
  ' mple.org',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

void describe('web client: iTIP messages', () => {
  void it('reads the method, summary, organizer, start and attendees', () => {
    const m = parseItip(REQUEST);
    assert.ok(m);
    assert.equal(m.method, 'REQUEST');
    assert.equal(m.uid, 'meet-1@example.org');
    assert.equal(m.summary, 'Budget, Q1');
    assert.equal(m.location, 'Room 2');
    assert.deepEqual(m.organizer, {
      address: 'mailto:alice@example.org',
      name: 'Smith, Alice',
      partstat: 'NEEDS-ACTION',
    });
    assert.deepEqual(
      m.attendees.map((a) => [a.name, a.partstat, a.address]),
      [
        ['Alice', 'ACCEPTED', 'mailto:alice@example.org'],
        ['Bob: the builder', 'NEEDS-ACTION', 'mailto:Bob@Example.org'],
      ],
    );
    assert.deepEqual(m.start, { value: '20261210T100000', tzid: 'Europe/Berlin', allDay: false });
  });

  void it('parses quoted parameter values with colons and semicolons', () => {
    const l = parseContentLine('ATTENDEE;CN="a;b:c";X=1:mailto:x@y');
    assert.ok(l);
    assert.deepEqual(
      l.params.map((p) => [p.name, p.raw]),
      [
        ['CN', '"a;b:c"'],
        ['X', '1'],
      ],
    );
    assert.equal(l.value, 'mailto:x@y');
    assert.equal(parseContentLine('no colon here'), null);
  });

  void it("sets the user's PARTSTAT, drops RSVP and keeps everything else", () => {
    const out = setPartstat(REQUEST, ['MAILTO:bob@example.org', '/bob/'], 'ACCEPTED');
    assert.ok(out);
    const unfolded = out.replace(/\r\n /g, '');
    assert.match(
      unfolded,
      /\r\nATTENDEE;CN="Bob: the builder";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:Bob@Example\.org\r\n/,
    );
    assert.match(unfolded, /ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example\.org/);
    assert.ok(out.split('\r\n').every((l) => new TextEncoder().encode(l).length <= 75));
    assert.equal(
      out.replace(/ATTENDEE[^\r]*\r\n( [^\r]*\r\n)*/g, ''),
      REQUEST.replace(/ATTENDEE[^\r]*\r\n( [^\r]*\r\n)*/g, ''),
    );
  });

  void it('answers one occurrence only in the component of that instance', () => {
    const master = REQUEST.replace('METHOD:REQUEST\r\n', '');
    const override = master
      .slice(master.indexOf('BEGIN:VEVENT'), master.indexOf('END:VCALENDAR'))
      .replace('DTSTART;', 'RECURRENCE-ID;TZID=Europe/Berlin:20261217T100000\r\nDTSTART;');
    const series = master.replace('END:VCALENDAR', override + 'END:VCALENDAR');
    const out = setPartstat(series, ['mailto:bob@example.org'], 'DECLINED', '20261217T100000');
    assert.ok(out);
    const events = out.replace(/\r\n /g, '').split('BEGIN:VEVENT').slice(1);
    assert.equal(events.length, 2);
    assert.match(events[0] ?? '', /PARTSTAT=NEEDS-ACTION;RSVP=TRUE/, 'the series keeps its answer');
    assert.match(events[1] ?? '', /ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED:mailto:Bob/);
    assert.equal(setPartstat(series, ['mailto:bob@example.org'], 'DECLINED', '20261224T100000'), null);
  });

  void it('answers null when the user is not an attendee', () => {
    assert.equal(setPartstat(REQUEST, ['mailto:carol@example.org'], 'DECLINED'), null);
  });

  void it('folds at 75 octets without splitting a UTF-8 character', () => {
    const lines = foldLine('SUMMARY:' + 'é'.repeat(100));
    assert.ok(lines.length > 1);
    for (const l of lines) assert.ok(new TextEncoder().encode(l).length <= 75, l);
    assert.equal(lines.map((l, i) => (i === 0 ? l : l.slice(1))).join(''), 'SUMMARY:' + 'é'.repeat(100));
  });

  void it('compares addresses without case and mailto spelling', () => {
    assert.equal(normalizeAddress('MAILTO:Bob@Example.org'), normalizeAddress('bob@example.org'));
  });

  void it('formats all-day and zoned dates', () => {
    assert.equal(
      formatWhen({ value: '20261210', tzid: null, allDay: true }, 'en-GB'),
      '10 Dec 2026 (all day)',
    );
    assert.equal(
      formatWhen({ value: '20261210T100000', tzid: 'Europe/Berlin', allDay: false }, 'en-GB'),
      '10 Dec 2026, 10:00 (Europe/Berlin)',
    );
  });
});
