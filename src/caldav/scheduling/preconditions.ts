/**
 * The DAV:error conditions of CalDAV scheduling (RFC 6638 §3.2.4, §6.1), declared once.
 */
import { NS } from '../../dav/xml.js';
import { declarePrecondition, type Precondition } from '../../dav/preconditions.js';

const C = (local: string): Precondition => declarePrecondition(NS.C, local);

export const SCHEDULING_CONDITIONS = {
  sameOrganizerInAllComponents: C('same-organizer-in-all-components'),
  uniqueSchedulingObjectResource: C('unique-scheduling-object-resource'),
  allowedAttendeeChange: C('allowed-attendee-scheduling-object-change'),
  allowedOrganizerChange: C('allowed-organizer-scheduling-object-change'),
  validSchedulingMessage: C('valid-scheduling-message'),
  organizerAllowed: C('organizer-allowed'),
  maxAttendeesPerInstance: C('max-attendees-per-instance'),
  supportedCalendarData: C('supported-calendar-data'),
  validCalendarData: C('valid-calendar-data'),
} as const;
