/**
 * `[hook] type = email` delivering to a real SMTP server (the smtp-server package) on loopback: what
 * arrives is parsed (mailparser) and checked against Radicale 3.8's e-mail hook: who gets which mail,
 * subjects, bodies from the default templates, the event.ics attachment, the envelope; mass_email;
 * STARTTLS and implicit TLS with smtp_ssl_verify_mode and a login; an SMTP server that refuses or is
 * down never fails the write.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { SMTPServerOptions } from 'smtp-server';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';
import { freePort } from '../helpers/net.js';
import { startSmtpServer, type ReceivedMail, type TestSmtp } from '../helpers/smtp.js';
import { DavClient, put } from '../integration/helpers/dav-client.js';

/** Waits (bounded) until `list` has at least `n` entries. */
async function atLeast<T>(list: T[], n: number, ms = 15_000): Promise<T[]> {
  const deadline = Date.now() + ms;
  while (list.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(list.length >= n, `expected ${n} mails, got ${list.length}`);
  return list;
}

const FUTURE = `${new Date().getUTCFullYear() + 1}0110`;

function event(
  uid: string,
  opts: { summary: string; attendees: string[]; end?: string; extra?: string[] },
): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20240101T000000Z',
    `DTSTART:${FUTURE}T100000Z`,
    `DTEND:${opts.end ?? `${FUTURE}T110000Z`}`,
    `SUMMARY:${opts.summary}`,
    'LOCATION:Room 1',
    'ORGANIZER;CN=Alice:mailto:alice@example.org',
    ...opts.attendees,
    ...(opts.extra ?? []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

const BOB = 'ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION:mailto:Bob@Example.org';
const CAROL = 'ATTENDEE;CN=Carol:mailto:carol@example.org';
const DAVE = 'ATTENDEE;CN=Dave:mailto:dave@example.org';

const added = (name: string, title: string): string =>
  `Hello ${name},\n\nYou have been added as an attendee to the following calendar event.\n\n` +
  `    ${title}\n    ${FUTURE.slice(0, 4)}-01-10 10:00:00 - ${FUTURE.slice(0, 4)}-01-10 11:00:00\n    Room 1\n\n` +
  'This is an automated message. Please do not reply.';

const bySubjectAndRcpt = (r: ReceivedMail[]): string[] =>
  r.map((m) => `${m.mail.subject ?? ''} -> ${m.to.join(',')}`).sort();

describe('[hook] email with a real SMTP server', () => {
  let smtp: TestSmtp;
  let server: RunningAlmanac;
  let c: DavClient;
  const logLines: string[] = [];

  before(async () => {
    smtp = await startSmtpServer({ refuse: ['nobody@example.org'] });
    server = await startAlmanac({
      logLines,
      config: {
        hook: {
          type: 'email',
          smtp_server: '127.0.0.1',
          smtp_port: String(smtp.port),
          smtp_security: 'none',
          from_email: 'calendar@example.org',
        },
      },
    });
    c = new DavClient(server.url);
    const r = await c.request('MKCALENDAR', '/alice/cal/', { user: 'alice' });
    assert.equal(r.status, 201);
  });
  after(async () => {
    await server?.stop();
    await smtp?.close();
  });

  it('a new event: each attendee gets the "added" mail with the event attached, as Radicale sends it', async () => {
    const ics = event('ev1', { summary: 'Planning', attendees: [BOB, CAROL] });
    assert.equal((await put(c, '/alice/cal/ev1.ics', ics)).status, 201);
    const stored = (await c.request('GET', '/alice/cal/ev1.ics', { user: 'alice' })).text;
    const mails = await atLeast(smtp.received, 2);
    assert.deepEqual(bySubjectAndRcpt(mails), [
      'You have been added to an event -> bob@example.org',
      'You have been added to an event -> carol@example.org',
    ]);
    const bob = mails.find((m) => m.to[0] === 'bob@example.org');
    assert.ok(bob);
    assert.equal(bob.from, 'calendar@example.org', 'envelope sender');
    assert.equal(bob.mail.from?.text, 'calendar@example.org');
    assert.equal(bob.mail.replyTo?.text, 'calendar@example.org');
    assert.equal(bob.mail.to, undefined, 'no To header: the recipients are only in the envelope');
    assert.ok(bob.mail.date instanceof Date);
    assert.match(bob.raw, /^Content-Type: multipart\/mixed/im);
    assert.equal(bob.mail.text?.replace(/\r\n/g, '\n').trimEnd(), added('Bob', 'Planning'));
    assert.equal(bob.mail.attachments.length, 1);
    const att = bob.mail.attachments[0];
    assert.equal(att?.filename, 'event.ics');
    assert.match(bob.raw, /Content-Type: application\/octet-stream\r\nContent-Transfer-Encoding: base64\r\n/);
    assert.match(bob.raw, /Content-Disposition: attachment; filename= event\.ics/);
    assert.equal(att?.content.toString('utf8'), stored, 'the stored event, base64-encoded');
  });

  it('an update: added attendees get "added", removed "deleted" (no attachment), the others "updated"', async () => {
    smtp.received.length = 0;
    const ics = event('ev1', { summary: 'Planning (moved)', attendees: [BOB, DAVE] });
    assert.equal((await put(c, '/alice/cal/ev1.ics', ics)).status, 204);
    const mails = await atLeast(smtp.received, 3);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(bySubjectAndRcpt(mails), [
      'An event you are invited to has been updated -> bob@example.org',
      'An event you were invited to has been deleted -> carol@example.org',
      'You have been added to an event -> dave@example.org',
    ]);
    const year = FUTURE.slice(0, 4);
    const updated = mails.find((m) => m.to[0] === 'bob@example.org');
    assert.equal(
      updated?.mail.text?.replace(/\r\n/g, '\n').trimEnd(),
      `Hello Bob,\nThe following event has been updated.\n    Planning (moved)\n    ${year}-01-10 10:00:00 - ${year}-01-10 11:00:00\n    Room 1\n\nThis is an automated message. Please do not reply.`,
      "Radicale 3.8's default updated template",
    );
    assert.equal(updated?.mail.attachments.length, 1);
    const removed = mails.find((m) => m.to[0] === 'carol@example.org');
    assert.equal(removed?.mail.attachments.length, 0);
    assert.match(removed?.mail.text ?? '', /^Hello Carol,\n\nThe following event has been deleted\./);
  });

  it('only attendees added or removed: the others get nothing', async () => {
    smtp.received.length = 0;
    const ics = event('ev1', { summary: 'Planning (moved)', attendees: [BOB, DAVE, CAROL] });
    assert.equal((await put(c, '/alice/cal/ev1.ics', ics)).status, 204);
    await atLeast(smtp.received, 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(bySubjectAndRcpt(smtp.received), [
      'You have been added to an event -> carol@example.org',
    ]);
  });

  it('an event that ended more than a minute ago: no mail, and the log says why', async () => {
    smtp.received.length = 0;
    const ics = event('past1', { summary: 'Old', attendees: [BOB], end: '20200101T110000Z' }).replace(
      `DTSTART:${FUTURE}T100000Z`,
      'DTSTART:20200101T100000Z',
    );
    assert.equal((await put(c, '/alice/cal/past1.ics', ics)).status, 201);
    // The next change's mail arrives after whatever this one would have sent (in order per collection).
    assert.equal(
      (await put(c, '/alice/cal/later.ics', event('later', { summary: 'L', attendees: [DAVE] }))).status,
      201,
    );
    await atLeast(smtp.received, 1);
    assert.deepEqual(bySubjectAndRcpt(smtp.received), [
      'You have been added to an event -> dave@example.org',
    ]);
    assert.ok(
      logLines.some((l) =>
        l.includes('Event end time is in the past, skipping notification for event: past1'),
      ),
    );
  });

  it('to-dos and PROPPATCH send nothing; DELETE of an event sends "deleted" to every attendee', async () => {
    smtp.received.length = 0;
    const todo = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//t//EN',
      'BEGIN:VTODO',
      'UID:todo1',
      'DTSTAMP:20240101T000000Z',
      'SUMMARY:T',
      BOB,
      'END:VTODO',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    assert.equal((await put(c, '/alice/cal/todo1.ics', todo)).status, 201);
    const pp = await c.request('PROPPATCH', '/alice/cal/', {
      user: 'alice',
      body: '<propertyupdate xmlns="DAV:"><set><prop><displayname>X</displayname></prop></set></propertyupdate>',
    });
    assert.equal(pp.status, 207);
    assert.equal((await c.request('DELETE', '/alice/cal/ev1.ics', { user: 'alice' })).status, 200);
    const mails = await atLeast(smtp.received, 3);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(bySubjectAndRcpt(mails), [
      'An event you were invited to has been deleted -> bob@example.org',
      'An event you were invited to has been deleted -> carol@example.org',
      'An event you were invited to has been deleted -> dave@example.org',
    ]);
    assert.ok(mails.every((m) => m.mail.attachments.length === 0));
  });

  it('a recipient the SMTP server refuses is logged; the write succeeds and the other mails go out', async () => {
    smtp.received.length = 0;
    const nobody = 'ATTENDEE;CN=Nobody:mailto:nobody@example.org';
    const r = await put(c, '/alice/cal/ref.ics', event('ref', { summary: 'R', attendees: [nobody, BOB] }));
    assert.equal(r.status, 201);
    await atLeast(smtp.received, 1);
    for (let i = 0; i < 100 && !logLines.some((l) => l.includes('nobody@example.org')); i++)
      await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(bySubjectAndRcpt(smtp.received), ['You have been added to an event -> bob@example.org']);
    assert.ok(logLines.some((l) => l.includes("Hook 'email'") && l.includes('nobody@example.org')));
  });
});

describe('[hook] email: mass_email, TLS, login, templates, an SMTP server that is down', () => {
  let certs: TestCertificates;
  before(() => {
    certs = makeTestCertificates();
  });
  after(() => certs.cleanup());

  const run = async (
    hook: Record<string, string>,
    smtpOptions: Partial<SMTPServerOptions>,
    body: (c: DavClient, smtp: TestSmtp, logLines: string[]) => Promise<void>,
  ): Promise<void> => {
    const smtp = await startSmtpServer({ options: smtpOptions });
    const logLines: string[] = [];
    const server = await startAlmanac({
      logLines,
      config: {
        hook: {
          type: 'email',
          smtp_server: '127.0.0.1',
          smtp_port: String(smtp.port),
          from_email: 'calendar@example.org',
          ...hook,
        },
      },
    });
    try {
      const c = new DavClient(server.url);
      assert.equal((await c.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
      await body(c, smtp, logLines);
    } finally {
      await server.stop();
      await smtp.close();
    }
  };

  it('mass_email: one mail to all attendees ("everyone"); with one attendee the personal mail', async () => {
    await run({ mass_email: 'True' }, {}, async (c, smtp) => {
      assert.equal(
        (await put(c, '/alice/cal/m.ics', event('m', { summary: 'M', attendees: [BOB, CAROL] }))).status,
        201,
      );
      const [mail] = await atLeast(smtp.received, 1);
      assert.deepEqual(mail?.to.sort(), ['bob@example.org', 'carol@example.org']);
      assert.match(mail?.mail.text ?? '', /^Hello everyone,/);
      assert.equal(mail?.mail.to, undefined);
      smtp.received.length = 0;
      assert.equal(
        (await put(c, '/alice/cal/one.ics', event('one', { summary: 'O', attendees: [CAROL] }))).status,
        201,
      );
      const [single] = await atLeast(smtp.received, 1);
      assert.deepEqual(single?.to, ['carol@example.org']);
      assert.match(single?.mail.text ?? '', /^Hello Carol,/);
    });
  });

  it('starttls with a login; smtp_ssl_verify_mode NONE accepts a self-signed certificate', async () => {
    const tls = { key: readFileSync(certs.selfSignedKey), cert: readFileSync(certs.selfSignedCert) };
    await run(
      {
        smtp_security: 'starttls',
        smtp_ssl_verify_mode: 'NONE',
        smtp_username: 'mailer',
        smtp_password: 's3cret',
      },
      tls,
      async (c, smtp) => {
        assert.equal(
          (await put(c, '/alice/cal/s.ics', event('s', { summary: 'S', attendees: [BOB] }))).status,
          201,
        );
        const [mail] = await atLeast(smtp.received, 1);
        assert.deepEqual(mail?.to, ['bob@example.org']);
        assert.deepEqual(smtp.logins, ['mailer:s3cret']);
      },
    );
  });

  it('smtp_ssl_verify_mode REQUIRED refuses a self-signed certificate: nothing sent, logged, the write succeeds', async () => {
    const tls = { key: readFileSync(certs.selfSignedKey), cert: readFileSync(certs.selfSignedCert) };
    await run(
      { smtp_security: 'starttls', smtp_ssl_verify_mode: 'REQUIRED' },
      tls,
      async (c, smtp, logLines) => {
        assert.equal(
          (await put(c, '/alice/cal/r.ics', event('r', { summary: 'R', attendees: [BOB] }))).status,
          201,
        );
        for (let i = 0; i < 500 && !logLines.some((l) => l.includes('SMTP error')); i++)
          await new Promise((res) => setTimeout(res, 20));
        assert.ok(logLines.some((l) => l.includes("Hook 'email': SMTP error occurred")));
        assert.equal(smtp.received.length, 0);
      },
    );
  });

  it('tls (implicit TLS) delivers', async () => {
    const tls = {
      secure: true,
      key: readFileSync(certs.selfSignedKey),
      cert: readFileSync(certs.selfSignedCert),
    };
    await run({ smtp_security: 'tls', smtp_ssl_verify_mode: 'NONE' }, tls, async (c, smtp) => {
      assert.equal(
        (await put(c, '/alice/cal/t.ics', event('t', { summary: 'T', attendees: [BOB] }))).status,
        201,
      );
      const [mail] = await atLeast(smtp.received, 1);
      assert.equal(mail?.mail.subject, 'You have been added to an event');
    });
  });

  it('a custom template is filled; a template with an unknown $word means no hook, with a warning', async () => {
    await run(
      { new_or_added_to_event_template: 'Hi $attendee_name: $event_title by $organizer_name ($from_email)' },
      {},
      async (c, smtp) => {
        assert.equal(
          (await put(c, '/alice/cal/x.ics', event('x', { summary: 'X', attendees: [BOB] }))).status,
          201,
        );
        const [mail] = await atLeast(smtp.received, 1);
        assert.equal(
          mail?.mail.text?.trimEnd(),
          'Hi Bob: X by mailto:alice@example.org (calendar@example.org)',
        );
      },
    );
    await run(
      { new_or_added_to_event_template: 'Hi $attendee $event_name' },
      {},
      async (c, smtp, logLines) => {
        assert.ok(
          logLines.some((l) => l.includes('new_or_added_to_event_template uses $attendee, $event_name')),
          logLines.join('\n'),
        );
        assert.equal(
          (await put(c, '/alice/cal/y.ics', event('y', { summary: 'Y', attendees: [BOB] }))).status,
          201,
        );
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(smtp.received.length, 0);
      },
    );
  });

  it('an SMTP server that is down: the write succeeds, the failure is logged', async () => {
    const port = await freePort();
    const logLines: string[] = [];
    const server = await startAlmanac({
      logLines,
      config: {
        hook: {
          type: 'email',
          smtp_server: '127.0.0.1',
          smtp_port: String(port),
          from_email: 'c@example.org',
        },
      },
    });
    try {
      const c = new DavClient(server.url);
      assert.equal((await c.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
      assert.equal(
        (await put(c, '/alice/cal/d.ics', event('d', { summary: 'D', attendees: [BOB] }))).status,
        201,
      );
      for (let i = 0; i < 500 && !logLines.some((l) => l.includes('SMTP error')); i++)
        await new Promise((res) => setTimeout(res, 20));
      assert.ok(logLines.some((l) => l.includes("Hook 'email': SMTP error occurred")));
    } finally {
      await server.stop();
    }
  });
});
