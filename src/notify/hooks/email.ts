/**
 * `[hook] type = email`: Radicale 3.8's e-mail hook (radicale/hook/email), sent with nodemailer.
 *
 * Only events are mailed, to the ATTENDEEs of the first VEVENT (by the `mailto:` address, lower-cased):
 * - upsert of an event whose DTEND is more than a minute in the past (a date: before today): nothing;
 * - upsert without old text (or an old text that is no event): the "added" mail to every attendee;
 * - otherwise added attendees get "added", removed ones "deleted", and those in both "updated", the
 *   last only when summary, description, location, start, end, duration, status or organizer changed;
 * - delete of an event: "deleted" to every attendee;
 * - PROPPATCH (cpatch), to-dos, journals and cards: nothing.
 * "added" and "updated" mails carry the event as `event.ics`. Subjects are fixed; bodies come from the
 * three templates with $organizer_name, $from_email, $attendee_name, $event_title, $event_start_time,
 * $event_end_time and $event_location (any other $word: the hook does not load). One mail per
 * attendee, or with mass_email one mail to all of them ("everyone") when there are several. The
 * recipients are only in the SMTP envelope, as Radicale's (no To header).
 *
 * Mails are sent after the write, from the change listener: a slow or failing SMTP server delays no
 * request; what it refuses is logged.
 */
import ICAL from 'ical.js';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Change } from '../changes.js';
import { ZoneResolver, tzidOf } from '../../caldav/timezones.js';
import { hookItems, type HookItem } from './notification.js';
import { pyStrRepr } from '../../compat/python/repr.js';
import { createSmtpTransport, type SmtpOptions } from '../../mail/smtp.js';

export const TEMPLATE_VARIABLES = [
  'organizer_name',
  'from_email',
  'attendee_name',
  'event_title',
  'event_start_time',
  'event_end_time',
  'event_location',
] as const;

export const SUBJECTS = {
  added: 'You have been added to an event',
  deleted: 'An event you were invited to has been deleted',
  updated: 'An event you are invited to has been updated',
} as const;

type MailKind = keyof typeof SUBJECTS;

export interface EmailOptions extends SmtpOptions {
  readonly fromEmail: string;
  readonly massEmail: boolean;
  readonly dryrun: boolean;
  readonly templates: Readonly<Record<MailKind, string>>;
  readonly log: Logger;
}

/** The $words of a template that are not placeholders (Radicale refuses to load the hook then). */
export function unknownTemplateVariables(template: string): string[] {
  const known = new Set<string>(TEMPLATE_VARIABLES);
  return [...template.matchAll(/\$(\w+)/g)].map((m) => m[1] ?? '').filter((v) => !known.has(v));
}

/** Radicale's extract_email: the mailto: address, or the whole value when it holds an @. */
export function extractEmail(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.trim().toLowerCase();
  const m = /mailto:([^;]+)/.exec(v);
  if (m?.[1]) return m[1];
  return v.includes('@') ? v : undefined;
}

interface Attendee {
  readonly email: string | undefined;
  readonly name: string | null;
}

interface EventInfo {
  readonly uid: string | null;
  readonly summary: string | null;
  readonly description: string | null;
  readonly location: string | null;
  readonly status: string | null;
  readonly organizer: string | null;
  readonly duration: string | null;
  readonly start: string | null;
  readonly end: string | null;
  /** POSIX seconds of DTEND for a date-time; the YYYY-MM-DD of a date; undefined without DTEND. */
  readonly endAt: { readonly seconds: number } | { readonly date: string } | undefined;
  readonly attendees: readonly Attendee[];
}

