/**
 * iTIP (RFC 5546) on calendar objects, with ical.js: who organizes an object and who attends it, what
 * an attendee sees of it, the REQUEST, CANCEL and REPLY messages, and how a reply or an update is
 * merged into a copy. Pure functions of texts; no storage here.
 */
import { createHash } from 'node:crypto';
import ICAL from 'ical.js';
import { DavError } from '../../dav/errors.js';
import { PRODID } from '../item.js';
import { cloneComponent, objectComponents, parseCalendar, uidOf } from '../parse.js';
import { addressKey } from './addresses.js';
import { SCHEDULING_CONDITIONS } from './preconditions.js';

export type Method = 'REQUEST' | 'CANCEL' | 'REPLY';

/** A parsed calendar object resource that may be a scheduling object. */
export interface SchedObject {
  readonly vcal: ICAL.Component;
  /** Its components other than VTIMEZONE (master and overrides). */
  readonly comps: readonly ICAL.Component[];
  readonly uid: string;
  /** VEVENT, VTODO, ... */
  readonly component: string;
  /** The ORGANIZER value shared by the components, when there is one. */
  readonly organizer: string | undefined;
}

/**
 * Reads an object; undefined when it cannot be read (then it is no scheduling object). `strict`: a
 * request body, whose components must agree on the ORGANIZER (403 otherwise).
 */
export function readObject(text: string, strict = false): SchedObject | undefined {
  let vcal: ICAL.Component;
  try {
    vcal = parseCalendar(text);
  } catch {
    return undefined;
  }
  const comps = objectComponents(vcal);
  const first = comps[0];
  if (!first) return undefined;
  return {
    vcal,
    comps,
    uid: uidOf(first) ?? '',
    component: first.name.toUpperCase(),
    organizer: organizerOf(comps, strict),
  };
}

function organizerOf(comps: readonly ICAL.Component[], strict: boolean): string | undefined {
  let found: string | undefined;
  for (const comp of comps) {
    const v = comp.getFirstPropertyValue('organizer');
    if (v === null || v === undefined) continue;
    const value = String(v);
    if (found !== undefined && addressKey(found) !== addressKey(value)) {
      if (!strict) return found;
      throw new DavError(
        403,
        'Every component of a scheduling object must have the same ORGANIZER',
        SCHEDULING_CONDITIONS.sameOrganizerInAllComponents,
      );
    }
    found = value;
  }
  return found;
}

/** RECURRENCE-ID of a component as a key ('' for the master). */
export function ridKey(comp: ICAL.Component): string {
  const v = comp.getFirstPropertyValue('recurrence-id');
  if (!(v instanceof ICAL.Time)) return '';
  return String(v.toUnixTime());
}

export function attendeeProps(comp: ICAL.Component): ICAL.Property[] {
  return comp.getAllProperties('attendee');
}

export function attendeeOf(comp: ICAL.Component, key: string): ICAL.Property | undefined {
  return attendeeProps(comp).find((p) => addressKey(String(p.getFirstValue())) === key);
}

function param(prop: ICAL.Property, name: string): string | undefined {
  const v = prop.getParameter(name);
  if (v === null || v === undefined) return undefined;
  return (Array.isArray(v) ? String(v[0]) : v).toUpperCase();
}

/** SCHEDULE-AGENT of an ORGANIZER or ATTENDEE (RFC 6638 §7.1): SERVER unless CLIENT or NONE. */
export function scheduleAgent(prop: ICAL.Property): 'SERVER' | 'CLIENT' | 'NONE' {
  const v = param(prop, 'schedule-agent');
  return v === 'CLIENT' || v === 'NONE' ? v : 'SERVER';
}

export function partstat(prop: ICAL.Property | undefined): string {
  return (prop && param(prop, 'partstat')) ?? 'NEEDS-ACTION';
}

export function forceSend(prop: ICAL.Property): string | undefined {
  return param(prop, 'schedule-force-send');
}

/** Every attendee address of the object (first spelling), except those `skip` says are the organizer's. */
export function allAttendees(obj: SchedObject | undefined, skip: (address: string) => boolean): string[] {
  const out = new Map<string, string>();
  for (const comp of obj?.comps ?? []) {
    for (const attendee of attendeeProps(comp)) {
      const value = String(attendee.getFirstValue());
      const key = addressKey(value);
      if (!out.has(key) && !skip(value)) out.set(key, value);
    }
  }
  return [...out.values()];
}

