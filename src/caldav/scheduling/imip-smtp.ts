/**
 * iMIP (RFC 6047) by SMTP: the Mailer that sends the iTIP messages for calendar users outside this
 * server, through the shared SMTP transport (src/mail/smtp.ts).
 *
 * Where the connection comes from: `[scheduling] smtp_server` set → every `smtp_*` option of
 * `[scheduling]`; empty → every `smtp_*` option of `[hook]` (whatever `[hook] type` is); `none` → no
 * mail. The envelope sender is `[scheduling] from_email`, else `[hook] from_email`.
 *
 * A message is one mail to one recipient, who must be written in the message itself (an ATTENDEE of
 * a REQUEST or CANCEL, the ORGANIZER of a REPLY): multipart/mixed of a multipart/alternative (a
 * text/plain summary and the iTIP message as `text/calendar; method=...; charset=UTF-8`) and the same
 * message as the attachment `invite.ics` (`application/ics`). From and Reply-To are the organizer
 * (the attendee for a REPLY), Sender and MAIL FROM the server's from_email.
 *
 * `send` never throws and waits at most `_mail_timeout` seconds: 1.1 when the SMTP server took the
 * mail, 5.1 when it refused it or could not be reached, 5.3 over `max_mails_per_hour` of the login
 * that caused it, 1.0 (pending) when the SMTP server has not answered in time (the mail goes on in
 * the background and its outcome is logged).
 */
import ICAL from 'ical.js';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { DavRequest } from '../../dav/context.js';
import type { SchedulingSettings } from './settings.js';
import {
  createSmtpTransport,
  type SmtpOptions,
  type SmtpSecurity,
  type SmtpVerifyMode,
} from '../../mail/smtp.js';
import { mailOf } from './addresses.js';
import { NO_MAILER, type Mailer, type OutgoingMessage } from './imip.js';

export interface ImipOptions {
  readonly smtp: SmtpOptions;
  /** The envelope sender (MAIL FROM) and Sender header. */
  readonly fromEmail: string;
  /** Mails one login may cause per rolling hour; 0 = no limit. */
  readonly maxPerHour: number;
  /** Milliseconds `send` waits for the SMTP server. */
  readonly timeoutMs: number;
}

/** The iMIP settings of a configuration: options, none (no SMTP server), or why they cannot be used. */
export function imipSettings(
  config: Config,
): { readonly options: ImipOptions } | { readonly problem: string } | undefined {
  const s = config.scheduling;
  const h = config.hook;
  const server = s.smtp_server.trim();
  if (server.toLowerCase() === 'none') return undefined;
  const own = server !== '';
  const smtp: SmtpOptions = own
    ? {
        server,
        port: s.smtp_port.trim(),
        security: (s.smtp_security || 'none') as SmtpSecurity,
        verifyMode: (s.smtp_ssl_verify_mode || 'REQUIRED') as SmtpVerifyMode,
        username: s.smtp_username,
        password: s.smtp_password,
      }
    : {
        server: h.smtp_server.trim(),
        port: h.smtp_port.trim(),
        security: h.smtp_security as SmtpSecurity,
        verifyMode: h.smtp_ssl_verify_mode as SmtpVerifyMode,
        username: h.smtp_username,
        password: h.smtp_password,
      };
  if (smtp.server === '') return undefined;
  const section = own ? '[scheduling]' : '[hook]';
  if (smtp.port !== '' && !/^\d+$/.test(smtp.port))
    return { problem: `${section} smtp_port is not a number` };
  const fromEmail = (s.from_email.trim() || h.from_email.trim()).replace(/^mailto:/i, '');
  if (mailOf(fromEmail) === undefined) {
    return { problem: `no from_email in [scheduling] or [hook] (the envelope sender of iMIP mail)` };
  }
  return {
    options: {
      smtp,
      fromEmail,
      maxPerHour: Math.max(0, s.max_mails_per_hour),
      timeoutMs: Math.max(0, s._mail_timeout * 1000),
    },
  };
}

/**
 * The Mailer the settings ask for: SMTP, or NO_MAILER (every external attendee gets 5.1); NO_MAILER
 * too without scheduling settings (`[scheduling] enabled = False`).
 */
export function createMailer(scheduling: SchedulingSettings | undefined, log: Logger): Mailer {
  if (scheduling === undefined) return NO_MAILER;
  const settings = scheduling.imip;
  if (settings === undefined) {
    log.info('Scheduling: no SMTP server configured, attendees outside this server get no mail (iMIP)');
    return NO_MAILER;
  }
  if ('problem' in settings) {
    log.warn(`Scheduling: ${settings.problem}; attendees outside this server get no mail (iMIP)`);
    return NO_MAILER;
  }
  const { smtp, fromEmail, maxPerHour } = settings.options;
  log.info(
    `Scheduling: iMIP mail through SMTP ${smtp.server}${smtp.port !== '' ? `:${smtp.port}` : ''} ` +
      `(${smtp.security}), from ${fromEmail}, at most ${maxPerHour === 0 ? 'unlimited' : maxPerHour} per login and hour`,
  );
  return new SmtpMailer(settings.options);
}

