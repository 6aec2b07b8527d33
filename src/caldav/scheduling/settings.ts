/**
 * The settings CalDAV scheduling reads, taken from the configuration once at start-up
 * (`schedulingSettings`, called by the composition root, cli/start.ts, with `[scheduling] enabled`):
 * the scheduling plugin and the iMIP mailer are built from them, and no scheduling code reads the
 * `Config` of a request.
 */
import type { Config } from '../../config/schema.js';
import { calendarUserAddresses, type CalendarUserAddresses } from './addresses.js';
import { imipSettings } from './imip-smtp.js';

export interface SchedulingSettings {
  /** `[scheduling] addresses` and `email_domain`: which addresses are whose. */
  readonly addresses: CalendarUserAddresses;
  /** `[scheduling] default_calendar`: the calendar made for invitations when a user has none. */
  readonly defaultCalendar: string;
  /** `[reporting] max_freebusy_occurrence`: the occurrences of one attendee's free-busy answer. */
  readonly maxFreebusyOccurrence: number;
  /** The iMIP mail settings (`[scheduling]`/`[hook]` smtp_*): none, or why they cannot be used. */
  readonly imip: ReturnType<typeof imipSettings>;
}

export function schedulingSettings(config: Config): SchedulingSettings {
  return {
    addresses: calendarUserAddresses(config),
    defaultCalendar: config.scheduling.default_calendar,
    maxFreebusyOccurrence: config.reporting.max_freebusy_occurrence,
    imip: imipSettings(config),
  };
}