/** What decides when an instance happens: a change of it is a reschedule. */
export function timing(comp: ICAL.Component): string {
  return ['dtstart', 'dtend', 'duration', 'due', 'rrule', 'rdate', 'exdate']
    .map((n) =>
      comp
        .getAllProperties(n)
        .map((p) => p.toICALString())
        .join('|'),
    )
    .join('#');
}

/** The component as every attendee sees it, without what changes on its own (stamps, replies). */
function publicForm(comp: ICAL.Component): string {
  const c = cloneComponent(comp);
  for (const n of ['dtstamp', 'last-modified', 'created']) c.removeAllProperties(n);
  for (const a of c.getAllSubcomponents('valarm')) c.removeSubcomponent(a);
  for (const property of [...attendeeProps(c), ...c.getAllProperties('organizer')]) {
    for (const n of ['partstat', 'schedule-status', 'rsvp', 'schedule-force-send'])
      property.removeParameter(n);
  }
  for (const property of c.getAllProperties()) if (property.name.startsWith('x-')) c.removeProperty(property);
  return c.toString();
}

function byRid(comps: readonly ICAL.Component[]): Map<string, ICAL.Component> {
  return new Map(comps.map((c) => [ridKey(c), c]));
}

/**
 * The components an attendee is invited to: the master with the overrides they attend (an override
 * without them becomes an EXDATE of their master), or only the overrides they attend.
 */
export function attendeeComponents(obj: SchedObject, key: string): ICAL.Component[] {
  const master = obj.comps.find((c) => ridKey(c) === '');
  const overrides = obj.comps.filter((c) => ridKey(c) !== '');
  const attends = (c: ICAL.Component): boolean => attendeeOf(c, key) !== undefined;
  if (master && attends(master)) {
    const m = cloneComponent(master);
    const kept: ICAL.Component[] = [];
    for (const override of overrides) {
      if (attends(override)) kept.push(cloneComponent(override));
      else {
        const rid = override.getFirstProperty('recurrence-id');
        if (!rid) continue;
        const ex = new ICAL.Property('exdate', m);
        const tzid = rid.getParameter('tzid');
        if (typeof tzid === 'string') ex.setParameter('tzid', tzid);
        ex.setValue(rid.getFirstValue() as ICAL.Time);
        m.addProperty(ex);
      }
    }
    return [m, ...kept];
  }
  return overrides.filter(attends).map(cloneComponent);
}

/** Drops the parameters a server keeps to itself (RFC 6638 §7.3, §7.4) from every address. */
function stripServerParams(comp: ICAL.Component): void {
  for (const property of [...attendeeProps(comp), ...comp.getAllProperties('organizer')]) {
    property.removeParameter('schedule-status');
    property.removeParameter('schedule-force-send');
  }
}

/** A VCALENDAR with these components, the time zones they use from `source`, and METHOD if given. */
export function calendarOf(
  source: ICAL.Component,
  comps: readonly ICAL.Component[],
  method?: Method,
): string {
  const vcal = new ICAL.Component('vcalendar');
  vcal.addPropertyWithValue('version', '2.0');
  vcal.addPropertyWithValue('prodid', PRODID);
  if (method) vcal.addPropertyWithValue('method', method);
  for (const tz of source.getAllSubcomponents('vtimezone')) vcal.addSubcomponent(cloneComponent(tz));
  for (const c of comps) vcal.addSubcomponent(c);
  return vcal.toString().replace(/\r?\n/g, '\r\n') + '\r\n';
}

function stamp(comp: ICAL.Component): void {
  comp.removeAllProperties('dtstamp');
  comp.addPropertyWithValue('dtstamp', ICAL.Time.now().convertToZone(ICAL.Timezone.utcTimezone));
}

/** Whether the attendee's view changed between two versions of the organizer's object. */
export function viewChanged(before: SchedObject | undefined, after: SchedObject, key: string): boolean {
  if (!before) return true;
  const a = attendeeComponents(before, key).map(publicForm).sort();
  const b = attendeeComponents(after, key).map(publicForm).sort();
  return a.length !== b.length || a.some((x, i) => x !== b[i]);
}

