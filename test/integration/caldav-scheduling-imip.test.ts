/**
 * iMIP (RFC 6047): scheduling messages for attendees outside this server go by mail to a real SMTP
 * server (the smtp-server package) on loopback, parsed with mailparser: the MIME structure, who gets
 * what, the envelope, SCHEDULE-STATUS in the organizer's copy, CANCEL on DELETE, REPLY to an outside
 * organizer, an SMTP server that refuses, is down or does not answer, the [hook] fallback and the
 * per-login rate limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import ICAL from 'ical.js';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { freePort } from '../helpers/net.js';
import { startSmtpServer, type TestSmtp } from '../helpers/smtp.js';
import type { ParsedMail } from 'mailparser';
import { DavClient, mkcalendar, put } from './helpers/dav-client.js';

/** A TCP server that accepts connections and never says anything (an SMTP server that hangs). */
async function startSilent(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' };

async function startServer(config: Record<string, string>, hook: Record<string, string> = {}) {
  const server = await startAlmanac({
    users: USERS,
    config: {
      scheduling: { enabled: 'True', email_domain: 'example.org', ...config },
      ...(Object.keys(hook).length > 0 ? { hook } : {}),
    },
  });
  const c = new DavClient(server.url, USERS);
  for (const u of Object.keys(USERS)) {
    assert.equal((await mkcalendar(c, `/${u}/calendar/`, u)).status, 201);
  }
  return { server, c };
}

function event(
  uid: string,
  o: { organizer?: string; attendees: string[]; summary?: string; sequence?: number },
): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20250101T000000Z',
    'DTSTART:20300310T100000Z',
    'DTEND:20300310T110000Z',
    `SEQUENCE:${o.sequence ?? 0}`,
    `SUMMARY:${o.summary ?? 'Planning'}`,
    'LOCATION:Room 4',
    `ORGANIZER;CN=Alice Organizer:${o.organizer ?? 'mailto:alice@example.org'}`,
    ...o.attendees,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

const BOB = 'ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org';
const ext = (mail: string, cn = 'Outside Person'): string =>
  `ATTENDEE;CN=${cn};PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${mail}`;

/** SCHEDULE-STATUS of `mail`'s ATTENDEE line in an object. */
function scheduleStatus(text: string, mail: string): string | undefined {
  const vcal = new ICAL.Component(ICAL.parse(text) as unknown[]);
  for (const ev of vcal.getAllSubcomponents('vevent')) {
    for (const a of ev.getAllProperties('attendee')) {
      if (String(a.getFirstValue()).toLowerCase() === `mailto:${mail}`) {
        const v: unknown = a.getParameter('schedule-status');
        return typeof v === 'string' ? v : undefined;
      }
    }
  }
  return undefined;
}

async function stored(server: RunningAlmanac, path: string, href: string): Promise<string> {
  for await (const item of server.store.getItems(path, [href])) return item.text;
  throw new Error(`${path}/${href} is not stored`);
}

/** The text/calendar alternative and the invite.ics attachment of a parsed mail. */
function calendarParts(mail: ParsedMail): { calendar: string; contentType: string; attachment: string } {
  const cal = mail.attachments.find((a) => a.contentType === 'text/calendar');
  const ics = mail.attachments.find((a) => a.filename === 'invite.ics');
  assert.ok(cal, 'a text/calendar part');
  assert.ok(ics, 'an invite.ics attachment');
  const header = cal.headers.get('content-type') as { value: string; params: Record<string, string> };
  return {
    calendar: cal.content.toString('utf8'),
    contentType: `${header.value}; method=${header.params.method ?? ''}; charset=${header.params.charset ?? ''}`,
    attachment: `${ics.contentType} ${ics.content.toString('utf8')}`,
  };
}

function vevent(ics: string): ICAL.Component {
  const vcal = new ICAL.Component(ICAL.parse(ics) as unknown[]);
  const ev = vcal.getFirstSubcomponent('vevent');
  assert.ok(ev);
  return ev;
}

describe('iMIP through [scheduling] smtp_server', () => {
  let smtp: TestSmtp;
  let server: RunningAlmanac;
  let c: DavClient;

  before(async () => {
    smtp = await startSmtpServer({ refuse: ['nobody@outside.example'] });
    ({ server, c } = await startServer({
      smtp_server: '127.0.0.1',
      smtp_port: String(smtp.port),
      from_email: 'calendar@example.org',
    }));
  });
  after(async () => {
    await server.stop();
    await smtp.close();
  });

  it('an invitation to a local and an outside attendee mails only the outside one, as RFC 6047 says', async () => {
    const r = await put(
      c,
      '/alice/calendar/i1.ics',
      event('i1', { attendees: [BOB, ext('Zoe@Outside.example', 'Zoe')] }),
    );
    assert.equal(r.status, 201, r.text);
    assert.equal(smtp.received.length, 1, 'one mail');
    const m = smtp.received[0];
    assert.ok(m);
    assert.equal(m.from, 'calendar@example.org', 'envelope sender');
    assert.deepEqual(m.to, ['zoe@outside.example']);
    assert.equal(m.mail.subject, 'Planning');
    assert.deepEqual(
      m.mail.from?.value.map((a) => [a.name, a.address]),
      [['Alice Organizer', 'alice@example.org']],
    );
    assert.match(m.raw, /^Sender: calendar@example\.org\r?$/m);
    assert.deepEqual(
      m.mail.replyTo?.value.map((a) => a.address),
      ['alice@example.org'],
    );
    assert.match(m.raw, /^Content-Type: multipart\/alternative;/m);
    assert.match(m.mail.text ?? '', /Alice Organizer invites you/);
    assert.match(m.mail.text ?? '', /When: 2030-03-10 10:00 UTC - 2030-03-10 11:00 UTC/);
    assert.match(m.mail.text ?? '', /Where: Room 4/);
    const parts = calendarParts(m.mail);
    assert.equal(parts.contentType, 'text/calendar; method=REQUEST; charset=UTF-8');
    assert.match(parts.attachment, /^application\/ics BEGIN:VCALENDAR/);
    assert.match(parts.calendar, /^METHOD:REQUEST\r$/m);
    const ev = vevent(parts.calendar);
    assert.equal(ev.getFirstPropertyValue('uid'), 'i1');
    assert.equal(String(ev.getFirstPropertyValue('organizer')), 'mailto:alice@example.org');
    const attendees = ev.getAllProperties('attendee').map((p) => String(p.getFirstValue()).toLowerCase());
    assert.ok(attendees.includes('mailto:zoe@outside.example'), attendees.join(' '));
    assert.doesNotMatch(parts.calendar, /SCHEDULE-STATUS/);
    const copy = await stored(server, 'alice/calendar', 'i1.ics');
    assert.equal(scheduleStatus(copy, 'zoe@outside.example'), '1.1');
    assert.equal(scheduleStatus(copy, 'bob@example.org'), '1.2');
  });

  it('an attendee with SCHEDULE-AGENT=CLIENT and a change of nothing get no mail', async () => {
    const before = smtp.received.length;
    const body = event('i2', {
      attendees: ['ATTENDEE;SCHEDULE-AGENT=CLIENT;PARTSTAT=NEEDS-ACTION:mailto:self@outside.example'],
    });
    assert.equal((await put(c, '/alice/calendar/i2.ics', body)).status, 201);
    assert.equal(smtp.received.length, before);
  });

  it('DELETE by the organizer mails METHOD:CANCEL', async () => {
    const before = smtp.received.length;
    await put(c, '/alice/calendar/i3.ics', event('i3', { attendees: [ext('yan@outside.example')] }));
    assert.equal(smtp.received.length, before + 1);
    const r = await c.request('DELETE', '/alice/calendar/i3.ics', { user: 'alice' });
    assert.equal(r.status, 200);
    assert.equal(smtp.received.length, before + 2);
    const m = smtp.received.at(-1);
    assert.ok(m);
    assert.deepEqual(m.to, ['yan@outside.example']);
    assert.equal(m.mail.subject, 'Cancelled: Planning');
    const parts = calendarParts(m.mail);
    assert.equal(parts.contentType, 'text/calendar; method=CANCEL; charset=UTF-8');
    assert.match(parts.calendar, /^METHOD:CANCEL\r$/m);
    assert.equal(vevent(parts.calendar).getFirstPropertyValue('status'), 'CANCELLED');
  });

  it('removing an outside attendee mails them a CANCEL and the one left the updated REQUEST', async () => {
    await put(
      c,
      '/alice/calendar/i4.ics',
      event('i4', { attendees: [ext('xia@outside.example'), ext('wim@outside.example')] }),
    );
    const before = smtp.received.length;
    const r = await put(
      c,
      '/alice/calendar/i4.ics',
      event('i4', { attendees: [ext('wim@outside.example')], sequence: 1 }),
    );
    assert.ok(r.status === 204 || r.status === 201, String(r.status));
    const sent = smtp.received.slice(before);
    assert.deepEqual(sent.map((m) => [m.to.join(','), calendarParts(m.mail).contentType]).sort(), [
      ['wim@outside.example', 'text/calendar; method=REQUEST; charset=UTF-8'],
      ['xia@outside.example', 'text/calendar; method=CANCEL; charset=UTF-8'],
    ]);
    const copy = await stored(server, 'alice/calendar', 'i4.ics');
    assert.equal(scheduleStatus(copy, 'xia@outside.example'), undefined, 'xia is no longer in it');
    assert.equal(scheduleStatus(copy, 'wim@outside.example'), '1.1');
  });

  it('an SMTP server that refuses the recipient: SCHEDULE-STATUS 5.1, the PUT succeeds', async () => {
    const before = smtp.received.length;
    const r = await put(
      c,
      '/alice/calendar/i5.ics',
      event('i5', { attendees: [ext('nobody@outside.example'), ext('vic@outside.example')] }),
    );
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(
      smtp.received.slice(before).map((m) => m.to.join(',')),
      ['vic@outside.example'],
    );
    const copy = await stored(server, 'alice/calendar', 'i5.ics');
    assert.equal(scheduleStatus(copy, 'nobody@outside.example'), '5.1');
    assert.equal(scheduleStatus(copy, 'vic@outside.example'), '1.1');
  });

  it("a local attendee's answer to an outside organizer is mailed to the organizer as a REPLY", async () => {
    const before = smtp.received.length;
    const body = event('i6', {
      organizer: 'mailto:boss@outside.example',
      attendees: ['ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.org', ext('other@outside.example')],
    }).replace('CN=Alice Organizer', 'CN=The Boss');
    const r = await put(c, '/bob/calendar/i6.ics', body, 'bob');
    assert.equal(r.status, 201, r.text);
    const sent = smtp.received.slice(before);
    assert.equal(sent.length, 1, 'only the organizer gets mail');
    const m = sent[0];
    assert.ok(m);
    assert.deepEqual(m.to, ['boss@outside.example']);
    assert.equal(m.from, 'calendar@example.org');
    assert.deepEqual(
      m.mail.from?.value.map((a) => [a.name, a.address]),
      [['Bob', 'bob@example.org']],
    );
    assert.equal(m.mail.subject, 'Accepted: Planning');
    const parts = calendarParts(m.mail);
    assert.equal(parts.contentType, 'text/calendar; method=REPLY; charset=UTF-8');
    const ev = vevent(parts.calendar);
    assert.deepEqual(
      ev.getAllProperties('attendee').map((p) => String(p.getFirstValue()).toLowerCase()),
      ['mailto:bob@example.org'],
    );
  });
});

describe('iMIP rate limit ([scheduling] max_mails_per_hour)', () => {
  let smtp: TestSmtp;
  let server: RunningAlmanac;
  let c: DavClient;
  const logLines: string[] = [];

  before(async () => {
    smtp = await startSmtpServer();
    server = await startAlmanac({
      users: USERS,
      logLines,
      config: {
        scheduling: {
          enabled: 'True',
          email_domain: 'example.org',
          smtp_server: '127.0.0.1',
          smtp_port: String(smtp.port),
          from_email: 'calendar@example.org',
          max_mails_per_hour: '2',
        },
      },
    });
    c = new DavClient(server.url, USERS);
    for (const u of ['alice', 'carol']) assert.equal((await mkcalendar(c, `/${u}/calendar/`, u)).status, 201);
  });
  after(async () => {
    await server.stop();
    await smtp.close();
  });

  it('over the limit a login gets 5.3 and no more mail; another login still sends', async () => {
    const body = event('r1', {
      attendees: [ext('a1@outside.example'), ext('a2@outside.example'), ext('a3@outside.example')],
    });
    assert.equal((await put(c, '/alice/calendar/r1.ics', body)).status, 201);
    assert.equal(smtp.received.length, 2);
    const copy = await stored(server, 'alice/calendar', 'r1.ics');
    const statuses = ['a1', 'a2', 'a3'].map((a) => scheduleStatus(copy, `${a}@outside.example`));
    assert.deepEqual([...statuses].sort(), ['1.1', '1.1', '5.3']);
    assert.ok(
      logLines.some((l) => l.includes('max_mails_per_hour')),
      'a log line says why',
    );
    const again = event('r2', { attendees: [ext('a4@outside.example')] });
    assert.equal((await put(c, '/alice/calendar/r2.ics', again)).status, 201);
    assert.equal(smtp.received.length, 2, 'no further mail');
    assert.equal(
      scheduleStatus(await stored(server, 'alice/calendar', 'r2.ics'), 'a4@outside.example'),
      '5.3',
    );
    const carols = event('r3', {
      organizer: 'mailto:carol@example.org',
      attendees: [ext('a5@outside.example')],
    });
    assert.equal((await put(c, '/carol/calendar/r3.ics', carols, 'carol')).status, 201);
    assert.equal(smtp.received.length, 3);
    assert.deepEqual(smtp.received.at(-1)?.to, ['a5@outside.example']);
  });
});

describe('iMIP with the [hook] smtp_* settings', () => {
  it('an empty [scheduling] smtp_server uses [hook] smtp_server, port and from_email', async () => {
    const smtp = await startSmtpServer();
    const { server, c } = await startServer(
      {},
      { smtp_server: '127.0.0.1', smtp_port: String(smtp.port), from_email: 'hook@example.org' },
    );
    try {
      const r = await put(
        c,
        '/alice/calendar/h1.ics',
        event('h1', { attendees: [ext('uma@outside.example')] }),
      );
      assert.equal(r.status, 201);
      assert.deepEqual(
        smtp.received.map((m) => [m.from, m.to.join(',')]),
        [['hook@example.org', 'uma@outside.example']],
      );
      assert.equal(
        scheduleStatus(await stored(server, 'alice/calendar', 'h1.ics'), 'uma@outside.example'),
        '1.1',
      );
    } finally {
      await server.stop();
      await smtp.close();
    }
  });

  it('smtp_server = none sends nothing even with [hook] settings: 5.1', async () => {
    const smtp = await startSmtpServer();
    const { server, c } = await startServer(
      { smtp_server: 'none' },
      { smtp_server: '127.0.0.1', smtp_port: String(smtp.port), from_email: 'hook@example.org' },
    );
    try {
      const r = await put(
        c,
        '/alice/calendar/h2.ics',
        event('h2', { attendees: [ext('uma@outside.example')] }),
      );
      assert.equal(r.status, 201);
      assert.equal(smtp.received.length, 0);
      assert.equal(
        scheduleStatus(await stored(server, 'alice/calendar', 'h2.ics'), 'uma@outside.example'),
        '5.1',
      );
    } finally {
      await server.stop();
      await smtp.close();
    }
  });
});

describe('iMIP when the SMTP server is down or hangs', () => {
  it('down: 5.1, the PUT succeeds', async () => {
    const port = await freePort();
    const { server, c } = await startServer({
      smtp_server: '127.0.0.1',
      smtp_port: String(port),
      from_email: 'calendar@example.org',
    });
    try {
      const r = await put(
        c,
        '/alice/calendar/d1.ics',
        event('d1', { attendees: [ext('tom@outside.example')] }),
      );
      assert.equal(r.status, 201);
      assert.equal(
        scheduleStatus(await stored(server, 'alice/calendar', 'd1.ics'), 'tom@outside.example'),
        '5.1',
      );
    } finally {
      await server.stop();
    }
  });

  it('silent: the PUT waits no longer than _mail_timeout and records 1.0 (pending)', async () => {
    const silent = await startSilent();
    const { server, c } = await startServer({
      smtp_server: '127.0.0.1',
      smtp_port: String(silent.port),
      from_email: 'calendar@example.org',
      _mail_timeout: '0.5',
    });
    try {
      const started = Date.now();
      const r = await put(
        c,
        '/alice/calendar/s1.ics',
        event('s1', { attendees: [ext('sam@outside.example'), ext('sue@outside.example')] }),
      );
      const took = Date.now() - started;
      assert.equal(r.status, 201);
      assert.ok(took < 5_000, `the PUT took ${took} ms`);
      const copy = await stored(server, 'alice/calendar', 's1.ics');
      assert.equal(scheduleStatus(copy, 'sam@outside.example'), '1.0');
      assert.equal(scheduleStatus(copy, 'sue@outside.example'), '1.0');
    } finally {
      await silent.close();
      await server.stop();
    }
  });
});