function text(c: ICAL.Component, name: string): string | null {
  const v: unknown = c.getFirstPropertyValue(name);
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : (c.getFirstProperty(name)?.toICALString() ?? null);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** strftime("%Y-%m-%d %H:%M:%S") of the value as written (a date gives 00:00:00). */
function timeString(t: ICAL.Time): string {
  const time = t.isDate ? '00:00:00' : `${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}`;
  return `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)} ${time}`;
}

/** The first VEVENT of an iCalendar text, or undefined (no event, or not parseable). */
export function readEvent(ics: string | null | undefined): EventInfo | undefined {
  if (!ics) return undefined;
  let vcal: ICAL.Component;
  try {
    vcal = new ICAL.Component(ICAL.parse(ics) as unknown[]);
  } catch {
    return undefined;
  }
  if (vcal.name !== 'vcalendar') return undefined;
  const ev = vcal.getFirstSubcomponent('vevent');
  if (!ev) return undefined;
  const timeOf = (name: string): { t: ICAL.Time; prop: ICAL.Property } | undefined => {
    const prop = ev.getFirstProperty(name);
    const t: unknown = prop?.getFirstValue();
    return prop && t instanceof ICAL.Time ? { t, prop } : undefined;
  };
  const start = timeOf('dtstart');
  const end = timeOf('dtend');
  let endAt: EventInfo['endAt'];
  if (end) {
    if (end.t.isDate) endAt = { date: timeString(end.t).slice(0, 10) };
    else endAt = { seconds: new ZoneResolver(vcal).toUtc(end.t, tzidOf(end.prop)) };
  }
  const durationValue: unknown = ev.getFirstProperty('duration')?.getFirstValue();
  return {
    uid: text(ev, 'uid'),
    summary: text(ev, 'summary'),
    description: text(ev, 'description'),
    location: text(ev, 'location'),
    status: text(ev, 'status'),
    organizer: text(ev, 'organizer'),
    duration: durationValue instanceof ICAL.Duration ? durationValue.toString() : null,
    start: start ? timeString(start.t) : null,
    end: end ? timeString(end.t) : null,
    endAt,
    attendees: ev.getAllProperties('attendee').flatMap((attendee) => {
      const v: unknown = attendee.getFirstValue();
      if (typeof v !== 'string') return [];
      const cn: unknown = attendee.getParameter('cn');
      return [{ email: extractEmail(v), name: typeof cn === 'string' ? cn : null }];
    }),
  };
}

/** Radicale skips events that ended more than a minute ago (a date-only end: before today). */
export function endedInThePast(ev: EventInfo, now = new Date()): boolean {
  const end = ev.endAt;
  if (!end) return false;
  if ('date' in end) {
    const today = `${pad(now.getFullYear(), 4)}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
    return end.date < today;
  }
  return end.seconds * 1000 < now.getTime() - 60_000;
}

function detailsChanged(a: EventInfo, b: EventInfo): boolean {
  const key = (e: EventInfo): string =>
    JSON.stringify([e.summary, e.description, e.location, e.start, e.end, e.duration, e.status, e.organizer]);
  return key(a) !== key(b);
}

/** Python's repr() of a str or None, for the dry-run log line Radicale writes. */
function pyRepr(v: string | null): string {
  return v === null ? 'None' : pyStrRepr(v);
}

function itemRepr(i: HookItem): string {
  const fields: [string, string | null][] = [
    ['type', i.type],
    ['point', i.point],
    ['content', i.content],
    ['content_type', i.content_type],
    ['uid', i.uid],
    ['new_content', i.new_content],
    ['old_content', i.old_content],
    ['actor', i.actor],
  ];
  return `{${fields.map(([k, v]) => `'${k}': ${pyRepr(v)}`).join(', ')}}`;
}

/** Base64 in lines of 76 characters, as Python's email encoders write it. */
function base64Lines(s: string): string {
  const b = Buffer.from(s, 'utf8').toString('base64');
  return (b.match(/.{1,76}/g) ?? []).join('\r\n');
}

export class EmailHook {
  private readonly transport: Transporter | undefined;

  constructor(private readonly options: EmailOptions) {
    if (options.dryrun) return;
    this.transport = createSmtpTransport(options);
  }

  readonly listener = async (change: Change): Promise<void> => {
    for (const item of hookItems(change)) await this.process(item);
  };

  /** One Radicale notification item (its email hook's _process_event_and_notify). */
  async process(item: HookItem): Promise<void> {
    const log = this.options.log;
    if (this.options.dryrun) log.warn(`Hook 'email': DRY-RUN received notification_item: ${itemRepr(item)}`);
    else log.debug(`Hook 'email': received a ${item.type} notification`);
    if (item.type === 'cpatch') return;
    if ((item.content_type ?? '').trim().toUpperCase() !== 'VCALENDAR') return;
    if (item.type === 'delete') {
      const old = readEvent(item.old_content);
      if (!old) return;
      await this.mail('deleted', old.attendees, old, undefined);
      return;
    }
    const ev = readEvent(item.new_content);
    if (!ev) {
      log.debug("Hook 'email': no event in the item, no notification");
      return;
    }
    if (endedInThePast(ev)) {
      log.warn(`Event end time is in the past, skipping notification for event: ${ev.uid ?? ''}`);
      return;
    }
    const ics = item.new_content ?? '';
    const previous = item.old_content ? readEvent(item.old_content) : undefined;
    if (!previous) {
      if (item.old_content) log.warn('Previous event content could not be parsed, treating as a new event.');
      else log.info(`New event detected, sending notifications to all attendees: ${ev.uid ?? ''}`);
      await this.mail('added', ev.attendees, ev, ics);
      return;
    }
    const before = new Map(previous.attendees.map((a) => [a.email, a]));
    const after = new Map(ev.attendees.map((a) => [a.email, a]));
    const added = [...after].filter(([e]) => !before.has(e)).map(([, a]) => a);
    const removed = [...before].filter(([e]) => !after.has(e)).map(([, a]) => a);
    const unchanged = [...before].filter(([e]) => after.has(e)).map(([, a]) => a);
    if (added.length > 0) await this.mail('added', added, ev, ics);
    if (removed.length > 0) await this.mail('deleted', removed, ev, undefined);
    if (unchanged.length > 0 && detailsChanged(previous, ev)) await this.mail('updated', unchanged, ev, ics);
  }

  private fill(kind: MailKind, ev: EventInfo, attendeeName: string | null): string {
    // In the order of Radicale's context dict, which is the order it replaces them in.
    const values: [string, string | null][] = [
      ['attendee_name', attendeeName],
      ['from_email', this.options.fromEmail],
      ['organizer_name', ev.organizer || 'Unknown Organizer'],
      ['event_title', ev.summary || 'No Title'],
      ['event_start_time', ev.start ?? 'No Start Time'],
      ['event_end_time', ev.end ?? 'No End Time'],
      ['event_location', ev.location || 'No Location Specified'],
    ];
    // Plain string replacement, one placeholder after the other, as Radicale's (None becomes "").
    let body = this.options.templates[kind];
    for (const [key, value] of values) body = body.split(`$${key}`).join(value ?? '');
    return body;
  }

  private async mail(
    kind: MailKind,
    attendees: readonly Attendee[],
    ev: EventInfo,
    ics: string | undefined,
  ): Promise<void> {
    const mass = this.options.massEmail && attendees.length > 1;
    const groups: { to: Attendee[]; name: string | null }[] = mass
      ? [{ to: [...attendees], name: 'everyone' }]
      : attendees.map((a) => ({ to: [a], name: a.name }));
    let failed = false;
    for (const g of groups) {
      const to = g.to.flatMap((a) => (a.email ? [a.email] : []));
      if (to.length === 0) {
        this.options.log.warn('No valid email addresses found in attendees. Cannot send email.');
        failed = true;
        continue;
      }
      if (!(await this.send(to, SUBJECTS[kind], this.fill(kind, ev, g.name), ics))) failed = true;
    }
    if (failed)
      this.options.log.error(
        `Failed to send some or all ${kind} email notifications for event: ${ev.uid ?? ''}`,
      );
  }

  private async send(to: string[], subject: string, body: string, ics: string | undefined): Promise<boolean> {
    const log = this.options.log;
    if (this.options.dryrun || !this.transport) {
      // Radicale logs the recipients as a warning, and subject and body at notice level.
      log.warn(`Hook 'email': DRY-RUN _send_email / to_addresses=${JSON.stringify(to)}`);
      const notice = (log as unknown as { notice?: (msg: string) => void }).notice;
      const line = `Hook 'email': DRY-RUN subject: ${subject}\n${body}`;
      if (notice) notice.call(log, line);
      else log.info(line);
      return true;
    }
    try {
      const info = (await this.transport.sendMail({
        from: this.options.fromEmail,
        replyTo: this.options.fromEmail,
        subject,
        text: body,
        envelope: { from: this.options.fromEmail, to },
        ...(ics !== undefined
          ? {
              attachments: [
                {
                  // Radicale's part, headers as its MIMEBase writes them (with the space after "=").
                  raw:
                    'Content-Type: application/octet-stream\r\n' +
                    'Content-Transfer-Encoding: base64\r\n' +
                    'Content-Disposition: attachment; filename= event.ics\r\n\r\n' +
                    base64Lines(ics),
                },
              ],
            }
          : {}),
      })) as { rejected?: unknown[] };
      const rejected = (info.rejected ?? []).map(String);
      for (const r of rejected) log.error(`Hook 'email': failed to send email to ${r}`);
      log.debug(`Hook 'email': email sent to ${to.join(', ')}`);
      return rejected.length === 0;
    } catch (err) {
      log.error({ err }, `Hook 'email': SMTP error occurred (to ${to.join(', ')}): ${String(err)}`);
      return false;
    }
  }

  async close(): Promise<void> {
    this.transport?.close();
    await Promise.resolve();
  }
}