/**
 * Instances the organizer cancelled for this attendee between two versions: new EXDATEs of the
 * master, and overrides that became STATUS:CANCELLED. Their RECURRENCE-ID components.
 */
export function cancelledInstances(
  before: SchedObject | undefined,
  after: SchedObject,
  key: string,
): ICAL.Component[] {
  if (!before) return [];
  const oldView = attendeeComponents(before, key);
  const newView = attendeeComponents(after, key);
  const oldMaster = oldView.find((c) => ridKey(c) === '');
  const newMaster = newView.find((c) => ridKey(c) === '');
  const out: ICAL.Component[] = [];
  if (oldMaster && newMaster) {
    const had = new Set(exdates(oldMaster).map((t) => String(t.toUnixTime())));
    for (const t of exdates(newMaster)) {
      if (had.has(String(t.toUnixTime()))) continue;
      const c = instanceOf(newMaster, t);
      c.addPropertyWithValue('status', 'CANCELLED');
      out.push(c);
    }
  }
  const oldByRid = byRid(oldView);
  for (const c of newView) {
    const rid = ridKey(c);
    if (rid === '' || String(c.getFirstPropertyValue('status') ?? '').toUpperCase() !== 'CANCELLED') continue;
    const old = oldByRid.get(rid);
    if (old && String(old.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED') continue;
    out.push(cloneComponent(c));
  }
  return out;
}

function exdates(comp: ICAL.Component): ICAL.Time[] {
  const out: ICAL.Time[] = [];
  for (const exdate of comp.getAllProperties('exdate')) {
    for (const v of exdate.getValues()) if (v instanceof ICAL.Time) out.push(v);
  }
  return out;
}

/** One instance of a recurring master as an override component (its RECURRENCE-ID and times). */
export function instanceOf(master: ICAL.Component, rid: ICAL.Time): ICAL.Component {
  const c = cloneComponent(master);
  for (const n of ['rrule', 'rdate', 'exdate', 'recurrence-id', 'status']) c.removeAllProperties(n);
  for (const a of c.getAllSubcomponents('valarm')) c.removeSubcomponent(a);
  const start = master.getFirstProperty('dtstart');
  const startValue = start?.getFirstValue();
  const ridProp = new ICAL.Property('recurrence-id', c);
  const tzid = start?.getParameter('tzid');
  if (typeof tzid === 'string') ridProp.setParameter('tzid', tzid);
  ridProp.setValue(rid);
  c.addProperty(ridProp);
  if (start && startValue instanceof ICAL.Time) {
    const end = master.getFirstPropertyValue('dtend');
    const shift = rid.subtractDateTz(startValue);
    const newStart = startValue.clone();
    newStart.addDuration(shift);
    c.getFirstProperty('dtstart')?.setValue(newStart);
    if (end instanceof ICAL.Time) {
      const newEnd = end.clone();
      newEnd.addDuration(shift);
      c.getFirstProperty('dtend')?.setValue(newEnd);
    }
  }
  return c;
}

/** The organizer's message to one attendee: their components, as REQUEST or (some) as CANCEL. */
export function organizerMessage(
  obj: SchedObject,
  comps: readonly ICAL.Component[],
  method: 'REQUEST' | 'CANCEL',
): string {
  const out = comps.map((c) => {
    const m = cloneComponent(c);
    stripServerParams(m);
    for (const a of m.getAllSubcomponents('valarm')) m.removeSubcomponent(a);
    if (method === 'CANCEL') {
      m.removeAllProperties('status');
      m.addPropertyWithValue('status', 'CANCELLED');
    }
    stamp(m);
    return m;
  });
  return calendarOf(obj.vcal, out, method);
}

/** The attendee's REPLY: the components named by `rids` with only their own ATTENDEE line. */
export function replyMessage(
  obj: SchedObject,
  key: string,
  rids: ReadonlySet<string>,
  declineAll = false,
): string {
  const out: ICAL.Component[] = [];
  for (const c of obj.comps) {
    if (!rids.has(ridKey(c))) continue;
    const m = cloneComponent(c);
    for (const a of m.getAllSubcomponents('valarm')) m.removeSubcomponent(a);
    for (const attendee of attendeeProps(m)) {
      if (addressKey(String(attendee.getFirstValue())) !== key) m.removeProperty(attendee);
    }
    const own = attendeeOf(m, key);
    if (declineAll && own) own.setParameter('partstat', 'DECLINED');
    if (own) {
      own.removeParameter('schedule-status');
      own.removeParameter('schedule-force-send');
      own.removeParameter('rsvp');
    }
    stripServerParams(m);
    stamp(m);
    out.push(m);
  }
  return calendarOf(obj.vcal, out, 'REPLY');
}

/**
 * The attendee's copy from the organizer's object: what they are invited to, with their own
 * PARTSTAT and alarms kept from their previous copy for each instance that was not rescheduled.
 */
export function attendeeCopy(
  organizerObj: SchedObject,
  key: string,
  previous: SchedObject | undefined,
): string {
  const comps = attendeeComponents(organizerObj, key);
  const before = previous ? byRid(previous.comps) : new Map<string, ICAL.Component>();
  for (const c of comps) {
    stripServerParams(c);
    const old = before.get(ridKey(c));
    if (!old) continue;
    const mine = attendeeOf(c, key);
    const oldMine = attendeeOf(old, key);
    if (mine && oldMine && timing(old) === timing(c)) mine.setParameter('partstat', partstat(oldMine));
    if (c.getAllSubcomponents('valarm').length === 0) {
      for (const a of old.getAllSubcomponents('valarm')) c.addSubcomponent(cloneComponent(a));
    }
  }
  return calendarOf(organizerObj.vcal, comps);
}

/** The attendee's copy marked cancelled (the organizer removed them or deleted the object). */
export function cancelledCopy(previous: SchedObject): string {
  const comps = previous.comps.map((c) => {
    const m = cloneComponent(c);
    m.removeAllProperties('status');
    m.addPropertyWithValue('status', 'CANCELLED');
    return m;
  });
  return calendarOf(previous.vcal, comps);
}

/**
 * The organizer's copy with an attendee's reply merged: their PARTSTAT per instance (an instance the
 * organizer has no override for gets one) and SCHEDULE-STATUS 2.0. Undefined when nothing changes.
 */
export function mergeReply(organizerObj: SchedObject, reply: SchedObject, key: string): string | undefined {
  const comps = organizerObj.comps.map(cloneComponent);
  const mine = byRid(comps);
  let changed = false;
  for (const r of reply.comps) {
    const answer = attendeeOf(r, key);
    if (!answer) continue;
    const rid = ridKey(r);
    let target = mine.get(rid);
    if (!target && rid !== '') {
      const master = mine.get('');
      const ridValue = r.getFirstPropertyValue('recurrence-id');
      if (!master || !(ridValue instanceof ICAL.Time) || !attendeeOf(master, key)) continue;
      target = instanceOf(master, ridValue);
      comps.push(target);
      mine.set(rid, target);
    }
    const line = target ? attendeeOf(target, key) : undefined;
    if (!line) continue;
    const value = partstat(answer);
    if (partstat(line) !== value || param(line, 'schedule-status') !== '2.0') changed = true;
    line.setParameter('partstat', value);
    line.setParameter('schedule-status', '2.0');
    line.removeParameter('rsvp');
  }
  return changed ? calendarOf(organizerObj.vcal, comps) : undefined;
}

/**
 * Schedule-Tag (RFC 6638 §3.2.10) of an object: a digest of it without what replies change (PARTSTAT,
 * SCHEDULE-STATUS, RSVP of the attendees, DTSTAMP), so that merging a reply keeps the tag and any
 * other change makes a new one.
 */
export function scheduleTag(text: string): string {
  const obj = readObject(text);
  const hash = createHash('sha256');
  if (!obj) hash.update(text);
  else for (const c of obj.comps) hash.update(publicFormKeepingX(c));
  return `"${hash.digest('hex').slice(0, 32)}"`;
}

function publicFormKeepingX(comp: ICAL.Component): string {
  const c = cloneComponent(comp);
  c.removeAllProperties('dtstamp');
  for (const attendee of attendeeProps(c)) {
    for (const n of ['partstat', 'schedule-status', 'rsvp']) attendee.removeParameter(n);
  }
  return c.toString();
}

export { param as parameter };
