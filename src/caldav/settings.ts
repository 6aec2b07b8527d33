/**
 * The settings CalDAV reads, taken from the configuration once at start-up (`calDavSettings`, called
 * by the composition root, cli/start.ts): the calendar plugin is built from them (`calDavPlugin`),
 * and no CalDAV code reads the `Config` of a request.
 */
import type { Config } from '../config/schema.js';

export interface CalDavSettings {
  /** `[server] max_resource_size` (capped by the loader): C:max-resource-size of a calendar. */
  readonly maxResourceSize: number;
  /** `[server] max_vevent_rrule_occurrence`: more occurrences and a PUT is refused. */
  readonly maxVeventRruleOccurrence: number;
  /** `[reporting] max_expand_occurrence`: the C:expand instances of one REPORT. */
  readonly maxExpandOccurrence: number;
  /** `[reporting] max_freebusy_occurrence`: the occurrences of one free-busy answer. */
  readonly maxFreebusyOccurrence: number;
}

export function calDavSettings(config: Config): CalDavSettings {
  return {
    maxResourceSize: config.server.max_resource_size,
    maxVeventRruleOccurrence: config.server.max_vevent_rrule_occurrence,
    maxExpandOccurrence: config.reporting.max_expand_occurrence,
    maxFreebusyOccurrence: config.reporting.max_freebusy_occurrence,
  };
}
