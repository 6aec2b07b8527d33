/**
 * Radicale's `bday` conversion (radicale/item convert_vcf_to_ics): a vCard with a BDAY of the form
 * `YYYY-MM-DD` or `YYYYMMDD` becomes a VCALENDAR of all-day birthday events; any other card gives none.
 *
 * - One yearly event (RRULE:FREQ=YEARLY from the birth date), or, when a template uses `{age}`, the card
 *   has a year (1604 means none) and year + age_max is not before the current year, one event per age
 *   0..age_max without a rule (UIDs `-AGE-<n>`).
 * - UID: the card's UID with its 12-hex-digit group replaced by `bda0YYYYMMDD`, or the card's UID +
 *   `-auto-converted-by-Radicale`, or `YYYYMMDD@<name>-auto-converted-by-Radicale` (as Radicale writes
 *   them, so that a client keeps its events when the server changes).
 * - ETag: `"bda0YYYYMMDD00` + the card's ETag from its 15th character: stable, the length of a sha256
 *   ETag, and changed whenever the card changes.
 * - href: `.vcf` becomes `.ics`.
 */
import { logicalLines } from '../content-lines/unfold.js';
import { parseContentLine } from '../content-lines/content-line.js';
import { almanacVersion } from '../config/version.js';
import {
  BDAY_DEFAULTS,
  BDAY_OPTIONS,
  bdayOptionProblem,
  fillTemplate,
  parseAlarmEntry,
  triggerDuration,
  unresolved,
  type BdayOptionName,
  type BdayPlaceholder,
  type BdaySettings,
} from './bday-template.js';
import type { Dict } from './record.js';

const NO_YEAR = '1604';
const UID_SUFFIX = '-auto-converted-by-Radicale';
const BDAY = /^([0-9]{4})-?([0-9]{2})-?([0-9]{2})$/;

/** What a card gives the conversion. */
interface Card {
  readonly bday?: string;
  readonly fn?: string;
  readonly n?: readonly string[];
  readonly nickname?: string;
  readonly uid?: string;
  readonly prodid?: string;
}

