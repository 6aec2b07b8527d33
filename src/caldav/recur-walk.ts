/**
 * The one mechanism that bounds every walk over recurrence rules.
 *
 * ical.js's RecurIterator examines candidate times one period of the rule's frequency at a time and
 * returns only when one matches: a rule that never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30,
 * FREQ=SECONDLY;BYSECOND=60) keeps it going for ever, with or without UNTIL. Here every candidate
 * is charged to the walk's WalkBudget (a count of steps), the iteration stops exactly once its
 * candidates pass UNTIL or the end of what the caller asked for, and rules whose parts exclude
 * every date are known to be empty without iterating.
 */
import ICAL from 'ical.js';

/** Thrown when a recurrence set has more instances than a caller allows. */
export class ExpansionLimitError extends Error {}

/**
 * Thrown when a walk used up its WalkBudget: what comes after is unknown. Callers answer as for too
 * many instances (conservatively: an item is returned rather than hidden, a span left open).
 */
export class WalkLimitError extends ExpansionLimitError {}

/** Work one walk over an object's recurrences may do: candidates and instances examined. */
export interface WalkLimits {
  steps: number;
}

/**
 * Walks that look for something (a span, a match, a count) stay far below this: a query walks from
 * near its range (ExpandOptions.from), a few dozen steps for a month of a daily series of 25 years. A
 * step costs 2-20 µs of CPU here (ical.js's candidate test, or the making of an instance; the first
 * requests after a start are the slow ones), so one walk holds the event loop for about 20-200 ms at
 * most. A rule that needs more steps than this to find its next occurrence matches nothing a
 * calendar shows. The bound counts steps, not time: the same item and request get the same answer
 * on every machine, however busy (a time bound cut walks short on a slow or loaded machine, and an
 * answer that depends on it, such as an open span, then differed from run to run).
 */
export const WALK_LIMITS: Readonly<WalkLimits> = { steps: 10_000 };

/**
 * Walks whose output is the instances (C:expand, free-busy) may return up to `maxInstances` of them
 * ([reporting] max_expand_occurrence, max_freebusy_occurrence): their bound grows with that, about
 * two steps per instance and some to spare, so that the work stays linear in what is returned.
 */
export function outputWalkLimits(maxInstances: number): WalkLimits {
  return { steps: WALK_LIMITS.steps + 3 * Math.max(0, maxInstances) };
}

/**
 * A backstop, not the bound: walks end by their count of steps long before this (at most ~200 ms).
 * Should a single step ever cost far more than measured (a rule form ical.js handles slowly), the walk
 * still stops within this much CPU time of the process.
 */
const BACKSTOP_CPU_MICROS = 2_000_000;

/** CPU time (user + system) of the process in microseconds. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * The budget of one walk (one item in one request), charged by every candidate and instance. The
 * clock of the backstop is read every 1,024 steps only (reading it costs microseconds).
 */
export class WalkBudget {
  private steps = 0;
  private deadline = Infinity;

  constructor(private readonly limits: Readonly<WalkLimits> = WALK_LIMITS) {}

  charge(): void {
    if (++this.steps > this.limits.steps) {
      throw new WalkLimitError(`recurrence walk stopped after ${this.limits.steps} steps`);
    }
    if ((this.steps & 1023) !== 0) return;
    const now = cpuMicros();
    if (this.deadline === Infinity) this.deadline = now + BACKSTOP_CPU_MICROS;
    else if (now > this.deadline) {
      throw new WalkLimitError(`recurrence walk stopped after ${BACKSTOP_CPU_MICROS / 1e6} s of CPU time`);
    }
  }
}

/** Wall-clock fields of a time as POSIX seconds (as if they were UTC). */
function wallOf(t: ICAL.Time): number {
  if (t.isDate) return Date.UTC(t.year, t.month - 1, t.day) / 1000;
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) / 1000;
}

/** What an iterator may do: its walk's budget, and the wall-clock second after which nothing counts. */
interface IteratorBounds {
  readonly budget: WalkBudget;
  readonly stopAfter: number;
}

/** Thrown inside ical.js's iterator when its candidates passed `stopAfter`: the rule is done. */
class PastStop extends Error {}
const PAST_STOP = new PastStop('past the end of the walk');

/** The bounds of the iterator being constructed (its init already walks, before its fields exist). */
let constructing: IteratorBounds | undefined;

/**
 * ical.js's iterator, charged for every candidate it examines: check_contracting_rules is called
 * once per candidate at every frequency, expand_year_days once per year of a YEARLY rule (also in
 * the search for its first year, which ical.js runs up to year 20000).
 */
