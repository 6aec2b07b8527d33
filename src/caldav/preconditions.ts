/**
 * CalDAV's DAV:error conditions (RFC 4791 §5.3.2.1, §5.3.1.1, §7.5, §7.8, §9.9), declared once.
 */
import { NS } from '../dav/xml.js';
import { declarePrecondition, type ItemConditions, type Precondition } from '../dav/preconditions.js';

const C = (local: string): Precondition => declarePrecondition(NS.C, local);

export const CALDAV_CONDITIONS = {
  validCalendarData: C('valid-calendar-data'),
  validCalendarObjectResource: C('valid-calendar-object-resource'),
  supportedCalendarComponent: C('supported-calendar-component'),
  calendarCollectionLocationOk: C('calendar-collection-location-ok'),
  maxResourceSize: C('max-resource-size'),
  noUidConflict: C('no-uid-conflict'),
  validFilter: C('valid-filter'),
  supportedCollation: C('supported-collation'),
} as const;

/** What a calendar's items break, for the core (CollectionKind.preconditions). */
export const CALENDAR_ITEM_CONDITIONS: ItemConditions = {
  maxResourceSize: CALDAV_CONDITIONS.maxResourceSize,
  noUidConflict: CALDAV_CONDITIONS.noUidConflict,
};
