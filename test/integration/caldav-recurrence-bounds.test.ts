/**
 * Recurrence rules that never (or almost never) produce an occurrence must not stop the server: a
 * PUT of one, and every query, expansion and free-busy over it, answers in bounded time while other
 * users are served; a folder Radicale wrote with such items is listed and queried, and
 * `--verify-storage` finishes. The server runs as its own process so that a stuck server fails the
 * test instead of stopping it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, ROOT, spawnAlmanac, type AlmanacProcess } from '../helpers/almanac-process.js';
import { whileRunning } from '../helpers/responsiveness.js';

const NSDECL = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"';
const auth = (user: string): string => `Basic ${Buffer.from(`${user}:${user}pw`).toString('base64')}`;

/** Rules with no occurrence after DTSTART (Monday 2024-01-01 10:00:00Z), known to be empty. */
const NEVER = [
  'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20300101T000000Z',
  'FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31',
  'FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31;UNTIL=20991231T000000Z',
  'FREQ=SECONDLY;BYSECOND=60',
  'FREQ=SECONDLY;BYSECOND=60;UNTIL=20991231T235959Z',
  'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=-30',
  'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30',
  // Possible parts that exclude each other (Tuesdays every 7 days from a Monday): the walk ends at
  // the end of what is asked.
  'FREQ=DAILY;INTERVAL=7;BYDAY=TU',
];
/**
 * Rules too costly to walk to the end of what is asked (every second, or minute, of February 29th
 * from January 1st on): only the bounds of the walk stop these, and an answer may then be a
 * conservative match or a 400.
 */
const HARD = [
  'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29',
  'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=0;BYMINUTE=0',
];

function event(uid: string, rule: string): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20240101T000000Z',
    'DTSTART:20240101T100000Z',
    'DTEND:20240101T110000Z',
    `RRULE:${rule}`,
    'SUMMARY:never again',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** An event in a zone whose only observance repeats every second (ical.js would walk it for ever). */
const SECONDLY_ZONE = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//almanac tests//EN',
  'BEGIN:VTIMEZONE',
  'TZID:Every/Second',
  'BEGIN:STANDARD',
  'DTSTART:19700101T000000',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0100',
  'RRULE:FREQ=SECONDLY',
  'END:STANDARD',
  'BEGIN:DAYLIGHT',
  'DTSTART:19700101T000000',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30',
  'END:DAYLIGHT',
  'END:VTIMEZONE',
  'BEGIN:VEVENT',
  'UID:zone',
  'DTSTAMP:20240101T000000Z',
  'DTSTART;TZID=Every/Second:20240101T110000',
  'DTEND;TZID=Every/Second:20240101T120000',
  'RRULE:FREQ=WEEKLY;COUNT=3',
  'SUMMARY:odd zone',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

interface Reply {
  status: number;
  text: string;
  ms: number;
}

async function call(
  base: string,
  user: string,
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply> {
  const t0 = performance.now();
  try {
    const r = await fetch(base + path, {
      method,
      body: opts.body,
      headers: { Authorization: auth(user), ...opts.headers },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 20_000),
    });
    const text = await r.text();
    return { status: r.status, text, ms: performance.now() - t0 };
  } catch (e) {
    return { status: 0, text: String(e), ms: performance.now() - t0 };
  }
}

const xml = { 'Content-Type': 'application/xml; charset=utf-8', Depth: '1' };
const putItem = (base: string, path: string, text: string): Promise<Reply> =>
  call(base, path.split('/')[1] ?? '', 'PUT', path, {
    body: text,
    headers: { 'Content-Type': 'text/calendar; charset=utf-8' },
  });
const eventQuery = (start: string, end: string): string =>
  `<C:calendar-query ${NSDECL}><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR">` +
  `<C:comp-filter name="VEVENT"><C:time-range start="${start}" end="${end}"/></C:comp-filter>` +
  `</C:comp-filter></C:filter></C:calendar-query>`;
const expandQuery = (start: string, end: string): string =>
  `<C:calendar-query ${NSDECL}><D:prop><C:calendar-data><C:expand start="${start}" end="${end}"/></C:calendar-data></D:prop>` +
  `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">` +
  `<C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
const freeBusy = (start: string, end: string): string =>
  `<C:free-busy-query ${NSDECL}><C:time-range start="${start}" end="${end}"/></C:free-busy-query>`;
/** A query the span cache cannot answer: the general filter walks the instances. */
const generalQuery = (start: string, end: string): string =>
  `<C:calendar-query ${NSDECL}><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR">` +
  `<C:comp-filter name="VEVENT"><C:time-range start="${start}" end="${end}"/>` +
  `<C:prop-filter name="SUMMARY"><C:text-match>never</C:text-match></C:prop-filter></C:comp-filter>` +
  `</C:comp-filter></C:filter></C:calendar-query>`;

/** The slowest answer bob got in this file, reported at its end. */
let slowestBob = 0;