class BoundedRecurIterator extends ICAL.RecurIterator {
  private readonly bounds: IteratorBounds | undefined = constructing;

  override check_contracting_rules(): boolean {
    this.charge();
    return super.check_contracting_rules();
  }

  override expand_year_days(year: number): number {
    this.charge();
    return super.expand_year_days(year);
  }

  private charge(): void {
    const b = this.bounds ?? constructing;
    if (!b) return;
    b.budget.charge();
    // Candidates only move forward: once past the stop, no later one can count.
    if (wallOf(this.last) > b.stopAfter) throw PAST_STOP;
  }
}

/**
 * The occurrences of a rule as wall-clock times; null at the end. The Time returned is the
 * iterator's own and changes with the next call: read it before asking again.
 */
export interface RuleWalk {
  next(): ICAL.Time | null;
}

const DONE: RuleWalk = { next: () => null };
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Rules whose parts exclude every date or time (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30; BYSECOND=60,
 * which ical.js never produces): no occurrence at any frequency. RFC 5545 §3.3.10: instances on
 * invalid dates are ignored (ical.js would move a YEARLY one to March 1st).
 */
export function ruleNeverOccurs(recur: ICAL.Recur): boolean {
  const parts = recur.parts;
  const none = (values: number[] | undefined, max: number): boolean =>
    values !== undefined && values.length > 0 && values.every((v) => v < 0 || v > max);
  if (none(parts.BYSECOND, 59) || none(parts.BYMINUTE, 59) || none(parts.BYHOUR, 23)) return true;
  const days = parts.BYMONTHDAY;
  if (days === undefined || days.length === 0) return false;
  const months = parts.BYMONTH?.length ? parts.BYMONTH : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  return !months.some((m) => {
    const max = MONTH_DAYS[m - 1] ?? 0;
    return days.some((d) => d !== 0 && Math.abs(d) <= max);
  });
}

/**
 * Walks `rule` from the floating wall-clock `dtstart`, charging `budget`, and ends after the last
 * occurrence at or before the wall-clock second `stopAfter` (UNTIL, or the end the caller needs).
 * Throws WalkLimitError when the budget is used up, and ical.js's errors for malformed rules.
 */
export function walkRule(
  rule: ICAL.Recur,
  dtstart: ICAL.Time,
  budget: WalkBudget,
  stopAfter: number,
): RuleWalk {
  if (ruleNeverOccurs(rule)) return DONE;
  let it: ICAL.RecurIterator | undefined;
  constructing = { budget, stopAfter };
  try {
    it = new BoundedRecurIterator({ rule, dtstart });
  } catch (e) {
    if (!(e instanceof PastStop)) throw e;
    return DONE;
  } finally {
    constructing = undefined;
  }
  return {
    next(): ICAL.Time | null {
      let t: ICAL.Time | null = null;
      try {
        t = it?.next() ?? null;
      } catch (e) {
        if (!(e instanceof PastStop)) throw e;
      }
      if (!t || wallOf(t) > stopAfter) {
        it = undefined;
        return null;
      }
      return t;
    },
  };
}

/** Steps a VTIMEZONE observance rule may take to show that ical.js can expand it in bounded time. */
const OBSERVANCE_CHECK_STEPS = 2_000;
/** Changes of offset a VTIMEZONE observance rule may make in its first two years. */
const OBSERVANCE_MAX_CHANGES = 26;

/**
 * Whether ical.js's Timezone (which iterates observance rules with its own, unbounded iterator up
 * to the year asked for, keeping every occurrence) can expand this rule in bounded time and space:
 * YEARLY and MONTHLY rules, where ical.js gives up after a cycle without occurrence, that find
 * their first occurrence quickly and change the offset at most about monthly. Real zones use one
 * YEARLY rule per observance; any other rule makes the VTIMEZONE unusable (see ZoneResolver).
 */
export function observanceRuleIsSafe(rule: ICAL.Recur, dtstart: ICAL.Time): boolean {
  if (rule.freq !== 'YEARLY' && rule.freq !== 'MONTHLY') return false;
  if (ruleNeverOccurs(rule)) return false;
  const start = wallOf(dtstart);
  const budget = new WalkBudget({ steps: OBSERVANCE_CHECK_STEPS });
  try {
    const walk = walkRule(rule, dtstart, budget, start + 2 * 366 * 86_400);
    let changes = 0;
    while (walk.next()) if (++changes > OBSERVANCE_MAX_CHANGES) return false;
    return true;
  } catch {
    return false;
  }
}
