// Deterministic benchmark data: iCalendar events and vCards, and a data folder in Radicale's
// multifilesystem layout so both servers open exactly the same bytes.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const CRLF = '\r\n';

/** Small linear congruential generator: the same seed gives the same data on every machine. */
export function makeRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x100000000;
  };
}

const VTIMEZONE_BERLIN = [
  'BEGIN:VTIMEZONE',
  'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'TZNAME:CEST',
  'DTSTART:19700329T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU',
  'END:DAYLIGHT',
  'BEGIN:STANDARD',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'TZNAME:CET',
  'DTSTART:19701025T030000',
  'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
  'END:STANDARD',
  'END:VTIMEZONE',
];

/** Events are spread over two years starting here, so a one-month range holds about 1/24 of them. */
const EPOCH = Date.UTC(2025, 6, 1);
const SPAN_DAYS = 730;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function dateOnly(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
}

function localDateTime(ms: number): string {
  const d = new Date(ms);
  return `${dateOnly(ms)}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}00`;
}

function fold(line: string): string {
  // RFC 5545 folding at 75 octets (data is ASCII, so characters equal octets).
  if (line.length <= 75) return line;
  const parts = [line.slice(0, 75)];
  for (let i = 75; i < line.length; i += 74) parts.push(' ' + line.slice(i, i + 74));
  return parts.join(CRLF);
}

function toText(lines: string[]): string {
  return lines.map(fold).join(CRLF) + CRLF;
}

const WORDS = [
  'Planning',
  'Review',
  'Standup',
  'Lunch',
  'Call',
  'Workshop',
  'Dentist',
  'Gym',
  'Demo',
  'Retro',
];
const NAMES = [
  'Anna',
  'Ben',
  'Clara',
  'David',
  'Eva',
  'Felix',
  'Greta',
  'Hans',
  'Ida',
  'Jonas',
  'Karl',
  'Lena',
];

export function eventUid(seed: string, i: number): string {
  return `ev-${seed}-${pad(i, 6)}@bench.almanac`;
}

export function eventHref(seed: string, i: number): string {
  return `ev-${seed}-${pad(i, 6)}.ics`;
}

/** The VEVENT lines of event i (one or two components: a recurring master and its override). */
function eventComponents(seed: string, i: number, rng: () => number): string[] {
  const uid = eventUid(seed, i);
  const day = Math.floor(rng() * SPAN_DAYS);
  const hour = 7 + Math.floor(rng() * 11);
  const start = EPOCH + day * 86400000 + hour * 3600000;
  const summary = `${WORDS[i % WORDS.length] ?? 'Event'} ${i}`;
  const common = [`UID:${uid}`, 'DTSTAMP:20250101T120000Z', `SUMMARY:${summary}`];
  const kind = i % 10;
  if (kind === 0) {
    // All-day event, one or two days.
    const days = 1 + (i % 2);
    return [
      'BEGIN:VEVENT',
      ...common,
      `DTSTART;VALUE=DATE:${dateOnly(start)}`,
      `DTEND;VALUE=DATE:${dateOnly(start + days * 86400000)}`,
      'TRANSP:TRANSPARENT',
      'END:VEVENT',
    ];
  }
  if (kind === 1 || kind === 2) {
    // Weekly recurrence with two EXDATEs and one overridden instance; kind 2 is open-ended.
    const rule = kind === 1 ? 'RRULE:FREQ=WEEKLY;COUNT=20' : 'RRULE:FREQ=WEEKLY';
    const ex1 = localDateTime(start + 2 * 7 * 86400000);
    const ex2 = localDateTime(start + 5 * 7 * 86400000);
    const moved = start + 3 * 7 * 86400000;
    return [
      'BEGIN:VEVENT',
      ...common,
      `DTSTART;TZID=Europe/Berlin:${localDateTime(start)}`,
      `DTEND;TZID=Europe/Berlin:${localDateTime(start + 3600000)}`,
      rule,
      `EXDATE;TZID=Europe/Berlin:${ex1},${ex2}`,
      'END:VEVENT',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20250101T120000Z',
      `SUMMARY:${summary} (moved)`,
      `RECURRENCE-ID;TZID=Europe/Berlin:${localDateTime(moved)}`,
      `DTSTART;TZID=Europe/Berlin:${localDateTime(moved + 2 * 3600000)}`,
      `DTEND;TZID=Europe/Berlin:${localDateTime(moved + 3 * 3600000)}`,
      'END:VEVENT',
    ];
  }
  const lines = [
    'BEGIN:VEVENT',
    ...common,
    `DTSTART;TZID=Europe/Berlin:${localDateTime(start)}`,
    `DTEND;TZID=Europe/Berlin:${localDateTime(start + (1 + (i % 3)) * 1800000)}`,
    `LOCATION:Room ${i % 40}`,
    `DESCRIPTION:Generated benchmark event number ${i} with a description long enough to be folded acros` +
      's two lines of the file.',
  ];
  if (kind >= 5) {
    const a = NAMES[i % NAMES.length] ?? 'X';
    const b = NAMES[(i + 5) % NAMES.length] ?? 'Y';
    lines.push(
      `ORGANIZER;CN=${a}:mailto:${a.toLowerCase()}@example.org`,
      `ATTENDEE;CN=${b};PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:${b.toLowerCase()}@example.org`,
      `ATTENDEE;CN=Room;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:room${i % 40}@example.org`,
    );
  }
  if (kind >= 3 && kind <= 6) {
    lines.push('BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Reminder', 'TRIGGER:-PT15M', 'END:VALARM');
  }
  lines.push('END:VEVENT');
  return lines;
}

