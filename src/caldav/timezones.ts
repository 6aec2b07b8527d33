/**
 * Turns iCalendar wall-clock times into POSIX seconds. Zones come from the VTIMEZONEs of the object
 * itself; a TZID without VTIMEZONE that names an IANA zone is resolved with Intl (Node's full ICU).
 * Floating times, dates and unknown zones count as UTC (as the storage index and Radicale do).
 *
 * We never register zones in ical.js's global TimezoneService: two objects may define the same TZID
 * differently, and requests run concurrently.
 */
import ICAL from 'ical.js';
import { observanceRuleIsSafe } from './recur-walk.js';

/** Wall-clock fields of a time, read as if they were UTC. */
export function wallSeconds(t: ICAL.Time): number {
  const ms = Date.UTC(
    t.year,
    t.month - 1,
    t.day,
    t.isDate ? 0 : t.hour,
    t.isDate ? 0 : t.minute,
    t.isDate ? 0 : t.second,
  );
  return Math.floor(ms / 1000);
}

/** A floating ICAL.Time with the wall-clock fields of `sec` read as UTC. */
export function floatingFromWall(sec: number, isDate = false): ICAL.Time {
  const d = new Date(sec * 1000);
  return ICAL.Time.fromData({
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: isDate ? 0 : d.getUTCHours(),
    minute: isDate ? 0 : d.getUTCMinutes(),
    second: isDate ? 0 : d.getUTCSeconds(),
    isDate,
  });
}

const intlFormatters = new Map<string, Intl.DateTimeFormat | null>();

function intlFormatter(tzid: string): Intl.DateTimeFormat | null {
  let f = intlFormatters.get(tzid);
  if (f !== undefined) return f;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tzid,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    f = null; // not a zone ICU knows
  }
  if (intlFormatters.size < 1000) intlFormatters.set(tzid, f);
  return f;
}

/** Offset (seconds east of UTC) of an IANA zone at a UTC instant. */
function intlOffsetAt(f: Intl.DateTimeFormat, utcSec: number): number {
  const parts: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(utcSec * 1000))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const year = parts['year'] ?? 1970;
  const local = Date.UTC(
    year,
    (parts['month'] ?? 1) - 1,
    parts['day'] ?? 1,
    parts['hour'] ?? 0,
    parts['minute'] ?? 0,
    parts['second'] ?? 0,
  );
  return Math.round(local / 1000) - utcSec;
}

/** A zone able to convert between wall-clock seconds and UTC seconds. */
interface Zone {
  toUtc(wall: number, t: ICAL.Time): number;
  toWall(utc: number): number;
}

const UTC_ZONE: Zone = { toUtc: (w) => w, toWall: (u) => u };

function intlZone(f: Intl.DateTimeFormat): Zone {
  return {
    toUtc(wall: number): number {
      // Two passes find the right offset around DST changes.
      const first = wall - intlOffsetAt(f, wall);
      return wall - intlOffsetAt(f, first);
    },
    toWall: (utc) => utc + intlOffsetAt(f, utc),
  };
}

function vtimezoneZone(tz: ICAL.Timezone): Zone {
  return {
    toUtc: (wall, t) => wall - tz.utcOffset(t),
    toWall(utc: number): number {
      const t = ICAL.Time.fromData(
        { year: 1970, month: 1, day: 1, hour: 0, isDate: false },
        ICAL.Timezone.utcTimezone,
      );
      t.fromUnixTime(utc);
      return wallSeconds(t.convertToZone(tz));
    },
  };
}

/**
 * Zones built from VTIMEZONE definitions, shared by every object that carries the same definition
 * (clients repeat one VTIMEZONE in thousands of items): ical.js expands a zone's DST rules once per
 * Timezone object, which is most of the cost of reading an item.
 */
const sharedZones = new Map<string, Zone | null>(); // null: a definition we cannot use
const MAX_SHARED_ZONES = 512;

/**
 * Whether ical.js can expand the zone's observances in bounded time: it walks their rules with an
 * iterator we cannot bound, so each rule is tried with ours first (recur-walk.ts).
 */
function expandable(vtz: ICAL.Component): boolean {
  return vtz.getAllSubcomponents().every((obs) => {
    const dtstart = obs.getFirstPropertyValue('dtstart');
    return obs.getAllProperties('rrule').every((rrule) => {
      const rule = rrule.getFirstValue();
      return (
        rule instanceof ICAL.Recur && dtstart instanceof ICAL.Time && observanceRuleIsSafe(rule, dtstart)
      );
    });
  });
}

/** The zone a VTIMEZONE defines, or undefined when it cannot be used. */
function zoneOf(vtz: ICAL.Component, tzid: string): Zone | undefined {
  const key = vtz.toString();
  let z = sharedZones.get(key);
  if (z === undefined) {
    try {
      z = expandable(vtz) ? vtimezoneZone(new ICAL.Timezone({ component: vtz, tzid })) : null;
    } catch {
      z = null;
    }
    if (sharedZones.size >= MAX_SHARED_ZONES) sharedZones.clear();
    sharedZones.set(key, z);
  }
  return z ?? undefined;
}

export class ZoneResolver {
  private readonly zones = new Map<string, Zone>();

  constructor(vcal?: ICAL.Component) {
    for (const vtz of vcal?.getAllSubcomponents('vtimezone') ?? []) {
      const tzid = vtz.getFirstPropertyValue('tzid');
      if (typeof tzid !== 'string' || !tzid) continue;
      // A broken VTIMEZONE: Intl (or UTC) for this TZID.
      const z = zoneOf(vtz, tzid);
      if (z) this.zones.set(tzid, z);
    }
  }

  /** The zone of a TZID ('' = UTC/floating). */
  zone(tzid: string | undefined): Zone {
    if (!tzid) return UTC_ZONE;
    let z = this.zones.get(tzid);
    if (!z) {
      const f = intlFormatter(tzid);
      z = f ? intlZone(f) : UTC_ZONE;
      this.zones.set(tzid, z);
    }
    return z;
  }

  /** POSIX seconds of a time; `tzid` is the property's TZID parameter. */
  toUtc(t: ICAL.Time, tzid: string | undefined): number {
    const wall = wallSeconds(t);
    if (t.isDate || t.zone?.tzid === 'UTC') return wall;
    return this.zone(tzid).toUtc(wall, t);
  }

  /** Wall-clock seconds in the zone of `tzid` for a POSIX instant. */
  toWall(utc: number, tzid: string | undefined): number {
    return this.zone(tzid).toWall(utc);
  }
}

/** The TZID to use for a date-time property: undefined for UTC, floating and dates. */
export function tzidOf(prop: ICAL.Property): string | undefined {
  const v = prop.getParameter('tzid') as unknown;
  const tzid: unknown = Array.isArray(v) ? v[0] : v;
  return typeof tzid === 'string' && tzid ? tzid : undefined;
}