function unescapeText(v: string): string {
  return v.replace(/\\([\\;,nN])/g, (_m, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** Splits a structured value (N) on `;` that are not escaped, then unescapes each part. */
function splitStructured(v: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i] ?? '';
    if (ch === '\\' && i + 1 < v.length) {
      cur += ch + (v[i + 1] ?? '');
      i++;
    } else if (ch === ';') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map(unescapeText);
}

/** The first BDAY, FN, N, NICKNAME, UID and PRODID of the card itself (not of a nested component). */
function readCard(text: string): Card | undefined {
  const found: { -readonly [K in keyof Card]: Card[K] } = {};
  let depth = 0;
  let isCard = false;
  for (const line of logicalLines(text)) {
    const cl = parseContentLine(line.unfolded);
    if (!cl) continue;
    if (cl.name === 'BEGIN') {
      depth++;
      if (depth === 1) isCard = cl.value.trim().toUpperCase() === 'VCARD';
      continue;
    }
    if (cl.name === 'END') {
      depth--;
      if (depth === 0) break;
      continue;
    }
    if (depth !== 1) continue;
    const v = cl.value;
    if (cl.name === 'BDAY') found.bday ??= v.trim();
    else if (cl.name === 'FN') found.fn ??= unescapeText(v);
    else if (cl.name === 'N') found.n ??= splitStructured(v);
    else if (cl.name === 'NICKNAME') found.nickname ??= unescapeText(v);
    else if (cl.name === 'UID') found.uid ??= v;
    else if (cl.name === 'PRODID') found.prodid ??= unescapeText(v);
  }
  return isCard ? found : undefined;
}

// ---------------------------------------------------------------------------------------------
// settings

/** A share's settings: its Actions.config entries over the [sharing] options. */
export function bdaySettings(global: BdaySettings, actions: Dict | null): BdaySettings {
  const cfg = actions?.config;
  if (typeof cfg !== 'object' || cfg === null) return global;
  const out: { -readonly [K in keyof BdaySettings]: BdaySettings[K] } = { ...global };
  for (const [option, key] of Object.entries(BDAY_OPTIONS) as [BdayOptionName, keyof BdaySettings][]) {
    const v = cfg[option];
    if (v === undefined || v === null || typeof v === 'object' || typeof v === 'boolean') continue;
    // A value the API would refuse (a database written by hand) leaves the server's option in place.
    if (bdayOptionProblem(option, v) !== undefined) continue;
    if (key === 'ageMax') out.ageMax = Number(v);
    else out[key] = String(v);
  }
  return out;
}

export function globalBdaySettings(s: {
  readonly conversion_bday_summary_template: string;
  readonly conversion_bday_description_template: string;
  readonly conversion_bday_alarm_trigger_template: string;
  readonly conversion_bday_categories: string;
  readonly conversion_bday_age_max: number;
}): BdaySettings {
  return {
    summary: s.conversion_bday_summary_template || BDAY_DEFAULTS.summary,
    description: s.conversion_bday_description_template,
    alarms: s.conversion_bday_alarm_trigger_template,
    categories: s.conversion_bday_categories,
    ageMax: s.conversion_bday_age_max,
  };
}

// ---------------------------------------------------------------------------------------------
// iCalendar output

function escapeText(s: string): string {
  return s.replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\r\n|\r|\n/g, '\\n');
}

/** Folds a content line at 75 octets (never inside a UTF-8 sequence), as RFC 5545 §3.1 asks. */
function fold(line: string): string {
  if (Buffer.byteLength(line, 'utf8') <= 75) return line;
  const out: string[] = [];
  let cur = '';
  let size = 0;
  let limit = 75;
  for (const ch of line) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (size + n > limit) {
      out.push(cur);
      cur = '';
      size = 0;
      limit = 74;
    }
    cur += ch;
    size += n;
  }
  out.push(cur);
  return out.join('\r\n ');
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const dateValue = (y: number, m: number, d: number): string => `${pad(y, 4)}${pad(m, 2)}${pad(d, 2)}`;

function validDate(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const dt = new Date(Date.UTC(2000, m - 1, d));
  dt.setUTCFullYear(y);
  return dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

function nextDay(y: number, m: number, d: number): string {
  const dt = new Date(Date.UTC(2000, m - 1, d));
  dt.setUTCFullYear(y);
  dt.setUTCDate(dt.getUTCDate() + 1);
  return dateValue(dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate());
}

function stamp(ms: number): string {
  return `${new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')}Z`;
}

export interface BdayEvent {
  /** The calendar object (CRLF line endings). */
  readonly text: string;
  readonly etag: string;
  /** UID of its (first) event. */
  readonly uid: string;
}

/** The `.ics` name of a card's href (`x.vcf` → `x.ics`; any other name gets `.ics` added). */
export function bdayHref(cardHref: string): string {
  return `${cardHref.endsWith('.vcf') ? cardHref.slice(0, -4) : cardHref}.ics`;
}

/**
 * The birthday calendar object of a card, or undefined when the card has no usable BDAY (or no name).
 * `lastModifiedMs` gives DTSTAMP (so the text stays the same while the card does); `now` decides whether
 * age events are still in range.
 */
export function convertCard(
  cardText: string,
  cardEtag: string,
  lastModifiedMs: number,
  settings: BdaySettings,
  now: Date = new Date(),
): BdayEvent | undefined {
  const card = readCard(cardText);
  if (card?.bday === undefined) return undefined;
  const m = BDAY.exec(card.bday);
  if (!m) return undefined;
  const [, ys = '', ms = '', ds = ''] = m;
  const year = Number(ys);
  const month = Number(ms);
  const day = Number(ds);
  // Radicale's datetime.date fails on a date that does not exist; such a card gives no event here.
  if (!validDate(year, month, day)) return undefined;
  const hasYear = ys !== NO_YEAR;
  const [family = '', given = '', additional = ''] = card.n ?? [];
  let name: string;
  if (card.fn !== undefined) name = card.fn;
  else if (card.n !== undefined) name = `${family} ${given}`;
  else if (card.nickname !== undefined) name = card.nickname;
  else return undefined;

  const values = new Map<BdayPlaceholder, string>([
    ['year', hasYear ? ys : '????'],
    ['month', ms],
    ['day', ds],
    ['nickname', card.nickname ? card.nickname : unresolved('nickname')],
    ['fn', card.fn ? card.fn : unresolved('fn')],
    ['n:f', family || unresolved('n:f')],
    ['n:g', given || unresolved('n:g')],
    ['n:a', additional || unresolved('n:a')],
  ]);
  const { summary, description, alarms, ageMax } = settings;
  const categories = settings.categories === '' ? [] : settings.categories.split(',');
  const alarmEntries = alarms === '' ? [] : alarms.split('$').map(parseAlarmEntry);

  const usesAge = summary.includes('{age}') || description.includes('{age}') || alarms.includes('age');
  let ageEvents = false;
  let lastAge = 0;
  if (hasYear && usesAge) {
    if (year + ageMax < now.getFullYear()) values.set('age', unresolved('age'));
    else {
      ageEvents = true;
      lastAge = ageMax;
    }
  } else if (!hasYear) values.set('age', '??');

  const bdayS = `${ys}${ms}${ds}`;
  let uid: string;
  if (card.uid !== undefined) {
    const u = /^(.*)-[0-9a-fA-F]{12}(.*)$/.exec(card.uid);
    uid = u ? `${u[1] ?? ''}-bda0${bdayS}${u[2] ?? ''}` : card.uid + UID_SUFFIX;
  } else uid = `${bdayS}@${name.replace(/ /g, '-')}${UID_SUFFIX}`;

  const version = almanacVersion();
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    `PRODID:${escapeText(
      card.prodid !== undefined
        ? `${card.prodid} (auto-converted by Almanac ${version})`
        : `-//Almanac//NONSGML ${version}//EN (auto-converted)`,
    )}`,
  ];
  const dtstamp = stamp(lastModifiedMs);
  let firstUid = '';
  for (let age = 0; age <= lastAge; age++) {
    const y = ageEvents ? year + age : year;
    // 29 February has an event in leap years only (a yearly rule does the same).
    if (!validDate(y, month, day)) continue;
    if (ageEvents) values.set('age', String(age));
    const eventUid = ageEvents ? `${uid}-AGE-${age}` : uid;
    if (firstUid === '') firstUid = eventUid;
    lines.push(
      'BEGIN:VEVENT',
      `UID:${eventUid}`,
      `DTSTART;VALUE=DATE:${dateValue(y, month, day)}`,
      `DTEND;VALUE=DATE:${nextDay(y, month, day)}`,
      `DTSTAMP:${dtstamp}`,
      `SUMMARY:${escapeText(fillTemplate(summary, values))}`,
    );
    if (description !== '') lines.push(`DESCRIPTION:${escapeText(fillTemplate(description, values))}`);
    if (categories.length > 0) lines.push(`CATEGORIES:${categories.map(escapeText).join(',')}`);
    lines.push('CLASS:PRIVATE', 'STATUS:CONFIRMED');
    if (!ageEvents) lines.push('RRULE:FREQ=YEARLY');
    lines.push('TRANSP:TRANSPARENT');
    for (const entry of alarmEntries) {
      if (typeof entry === 'string') continue;
      const trigger = triggerDuration(entry.trigger);
      if (trigger === undefined) continue;
      lines.push(
        'BEGIN:VALARM',
        'ACTION:DISPLAY',
        `DESCRIPTION:${escapeText(fillTemplate(entry.description, values))}`,
        `TRIGGER:${trigger}`,
        'END:VALARM',
      );
    }
    lines.push('END:VEVENT');
  }
  if (firstUid === '') return undefined;
  lines.push('END:VCALENDAR');
  return {
    text: `${lines.map(fold).join('\r\n')}\r\n`,
    etag: `"bda0${bdayS}00${cardEtag.slice(15)}`,
    uid: firstUid,
  };
}