/** Bob's GETs while alice's `work` runs: each is answered, the slowest within a second. */
async function whileOthersAsk<T>(base: string, work: () => Promise<T>): Promise<T> {
  const bobs: Reply[] = [];
  const r = await whileRunning(work(), async () => {
    bobs.push(await call(base, 'bob', 'GET', '/bob/cal/hello.ics', { timeoutMs: 5000 }));
  });
  for (const b of bobs) assert.equal(b.status, 200, `bob's GET while alice's request ran: ${b.text}`);
  assert.ok(r.slowestMs < 1000, `bob waited ${Math.round(r.slowestMs)} ms`);
  slowestBob = Math.max(slowestBob, r.slowestMs);
  return r.result;
}

const hello = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//almanac tests//EN',
  'BEGIN:VEVENT',
  'UID:hello',
  'DTSTAMP:20240101T000000Z',
  'DTSTART:20240105T100000Z',
  'DTEND:20240105T110000Z',
  'SUMMARY:hello',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

/** A PUT of an item and, at the same time, the requests that walk its recurrences. */
function putAndAsk(base: string, cal: string, name: string, text: string): Promise<Reply[]> {
  const ask = (body: string): Promise<Reply> => call(base, 'alice', 'REPORT', cal, { body, headers: xml });
  return Promise.all([
    putItem(base, `${cal}${name}`, text),
    ask(eventQuery('20250301T000000Z', '20250401T000000Z')),
    ask(generalQuery('20250301T000000Z', '20250401T000000Z')),
    ask(expandQuery('20240101T000000Z', '20240201T000000Z')),
    ask(freeBusy('20240101T000000Z', '20250101T000000Z')),
  ]);
}

describe('a PUT of a recurrence without occurrences, and every request over it', () => {
  let srv: AlmanacProcess;
  const ask = (cal: string, body: string): Promise<Reply> =>
    call(srv.url, 'alice', 'REPORT', cal, { body, headers: xml });
  before(async () => {
    srv = await spawnAlmanac();
    for (const path of ['/alice/cal/', '/alice/hard/', '/bob/cal/']) {
      const r = await call(srv.url, path.split('/')[1] ?? '', 'MKCALENDAR', path);
      assert.equal(r.status, 201, r.text);
    }
    assert.equal((await putItem(srv.url, '/bob/cal/hello.ics', hello)).status, 201);
  });
  after(async () => {
    assert.equal(await srv.stop(), true, 'the server stops on SIGTERM');
  });

  it('stores each, answers queries, expansions and free-busy exactly, and serves bob meanwhile', async () => {
    for (const [i, rule] of NEVER.entries()) {
      const replies = await whileOthersAsk(srv.url, () =>
        putAndAsk(srv.url, '/alice/cal/', `never-${i}.ics`, event(`never-${i}`, rule)),
      );
      const [put, ...reports] = replies as [Reply, Reply, Reply, Reply, Reply];
      assert.equal(put.status, 201, `${rule}: ${put.text}`);
      assert.deepEqual(
        reports.map((r) => r.status),
        [207, 207, 207, 200],
        `${rule}: ${reports.map((r) => r.text).join('\n')}`,
      );
    }
  });

  it('counts DTSTART as the only instance of such a rule', async () => {
    const first = await ask('/alice/cal/', eventQuery('20240101T000000Z', '20240102T000000Z'));
    const later = await ask('/alice/cal/', eventQuery('20240102T000000Z', '20991231T000000Z'));
    const laterGeneral = await ask('/alice/cal/', generalQuery('20240102T000000Z', '20991231T000000Z'));
    for (const [i, rule] of NEVER.entries()) {
      const href = `/alice/cal/never-${i}.ics`;
      assert.ok(first.text.includes(href), `${rule}: DTSTART matches`);
      assert.ok(!later.text.includes(href), `${rule}: nothing after DTSTART`);
      assert.ok(!laterGeneral.text.includes(href), `${rule}: nothing after DTSTART (general filter)`);
    }
    const expand = await ask('/alice/cal/', expandQuery('20240101T000000Z', '20250101T000000Z'));
    assert.equal(expand.status, 207, expand.text);
    assert.equal((expand.text.match(/BEGIN:VEVENT/g) ?? []).length, NEVER.length);
    const fb = await call(srv.url, 'alice', 'REPORT', '/alice/cal/', {
      body: freeBusy('20240101T000000Z', '20250101T000000Z'),
      headers: xml,
    });
    assert.match(fb.text, /^FREEBUSY;FBTYPE=BUSY:20240101T100000Z\/20240101T110000Z\r$/m);
    assert.equal((fb.text.match(/^FREEBUSY/gm) ?? []).length, 1, fb.text);
  });

  it('answers in bounded time where only the bounds of the walk can tell', async () => {
    for (const [i, rule] of HARD.entries()) {
      // The PUT and the query over it, while bob is served.
      const [put, query] = await whileOthersAsk(srv.url, () =>
        Promise.all([
          putItem(srv.url, `/alice/hard/hard-${i}.ics`, event(`hard-${i}`, rule)),
          ask('/alice/hard/', generalQuery('20250301T000000Z', '20250401T000000Z')),
        ]),
      );
      assert.equal(put?.status, 201, `${rule}: ${put?.text}`);
      assert.equal(query?.status, 207, `${rule}: ${query?.text}`);
      const [q2, expand, fb] = await Promise.all([
        ask('/alice/hard/', eventQuery('20250301T000000Z', '20250401T000000Z')),
        ask('/alice/hard/', expandQuery('20240101T000000Z', '20240201T000000Z')),
        ask('/alice/hard/', freeBusy('20240101T000000Z', '20250101T000000Z')),
      ]);
      assert.equal(q2.status, 207, `${rule}: ${q2.text}`);
      // A walk that cannot finish within its bounds is an error the client can read, never a hang.
      assert.ok([207, 400].includes(expand.status), `${rule}: expand ${expand.status} ${expand.text}`);
      assert.ok([200, 400].includes(fb.status), `${rule}: free-busy ${fb.status} ${fb.text}`);
    }
  });

  it('judges a rule with UNTIL that it cannot count within bounds by the estimate', async () => {
    // Tuesdays every seven days from a Monday, until 9999: nothing, but only a walk of 417,000 weeks
    // could tell; (UNTIL - DTSTART) / 7 days is Radicale's estimate, far over max_vevent_rrule_occurrence.
    const [put] = await whileOthersAsk(srv.url, () =>
      Promise.all([
        putItem(
          srv.url,
          '/alice/hard/until.ics',
          event('until', 'FREQ=DAILY;INTERVAL=7;BYDAY=TU;UNTIL=99991231T000000Z'),
        ),
      ]),
    );
    assert.equal(put?.status, 403, put?.text);
    assert.match(put?.text ?? '', /valid-calendar-object-resource/);
  });

  it('bounds the walk of a VTIMEZONE observance rule too', async () => {
    const replies = await whileOthersAsk(srv.url, () =>
      putAndAsk(srv.url, '/alice/cal/', 'zone.ics', SECONDLY_ZONE),
    );
    assert.equal(replies[0]?.status, 201, replies[0]?.text);
    const week2 = await ask('/alice/cal/', eventQuery('20240108T000000Z', '20240109T000000Z'));
    assert.ok(week2.text.includes('/alice/cal/zone.ics'), week2.text);
  });
});

