/**
 * The email hook's decisions, in dry-run (as Radicale's own tests, radicale/tests/test_hook_email.py):
 * what is logged for new, past, date-only and deleted events, addresses, templates.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import {
  EmailHook,
  endedInThePast,
  extractEmail,
  readEvent,
  unknownTemplateVariables,
} from '../../src/notify/hooks/email.js';
import type { HookItem } from '../../src/notify/hooks/notification.js';

function logger(lines: string[]): Logger {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, cb): void {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
}

const year = new Date().getFullYear();

function ics(end: string, attendees = ['ATTENDEE;CN=Bob:mailto:bob@example.org']): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    'BEGIN:VEVENT',
    'UID:event1',
    'DTSTAMP:20240101T000000Z',
    end.length === 8 ? `DTSTART;VALUE=DATE:${end}` : `DTSTART:${end}`,
    end.length === 8 ? `DTEND;VALUE=DATE:${end}` : `DTEND:${end}`,
    'SUMMARY:Event',
    ...attendees,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

function hook(lines: string[], massEmail = false): EmailHook {
  return new EmailHook({
    server: '',
    port: '',
    security: 'none',
    verifyMode: 'REQUIRED',
    username: '',
    password: '',
    fromEmail: 'from@example.org',
    massEmail,
    dryrun: true,
    templates: {
      added: 'Hello $attendee_name',
      deleted: 'Bye $attendee_name',
      updated: 'Upd $attendee_name',
    },
    log: logger(lines),
  });
}

const upsert = (text: string, old: string | null = null): HookItem => ({
  type: 'upsert',
  point: 'alice/cal',
  content: text,
  content_type: 'VCALENDAR',
  uid: null,
  new_content: text,
  old_content: old,
  actor: 'alice',
});

describe('email hook (dry run)', () => {
  it('a new event with a future end: one received line and "New event detected"', async () => {
    const lines: string[] = [];
    await hook(lines).process(upsert(ics(`${year + 1}0101T110000Z`)));
    assert.equal(lines.filter((l) => l.includes("received notification_item: {'type': 'upsert',")).length, 1);
    assert.equal(
      lines.filter((l) => l.includes('New event detected, sending notifications to all attendees: event1'))
        .length,
      1,
    );
    assert.ok(lines.some((l) => l.includes(`DRY-RUN _send_email / to_addresses=[\\"bob@example.org\\"]`)));
  });

  it('an event that ended in the past is skipped; a date-only end is compared with today', async () => {
    const lines: string[] = [];
    await hook(lines).process(upsert(ics('20200101T110000Z')));
    assert.ok(
      lines.some((l) => l.includes('Event end time is in the past, skipping notification for event: event1')),
    );
    const today = new Date();
    const d = (x: Date): string =>
      `${x.getFullYear()}${String(x.getMonth() + 1).padStart(2, '0')}${String(x.getDate()).padStart(2, '0')}`;
    const ev = (s: string): NonNullable<ReturnType<typeof readEvent>> => {
      const e = readEvent(ics(s));
      assert.ok(e);
      return e;
    };
    assert.equal(endedInThePast(ev(d(today))), false, 'ends today: not past');
    assert.equal(endedInThePast(ev(d(new Date(today.getTime() - 86_400_000 * 2)))), true);
    const noEnd = readEvent(ics('20200101T110000Z').replace(/DTEND[^\r]*\r\n/, ''));
    assert.ok(noEnd);
    assert.equal(endedInThePast(noEnd), false, 'no DTEND: not past');
  });

  it('a delete is handled for past and future events alike', async () => {
    for (const end of ['20200101T110000Z', `${year + 1}0101T110000Z`, '20200101']) {
      const lines: string[] = [];
      const text = ics(end);
      await hook(lines).process({
        type: 'delete',
        point: 'alice/cal',
        content: 'event1',
        content_type: 'VCALENDAR',
        uid: 'event1',
        new_content: null,
        old_content: text,
        actor: 'alice',
      });
      assert.ok(
        lines.some((l) => l.includes("received notification_item: {'type': 'delete',")),
        end,
      );
      assert.ok(
        lines.some((l) => l.includes('DRY-RUN subject: An event you were invited to has been deleted')),
        end,
      );
    }
  });

  it('mass_email with two attendees: one mail to both, "everyone"; with one: the personal mail', async () => {
    const two = ['ATTENDEE;CN=Bob:mailto:bob@example.org', 'ATTENDEE;CN=Carol:MAILTO:Carol@Example.org'];
    const lines: string[] = [];
    await hook(lines, true).process(upsert(ics(`${year + 1}0101T110000Z`, two)));
    assert.ok(lines.some((l) => l.includes('to_addresses=[\\"bob@example.org\\",\\"carol@example.org\\"]')));
    assert.ok(lines.some((l) => l.includes('Hello everyone')));
    const one: string[] = [];
    await hook(one, true).process(upsert(ics(`${year + 1}0101T110000Z`)));
    assert.ok(one.some((l) => l.includes('Hello Bob')));
  });

  it('attendees without an address are dropped; none left: a warning, nothing sent', async () => {
    const lines: string[] = [];
    await hook(lines).process(upsert(ics(`${year + 1}0101T110000Z`, ['ATTENDEE;CN=X:urn:uuid:123'])));
    assert.ok(lines.some((l) => l.includes('No valid email addresses found in attendees')));
    assert.ok(!lines.some((l) => l.includes('to_addresses')));
  });

  it('addresses and templates as Radicale reads them', () => {
    assert.equal(extractEmail('MAILTO:Bob@Example.org'), 'bob@example.org');
    assert.equal(extractEmail(' bob@example.org '), 'bob@example.org');
    assert.equal(extractEmail('urn:uuid:1'), undefined);
    assert.deepEqual(unknownTemplateVariables('$attendee_name $event_title $event_name $x1'), [
      'event_name',
      'x1',
    ]);
  });
});