const HOUR = 3_600_000;

/** The people and words of an iTIP message that a mail is made of. */
interface MessageView {
  readonly summary: string;
  readonly kind: 'event' | 'task' | 'journal' | 'item';
  readonly organizer: { readonly mail: string | undefined; readonly name: string | undefined };
  /** mail → CN of each ATTENDEE. */
  readonly attendees: ReadonlyMap<string, string | undefined>;
  readonly when: string | undefined;
  readonly location: string | undefined;
  readonly description: string | undefined;
  /** The PARTSTAT of the (one) attendee of a REPLY. */
  readonly partstat: string | undefined;
}

/** The text with every run of control characters (line breaks, tabs) as one space. */
// eslint-disable-next-line no-control-regex -- control characters are what it removes
const CONTROL = /[\u0000-\u001f\u007f]+/g;
const oneLine = (s: string): string => s.replace(CONTROL, ' ').trim();

function stringParam(property: ICAL.Property, name: string): string | undefined {
  const v: unknown = property.getParameter(name);
  return typeof v === 'string' && v.trim() !== '' ? oneLine(v) : undefined;
}

function textOf(c: ICAL.Component, name: string): string | undefined {
  const v: unknown = c.getFirstPropertyValue(name);
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** A DTSTART/DTEND as a person reads it: 2025-03-10 10:00 UTC, 10:00 (Europe/Berlin), or a date. */
function timeText(c: ICAL.Component, name: string): string | undefined {
  const prop = c.getFirstProperty(name);
  const t: unknown = prop?.getFirstValue();
  if (!prop || !(t instanceof ICAL.Time)) return undefined;
  const date = `${String(t.year).padStart(4, '0')}-${pad(t.month)}-${pad(t.day)}`;
  if (t.isDate) return date;
  const tzid = stringParam(prop, 'tzid');
  const zone = t.zone?.tzid === 'UTC' ? ' UTC' : tzid !== undefined ? ` (${tzid})` : '';
  return `${date} ${pad(t.hour)}:${pad(t.minute)}${zone}`;
}

function readMessage(text: string): MessageView | undefined {
  let vcal: ICAL.Component;
  try {
    vcal = new ICAL.Component(ICAL.parse(text) as unknown[]);
  } catch {
    return undefined;
  }
  const comps = ['vevent', 'vtodo', 'vjournal'].flatMap((n) => vcal.getAllSubcomponents(n));
  const first = comps.find((c) => !c.hasProperty('recurrence-id')) ?? comps[0];
  if (!first) return undefined;
  const attendees = new Map<string, string | undefined>();
  for (const c of comps) {
    for (const attendee of c.getAllProperties('attendee')) {
      const mail = mailOf(String(attendee.getFirstValue()));
      if (mail !== undefined && !attendees.has(mail)) attendees.set(mail, stringParam(attendee, 'cn'));
    }
  }
  const org = comps.map((c) => c.getFirstProperty('organizer')).find((p) => p !== null);
  const start = timeText(first, 'dtstart');
  const end = timeText(first, 'dtend') ?? timeText(first, 'due');
  const firstAttendee = first.getFirstProperty('attendee');
  return {
    summary: oneLine(textOf(first, 'summary') ?? ''),
    kind: first.name === 'vevent' ? 'event' : first.name === 'vtodo' ? 'task' : 'journal',
    organizer: {
      mail: org ? mailOf(String(org.getFirstValue())) : undefined,
      name: org ? stringParam(org, 'cn') : undefined,
    },
    attendees,
    when: start !== undefined && end !== undefined ? `${start} - ${end}` : (start ?? end),
    location: textOf(first, 'location'),
    description: textOf(first, 'description'),
    partstat: firstAttendee
      ? (stringParam(firstAttendee, 'partstat') ?? 'NEEDS-ACTION').toUpperCase()
      : undefined,
  };
}

const REPLY_WORDS: Readonly<Record<string, string>> = {
  ACCEPTED: 'Accepted',
  DECLINED: 'Declined',
  TENTATIVE: 'Tentative',
  DELEGATED: 'Delegated',
};

/** Subject and text/plain body of the mail of a message. */
export function mailWords(
  method: OutgoingMessage['method'],
  v: MessageView,
  sender: string,
): { subject: string; body: string } {
  const title = v.summary !== '' ? v.summary : `(untitled ${v.kind})`;
  const details = [
    `    ${title}`,
    ...(v.when !== undefined ? [`    When: ${v.when}`] : []),
    ...(v.location !== undefined ? [`    Where: ${oneLine(v.location)}`] : []),
  ];
  const description = v.description !== undefined ? ['', v.description] : [];
  let subject: string;
  let intro: string;
  if (method === 'CANCEL') {
    subject = `Cancelled: ${title}`;
    intro = `${sender} has cancelled this ${v.kind}:`;
  } else if (method === 'REPLY') {
    const word = REPLY_WORDS[v.partstat ?? ''] ?? 'Reply';
    subject = `${word}: ${title}`;
    intro = `${sender} has answered your invitation (${(v.partstat ?? 'NEEDS-ACTION').toLowerCase()}):`;
  } else {
    subject = title;
    intro = `${sender} invites you to this ${v.kind}:`;
  }
  const body = [
    intro,
    '',
    ...details,
    ...description,
    '',
    'The invitation is attached as an iCalendar file (invite.ics) for your calendar program.',
    '',
  ].join('\n');
  return { subject, body };
}

interface SentMail {
  readonly accepted?: unknown[];
  readonly rejected?: unknown[];
}

class SmtpMailer implements Mailer {
  readonly configured = true;
  private readonly transport: Transporter;
  /** Per login, the times (ms) of the mails it caused in the last hour, oldest first. */
  private readonly sent = new Map<string, number[]>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: ImipOptions) {
    // Shorter than the hook's: a PUT waits for these (at most timeoutMs), the rest goes on unwaited.
    this.transport = createSmtpTransport(options.smtp, {
      connection: 15_000,
      greeting: 15_000,
      socket: 30_000,
    });
  }

  /** Counts one mail for `login`, or says that its hour is full. */
  private allow(login: string, now: number): boolean {
    if (this.options.maxPerHour === 0) return true;
    const times = (this.sent.get(login) ?? []).filter((t) => t > now - HOUR);
    if (times.length >= this.options.maxPerHour) {
      this.sent.set(login, times);
      return false;
    }
    times.push(now);
    this.sent.set(login, times);
    // Logins whose hour is over are forgotten (the map holds only those who mailed lately).
    for (const [user, ts] of this.sent) if ((ts.at(-1) ?? 0) <= now - HOUR) this.sent.delete(user);
    return true;
  }

  async send(req: DavRequest, m: OutgoingMessage): Promise<string> {
    try {
      return await this.deliver(req, m);
    } catch (err) {
      req.log.error({ err }, `scheduling: iMIP ${m.method} to ${m.to} failed: ${String(err)}`);
      return '5.1';
    }
  }

  private async deliver(req: DavRequest, m: OutgoingMessage): Promise<string> {
    const log = req.log;
    const to = mailOf(m.to);
    const view = readMessage(m.text);
    if (to === undefined || view === undefined) {
      log.warn(`scheduling: iMIP ${m.method} to ${m.to}: no mail address or no message, not sent`);
      return '5.1';
    }
    // Only to someone the message itself names as its recipient.
    const named = m.method === 'REPLY' ? view.organizer.mail === to : view.attendees.has(to);
    if (!named) {
      log.warn(`scheduling: iMIP ${m.method} to ${to}: not named in the message, not sent`);
      return '5.1';
    }
    const login = req.user ?? '';
    if (!this.allow(login, Date.now())) {
      log.warn(
        `scheduling: ${login || 'anonymous'} has caused ${this.options.maxPerHour} iMIP mails in the last hour ` +
          `([scheduling] max_mails_per_hour), ${m.method} to ${to} not sent (5.3)`,
      );
      return '5.3';
    }
    // From: the organizer (for a REPLY the attendee), who must be a mail address; else the server.
    const fromMail = mailOf(m.from) ?? this.options.fromEmail;
    const fromName = m.method === 'REPLY' ? view.attendees.get(fromMail) : view.organizer.name;
    const from = fromName !== undefined ? { name: fromName, address: fromMail } : fromMail;
    const toName = m.method === 'REPLY' ? view.organizer.name : view.attendees.get(to);
    const { subject, body } = mailWords(m.method, view, fromName ?? fromMail);
    const ics = m.text.replace(/\r?\n/g, '\r\n');
    const sending = (
      this.transport.sendMail({
        from,
        sender: this.options.fromEmail,
        replyTo: from,
        to: toName !== undefined ? { name: toName, address: to } : to,
        subject,
        text: body,
        alternatives: [
          {
            contentType: `text/calendar; method=${m.method}; charset=UTF-8`,
            content: ics,
          },
        ],
        attachments: [{ filename: 'invite.ics', contentType: 'application/ics', content: ics }],
        envelope: { from: this.options.fromEmail, to: [to] },
      }) as Promise<SentMail>
    ).then(
      (info) => {
        if ((info.rejected ?? []).length > 0 || (info.accepted ?? []).length === 0) {
          log.warn(`scheduling: the SMTP server refused the iMIP ${m.method} to ${to} (5.1)`);
          return '5.1';
        }
        log.info(`scheduling: iMIP ${m.method} sent to ${to} (1.1)`);
        return '1.1';
      },
      (err: unknown) => {
        log.warn(`scheduling: iMIP ${m.method} to ${to} not sent (5.1): ${String(err)}`);
        return '5.1';
      },
    );
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('1.0'), this.options.timeoutMs);
    });
    const status = await Promise.race([sending, late]);
    clearTimeout(timer);
    if (status === '1.0') {
      log.warn(
        `scheduling: the SMTP server has not taken the iMIP ${m.method} to ${to} within ` +
          `${this.options.timeoutMs / 1000} s; recorded as pending (1.0), still sending`,
      );
    }
    return status;
  }

  async close(): Promise<void> {
    // Mails still being sent are given their SMTP timeouts to finish.
    await Promise.allSettled([...this.inFlight]);
    this.transport.close();
  }
}