describe('a folder where Radicale stored such items', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'almanac-never-'));
    const cal = join(dir, 'collection-root', 'alice', 'cal');
    mkdirSync(cal, { recursive: true });
    writeFileSync(join(cal, '.Radicale.props'), '{"tag": "VCALENDAR"}');
    for (const [i, rule] of NEVER.entries())
      writeFileSync(join(cal, `never-${i}.ics`), event(`never-${i}`, rule));
    for (const [i, rule] of HARD.entries())
      writeFileSync(join(cal, `hard-${i}.ics`), event(`hard-${i}`, rule));
    writeFileSync(join(cal, 'zone.ics'), SECONDLY_ZONE);
    const bobs = join(dir, 'collection-root', 'bob', 'cal');
    mkdirSync(bobs, { recursive: true });
    writeFileSync(join(bobs, '.Radicale.props'), '{"tag": "VCALENDAR"}');
    writeFileSync(join(bobs, 'hello.ics'), hello);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is listed and queried on first access while bob is served', async () => {
    const srv = await spawnAlmanac({ folder: dir });
    try {
      // Bob has been served once (a cold server's first answer is slow whatever it serves); alice's
      // calendar is still untouched.
      assert.equal((await call(srv.url, 'bob', 'GET', '/bob/cal/hello.ics')).status, 200);
      const [list, query, fb] = await whileOthersAsk(srv.url, () =>
        Promise.all([
          call(srv.url, 'alice', 'PROPFIND', '/alice/cal/', {
            body: `<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`,
            headers: xml,
          }),
          call(srv.url, 'alice', 'REPORT', '/alice/cal/', {
            body: generalQuery('20240101T000000Z', '20240102T000000Z'),
            headers: xml,
          }),
          call(srv.url, 'alice', 'REPORT', '/alice/cal/', {
            body: freeBusy('20240101T000000Z', '20240201T000000Z'),
            headers: xml,
          }),
        ]),
      );
      assert.equal(list?.status, 207, list?.text);
      assert.equal(
        (list?.text.match(/<D:response>/g) ?? []).length,
        NEVER.length + HARD.length + 2,
        list?.text,
      );
      assert.equal(query?.status, 207, query?.text);
      for (const i of NEVER.keys()) assert.ok(query?.text.includes(`never-${i}.ics`), `never-${i}`);
      for (const i of HARD.keys()) assert.ok(query?.text.includes(`hard-${i}.ics`), `hard-${i}`);
      assert.ok(fb?.status === 200 || fb?.status === 400, fb?.text);
    } finally {
      assert.equal(await srv.stop(), true, 'the server stops on SIGTERM');
    }
  });

  it('is checked by --verify-storage in bounded time', () => {
    const cfg = join(dir, 'verify.ini');
    writeFileSync(cfg, `[storage]\nfilesystem_folder = ${dir}\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--config', cfg, '--verify-storage'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.signal, null, `--verify-storage was killed after 60 s: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
  });
});

after(() => {
  process.stdout.write(`slowest answer to bob while alice's requests ran: ${Math.round(slowestBob)} ms\n`);
});
