/**
 * Instance spans of stored events, remembered per item text, so that the query every client sends
 * (VCALENDAR > VEVENT with a time-range, nothing else) is answered without parsing or expanding the
 * same recurrences again. Spans are computed from about a year back to a horizon two years ahead (or
 * the asked range, if wider); a query outside them is computed again, and an item whose expansion hit
 * the instance limit or its walk's budget falls back to the full filter.
 */
import { createHash } from 'node:crypto';
import type ICAL from 'ical.js';
import { ownInstances, recurrenceSets, type RecurrenceSet } from './instances.js';
import { ExpansionLimitError, WalkBudget } from './recur-walk.js';
import { objectComponents, parseCalendar } from './parse.js';
import { ZoneResolver } from './timezones.js';
import type { TimeRange } from './time-range.js';

interface Spans {
  /** Pairs start, end (NaN when the instance has no end) in UTC seconds. */
  readonly pairs: Float64Array;
  /** Instances that end at or after `since` and start before `until` are all in `pairs`. */
  readonly since: number;
  readonly until: number;
}

const MAX_ENTRIES = 200_000;
const MAX_INSTANCES = 20_000;
const HORIZON_SECONDS = 2 * 365 * 86_400;
const PAST_SECONDS = 400 * 86_400;
const cache = new Map<string, Spans | null>();

function compute(text: string, since: number, until: number): Spans | null {
  let vcal: ICAL.Component;
  try {
    vcal = parseCalendar(text);
  } catch {
    return { pairs: new Float64Array(0), since: -Infinity, until: Infinity }; // unparsable objects never match
  }
  const tz = new ZoneResolver(vcal);
  const comps = objectComponents(vcal);
  const sets = new Map<ICAL.Component, RecurrenceSet>();
  for (const set of recurrenceSets(comps, tz)) {
    if (set.master) sets.set(set.master, set);
    for (const override of set.overrides.values()) sets.set(override, set);
  }
  const pairs: number[] = [];
  const from = Number.isFinite(since) ? since : undefined;
  const opts = { from, until, limit: MAX_INSTANCES, budget: new WalkBudget() };
  try {
    for (const comp of comps) {
      if (comp.name !== 'vevent') continue;
      for (const inst of ownInstances(comp, sets.get(comp), tz, opts)) {
        pairs.push(inst.times.start ?? NaN, inst.times.end ?? NaN);
      }
    }
  } catch (e) {
    // Too many instances, or a walk past its budget: the full filter decides, walking only as far
    // as the range it is asked about.
    if (e instanceof ExpansionLimitError) return null;
    throw e;
  }
  return { pairs: Float64Array.from(pairs), since, until };
}

/** RFC 4791 §9.9 for one VEVENT instance (as time-range.ts intervalOverlaps). */
function overlaps(s: number, e: number, r: TimeRange): boolean {
  if (Number.isNaN(s)) return false;
  if (!Number.isNaN(e) && e > s) return r.start < e && r.end > s;
  return r.start <= s && r.end > s;
}

/**
 * Whether some VEVENT instance of the item overlaps `r`; undefined when the cache cannot tell (the
 * caller then runs the full filter).
 */
export function eventsOverlap(text: string, r: TimeRange): boolean | undefined {
  const needed = r.end + 1;
  if (!Number.isFinite(needed)) return undefined;
  // Keyed by a digest: keeping the texts themselves as keys would hold every item in memory.
  const key = createHash('sha1').update(text).digest('base64');
  let spans = cache.get(key);
  if (spans === null) return undefined;
  if (spans === undefined || spans.until < needed || spans.since > r.start) {
    const now = Math.floor(Date.now() / 1000);
    const since = Math.min(r.start, now - PAST_SECONDS);
    spans = compute(text, since, Math.max(needed, now + HORIZON_SECONDS));
    cache.delete(key);
    cache.set(key, spans);
    if (cache.size > MAX_ENTRIES) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    if (spans === null) return undefined;
  }
  const pairs = spans.pairs;
  for (let i = 0; i < pairs.length; i += 2)
    if (overlaps(pairs[i] ?? NaN, pairs[i + 1] ?? NaN, r)) return true;
  return false;
}