/** One item file: VCALENDAR with the Berlin VTIMEZONE and the components of event i. */
export function eventIcs(seed: string, i: number, revision = 0): string {
  const rng = makeRng(hashSeed(seed) + i * 7919);
  const comps = eventComponents(seed, i, rng);
  if (revision > 0) comps.splice(comps.indexOf('END:VEVENT'), 0, `SEQUENCE:${revision}`);
  return toText([
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Almanac//bench//EN',
    ...VTIMEZONE_BERLIN,
    ...comps,
    'END:VCALENDAR',
  ]);
}

/** A whole calendar (one VCALENDAR, one VTIMEZONE) of n events, for whole-collection PUT. */
export function calendarIcs(seed: string, n: number): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Almanac//bench//EN', ...VTIMEZONE_BERLIN];
  for (let i = 0; i < n; i++) lines.push(...eventComponents(seed, i, makeRng(hashSeed(seed) + i * 7919)));
  lines.push('END:VCALENDAR');
  return toText(lines);
}

function hashSeed(seed: string): number {
  let h = 2166136261;
  for (let k = 0; k < seed.length; k++) h = Math.imul(h ^ seed.charCodeAt(k), 16777619) >>> 0;
  return h;
}

/** A tiny deterministic "photo" (PNG signature + pseudo-random bytes, ~300 bytes base64). */
function photoBase64(i: number): string {
  const rng = makeRng(i + 17);
  const bytes = Buffer.alloc(220);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes);
  for (let k = 8; k < bytes.length; k++) bytes[k] = Math.floor(rng() * 256);
  return bytes.toString('base64');
}

export function contactUid(i: number): string {
  return `card-${pad(i, 6)}@bench.almanac`;
}

export function contactHref(i: number): string {
  return `card-${pad(i, 6)}.vcf`;
}

/** vCard i: even numbers are vCard 3.0, odd ones 4.0; every fourth has a photo. */
export function contactVcf(i: number): string {
  const given = NAMES[i % NAMES.length] ?? 'X';
  const family = `${WORDS[(i * 3) % WORDS.length] ?? 'Y'}mann${i}`;
  const v4 = i % 2 === 1;
  const lines = ['BEGIN:VCARD', `VERSION:${v4 ? '4.0' : '3.0'}`, `UID:${contactUid(i)}`];
  lines.push(`FN:${given} ${family}`, `N:${family};${given};;;`);
  lines.push(
    v4
      ? `EMAIL;TYPE=work:${given.toLowerCase()}.${i}@example.org`
      : `EMAIL;TYPE=INTERNET,WORK:${given.toLowerCase()}.${i}@example.org`,
  );
  lines.push(v4 ? `TEL;VALUE=uri;TYPE=cell:tel:+49-30-${pad(i, 7)}` : `TEL;TYPE=CELL:+49 30 ${pad(i, 7)}`);
  lines.push(`ORG:Bench Corp ${i % 20}`, `NOTE:Contact number ${i}`);
  if (i % 4 === 0 || i % 4 === 1) {
    lines.push(
      v4 ? `PHOTO:data:image/png;base64,${photoBase64(i)}` : `PHOTO;ENCODING=b;TYPE=PNG:${photoBase64(i)}`,
    );
  }
  lines.push('END:VCARD');
  return toText(lines);
}

export interface FolderSpec {
  user: string;
  /** Calendar collection name -> number of events. */
  calendars: Record<string, number>;
  /** Address book collection name -> number of contacts. */
  addressbooks: Record<string, number>;
}

/** Writes the data folder (items + .Radicale.props, no caches) in Radicale's multifilesystem layout. */
export async function writeDataFolder(root: string, spec: FolderSpec): Promise<void> {
  const userDir = join(root, 'collection-root', spec.user);
  await mkdir(userDir, { recursive: true });
  for (const [name, n] of Object.entries(spec.calendars)) {
    const dir = join(userDir, name);
    await mkdir(dir, { recursive: true });
    const props = {
      'C:supported-calendar-component-set': 'VEVENT,VTODO',
      'D:displayname': name,
      tag: 'VCALENDAR',
    };
    await writeFile(
      join(dir, '.Radicale.props'),
      JSON.stringify(props).replace(/","/g, '", "').replace(/":"/g, '": "'),
    );
    await writeBatched(n, (i) => writeFile(join(dir, eventHref(name, i)), eventIcs(name, i)));
  }
  for (const [name, n] of Object.entries(spec.addressbooks)) {
    const dir = join(userDir, name);
    await mkdir(dir, { recursive: true });
    const props = { 'D:displayname': name, tag: 'VADDRESSBOOK' };
    await writeFile(
      join(dir, '.Radicale.props'),
      JSON.stringify(props).replace(/","/g, '", "').replace(/":"/g, '": "'),
    );
    await writeBatched(n, (i) => writeFile(join(dir, contactHref(i)), contactVcf(i)));
  }
}

async function writeBatched(n: number, write: (i: number) => Promise<void>): Promise<void> {
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    const jobs: Promise<void>[] = [];
    for (let k = i; k < Math.min(n, i + batch); k++) jobs.push(write(k));
    await Promise.all(jobs);
  }
}
