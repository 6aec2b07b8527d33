/**
 * CalDAV scheduling stores the inbox and outbox as ordinary calendars with one extra property, and
 * invitations as ordinary items: Debian's Radicale 3.1.8 serving the folder afterwards lists and
 * serves them (and the attendee's copy) without a warning, takes writes, and Almanac given the folder
 * back still presents the inbox as a schedule inbox.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, writeUsers } from '../helpers/almanac.js';
import { startRadicale } from '../helpers/radicale.js';

const USERS = { alice: 'alicepw', bob: 'bobpw' };
const auth = (user: keyof typeof USERS): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${user}:${USERS[user]}`).toString('base64')}`,
});
const SCHEDULING = { scheduling: { enabled: 'True', email_domain: 'example.org' } };

const invitation = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//t//EN',
  'BEGIN:VEVENT',
  'UID:team-meeting@example.org',
  'DTSTAMP:20260101T000000Z',
  'DTSTART:20270301T090000Z',
  'DTEND:20270301T100000Z',
  'SUMMARY:Team meeting',
  'ORGANIZER:mailto:alice@example.org',
  'ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org',
  'ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

void test('Radicale 3.1.8 serves a folder where Almanac delivered an invitation', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-sched-radicale-'));
  try {
    const a = await startAlmanac({ folder, users: USERS, config: SCHEDULING });
    try {
      for (const u of ['alice', 'bob'] as const) {
        const mk = await fetch(`${a.url}/${u}/calendar/`, { method: 'MKCALENDAR', headers: auth(u) });
        assert.equal(mk.status, 201);
      }
      const put = await fetch(`${a.url}/alice/calendar/team.ics`, {
        method: 'PUT',
        headers: { ...auth('alice'), 'Content-Type': 'text/calendar' },
        body: invitation,
      });
      assert.equal(put.status, 201);
      const inbox = await fetch(`${a.url}/bob/schedule-inbox/`, { headers: auth('bob') });
      assert.match(await inbox.text(), /UID:team-meeting@example\.org/);
    } finally {
      await a.stop();
    }

    const htpasswd = writeUsers(folder, USERS);
    const r = await startRadicale(folder, htpasswd);
    let stderr = '';
    r.proc.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    try {
      const list = await fetch(`${r.url}/bob/`, {
        method: 'PROPFIND',
        headers: { ...auth('bob'), Depth: '1' },
      });
      assert.equal(list.status, 207);
      const text = await list.text();
      for (const c of ['calendar', 'schedule-inbox']) {
        assert.match(text, new RegExp(`<href>/bob/${c}/</href>`), `${c} listed by Radicale`);
      }
      const copy = await fetch(`${r.url}/bob/calendar/`, { headers: auth('bob') });
      assert.equal(copy.status, 200);
      const copyText = await copy.text();
      assert.match(copyText, /UID:team-meeting@example\.org/);
      assert.match(copyText, /SUMMARY:Team meeting/);
      const inbox = await fetch(`${r.url}/bob/schedule-inbox/`, { headers: auth('bob') });
      assert.equal(inbox.status, 200);
      assert.match(await inbox.text(), /UID:team-meeting@example\.org/);
      // Radicale writes into the calendar that invitations go to.
      const own = await fetch(`${r.url}/bob/calendar/own.ics`, {
        method: 'PUT',
        headers: { ...auth('bob'), 'Content-Type': 'text/calendar' },
        body: invitation
          .replace('team-meeting@example.org', 'own@example.org')
          .replace(/ORGANIZER.*\r\n|ATTENDEE.*\r\n/g, ''),
      });
      assert.equal(own.status, 201);
    } finally {
      r.stop();
    }
    assert.doesNotMatch(stderr, /WARNING|ERROR/, stderr);

    const back = await startAlmanac({ folder, users: USERS, config: SCHEDULING });
    try {
      const props = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>';
      const list = await fetch(`${back.url}/bob/`, {
        method: 'PROPFIND',
        headers: { ...auth('bob'), Depth: '1', 'Content-Type': 'application/xml' },
        body: props,
      });
      const text = await list.text();
      assert.match(text, /schedule-inbox\/<\/[^>]*href>[\s\S]*?<[^>]*schedule-inbox\s*\/>/);
      const cal = await fetch(`${back.url}/bob/calendar/`, { headers: auth('bob') });
      const calText = await cal.text();
      assert.match(calText, /UID:own@example\.org/);
      assert.match(calText, /UID:team-meeting@example\.org/);
    } finally {
      await back.stop();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
