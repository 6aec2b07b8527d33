/**
 * The bday conversion's template language and card conversion (Radicale's replace_placeholders and
 * convert_vcf_to_ics): placeholders, `[a|b|c]` fallback groups, option checks, alarm triggers, UIDs,
 * ETags, the no-year 1604, age events and their cap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BDAY_DEFAULTS,
  bdayOptionProblem,
  fillTemplate,
  triggerDuration,
  unresolved,
  type BdayPlaceholder,
  type BdaySettings,
} from '../../src/sharing/bday-template.js';
import { bdayHref, bdaySettings, convertCard } from '../../src/sharing/bday.js';

const values = (v: Partial<Record<BdayPlaceholder, string | undefined>>): Map<BdayPlaceholder, string> =>
  new Map(
    (['year', 'month', 'day', 'nickname', 'fn', 'n:f', 'n:g', 'n:a'] as const).map((p) => [
      p,
      v[p] ?? unresolved(p),
    ]),
  );

const DEFAULTS: BdaySettings = { ...BDAY_DEFAULTS };
const ETAG = `"${'a'.repeat(14)}${'0123456789'.repeat(5)}"`;

function card(lines: string[]): string {
  return ['BEGIN:VCARD', 'VERSION:3.0', ...lines, 'END:VCARD', ''].join('\r\n');
}

describe('bday template: fillTemplate', () => {
  const full = values({
    year: '1990',
    month: '03',
    day: '15',
    fn: 'Ann Smith',
    'n:f': 'Smith',
    'n:g': 'Ann',
  });

  void it('the default summary: family and given name when the card has both', () => {
    assert.equal(fillTemplate(BDAY_DEFAULTS.summary, full), 'Smith Ann (1990) (BDAY)');
  });

  void it('falls back to the next alternative while one has an unresolved placeholder', () => {
    const noN = values({ year: '1990', fn: 'Ann Smith' });
    assert.equal(fillTemplate(BDAY_DEFAULTS.summary, noN), 'Ann Smith (1990) (BDAY)');
    const onlyNick = values({ year: '1990', nickname: 'Annie' });
    assert.equal(fillTemplate(BDAY_DEFAULTS.summary, onlyNick), 'Annie (1990) (BDAY)');
  });

  void it('uses the last alternative when none resolves, markers and all', () => {
    assert.equal(fillTemplate('[{n:f}|{fn}|{nickname}]!', values({})), '!nickname!!');
    assert.equal(fillTemplate('[{fn}|nobody]', values({})), 'nobody');
  });

  void it('an alternative with only part of its placeholders resolved is skipped', () => {
    assert.equal(fillTemplate('[{n:f} {n:g}|{fn}]', values({ 'n:f': 'Smith', fn: 'A. Smith' })), 'A. Smith');
  });

  void it('several groups and plain text around them; text without groups is left as it is', () => {
    const v = values({ fn: 'Ann', nickname: 'Annie', day: '15', month: '03' });
    assert.equal(
      fillTemplate('[{n:g}|{fn}] aka [{nickname}|-] on {day}.{month}.', v),
      'Ann aka Annie on 15.03.',
    );
    assert.equal(
      fillTemplate('BDAY={year}-{month}-{day}', values({ year: '1990', month: '03', day: '15' })),
      'BDAY=1990-03-15',
    );
    assert.equal(fillTemplate('no [groups] here', v), 'no [groups] here');
  });

  void it('as Radicale: a group that falls back to its last alternative ends the resolution', () => {
    // Groups are resolved from the last one; the first one is then left as written.
    assert.equal(fillTemplate('[{fn}|x] [{n:f}|y]', values({ fn: 'Ann' })), '[Ann|x] y');
  });
});

describe('bday template: option checks and triggers', () => {
  void it('accepts the defaults and known placeholders only', () => {
    assert.equal(bdayOptionProblem('conversion_bday_summary_template', BDAY_DEFAULTS.summary), undefined);
    assert.equal(
      bdayOptionProblem('conversion_bday_description_template', BDAY_DEFAULTS.description),
      undefined,
    );
    assert.equal(bdayOptionProblem('conversion_bday_description_template', ''), undefined);
    assert.match(bdayOptionProblem('conversion_bday_summary_template', '') ?? '', /must not be empty/);
    assert.match(bdayOptionProblem('conversion_bday_summary_template', '{fn} {name}') ?? '', /\{name\}/);
    assert.match(bdayOptionProblem('conversion_bday_description_template', '{FN}') ?? '', /\{FN\}/);
  });

  void it('alarm entries TRIGGER;DESCRIPTION joined by $', () => {
    assert.equal(bdayOptionProblem('conversion_bday_alarm_trigger_template', ''), undefined);
    assert.equal(
      bdayOptionProblem('conversion_bday_alarm_trigger_template', '-1D;{fn} tomorrow$0M;Today: {fn}'),
      undefined,
    );
    assert.match(
      bdayOptionProblem('conversion_bday_alarm_trigger_template', '-1D') ?? '',
      /TRIGGER;DESCRIPTION/,
    );
    assert.match(bdayOptionProblem('conversion_bday_alarm_trigger_template', '-1Y;x') ?? '', /trigger/);
    assert.match(bdayOptionProblem('conversion_bday_alarm_trigger_template', '1D;{x}') ?? '', /\{x\}/);
  });

  void it('age_max from 0 to 199', () => {
    assert.equal(bdayOptionProblem('conversion_bday_age_max', 0), undefined);
    assert.equal(bdayOptionProblem('conversion_bday_age_max', 199), undefined);
    assert.ok(bdayOptionProblem('conversion_bday_age_max', 200));
    assert.ok(bdayOptionProblem('conversion_bday_age_max', -1));
  });

  void it('triggers as vobject writes the durations', () => {
    assert.equal(triggerDuration('-1D'), '-P1D');
    assert.equal(triggerDuration('1D'), 'P1D');
    assert.equal(triggerDuration('+2W'), 'P14D');
    assert.equal(triggerDuration('-90M'), '-PT1H30M');
    assert.equal(triggerDuration('-25H'), '-P1DT1H');
    assert.equal(triggerDuration('0M'), 'PT0S');
    assert.equal(triggerDuration('1Y'), undefined);
  });
});

describe('bday conversion: convertCard', () => {
  const now = new Date(2026, 5, 1);

  void it('dash and basic BDAY forms give a yearly all-day event; others give none', () => {
    for (const bday of ['1990-03-15', '19900315']) {
      const ev = convertCard(card(['FN:Ann', `BDAY:${bday}`]), ETAG, 0, DEFAULTS, now);
      assert.ok(ev, bday);
      assert.match(ev.text, /\r\nDTSTART;VALUE=DATE:19900315\r\nDTEND;VALUE=DATE:19900316\r\n/);
      assert.match(ev.text, /\r\nRRULE:FREQ=YEARLY\r\n/);
    }
    for (const bday of ['--0315', '1990-03-15T00:00:00Z', '1990-02-30', 'unknown'])
      assert.equal(convertCard(card(['FN:Ann', `BDAY:${bday}`]), ETAG, 0, DEFAULTS, now), undefined, bday);
    assert.equal(convertCard(card(['FN:Ann']), ETAG, 0, DEFAULTS, now), undefined);
    assert.equal(convertCard(card(['BDAY:1990-03-15']), ETAG, 0, DEFAULTS, now), undefined);
  });

  void it("ETag: bda0, the date, 00, then the card's ETag from its 15th character", () => {
    const ev = convertCard(card(['FN:Ann', 'BDAY:1990-03-15']), ETAG, 0, DEFAULTS, now);
    assert.equal(ev?.etag, `"bda01990031500${'0123456789'.repeat(5)}"`);
    assert.equal(ev?.etag.length, ETAG.length);
  });

  void it('UIDs as Radicale makes them', () => {
    const uuid = convertCard(
      card(['UID:0a1b2c3d-1111-2222-3333-0123456789ab', 'FN:Ann', 'BDAY:1990-03-15']),
      ETAG,
      0,
      DEFAULTS,
      now,
    );
    assert.equal(uuid?.uid, '0a1b2c3d-1111-2222-3333-bda019900315');
    assert.equal(
      convertCard(card(['UID:ann', 'FN:Ann', 'BDAY:1990-03-15']), ETAG, 0, DEFAULTS, now)?.uid,
      'ann-auto-converted-by-Radicale',
    );
    assert.equal(
      convertCard(card(['FN:Ann Smith', 'BDAY:1990-03-15']), ETAG, 0, DEFAULTS, now)?.uid,
      '19900315@Ann-Smith-auto-converted-by-Radicale',
    );
  });

  void it('year 1604 means no year: ???? and ??, and never age events', () => {
    const s: BdaySettings = { ...DEFAULTS, summary: '{fn} ({year}) {age}' };
    const ev = convertCard(card(['FN:Ann', 'BDAY:1604-03-15']), ETAG, 0, s, now);
    assert.match(ev?.text ?? '', /\r\nSUMMARY:Ann \(\?\?\?\?\) \?\?\r\n/);
    assert.match(ev?.text ?? '', /RRULE:FREQ=YEARLY/);
  });

  void it('{age}: one event per age up to age_max; none past the cap', () => {
    const s: BdaySettings = { ...DEFAULTS, summary: '{fn} [{age}|old]', description: '', ageMax: 40 };
    const ev = convertCard(card(['UID:ann', 'FN:Ann', 'BDAY:1990-03-15']), ETAG, 0, s, now);
    assert.equal(ev?.text.match(/BEGIN:VEVENT/g)?.length, 41);
    assert.match(
      ev?.text ?? '',
      /UID:ann-auto-converted-by-Radicale-AGE-40\r\nDTSTART;VALUE=DATE:20300315\r\n/,
    );
    assert.match(ev?.text ?? '', /SUMMARY:Ann 40\r\n/);
    assert.doesNotMatch(ev?.text ?? '', /RRULE|DESCRIPTION/);
    // 1950 + 40 is before 2026: a single yearly event, {age} unresolved so the group falls back.
    const old = convertCard(card(['FN:Bea', 'BDAY:1950-01-02']), ETAG, 0, s, now);
    assert.equal(old?.text.match(/BEGIN:VEVENT/g)?.length, 1);
    assert.match(old?.text ?? '', /SUMMARY:Bea old\r\n/);
    assert.match(old?.text ?? '', /RRULE:FREQ=YEARLY/);
  });

  void it("29 February's age events fall in leap years only", () => {
    const s: BdaySettings = { ...DEFAULTS, summary: '{age}', ageMax: 8 };
    const ev = convertCard(card(['FN:Leo', 'BDAY:2020-02-29']), ETAG, 0, s, now);
    assert.deepEqual(ev?.text.match(/DTSTART;VALUE=DATE:\d+/g), [
      'DTSTART;VALUE=DATE:20200229',
      'DTSTART;VALUE=DATE:20240229',
      'DTSTART;VALUE=DATE:20280229',
    ]);
  });

  void it('escapes text values, reads escaped card values and folds long lines', () => {
    const s: BdaySettings = { ...DEFAULTS, summary: '{fn}; {n:g}', categories: 'A,B' };
    const ev = convertCard(
      card([`FN:Smith\\, Ann ${'x'.repeat(80)}`, 'N:Smith;Ann\\;Marie;;;', 'BDAY:1990-03-15']),
      ETAG,
      0,
      s,
      now,
    );
    const text = ev?.text ?? '';
    assert.match(text, /\r\nSUMMARY:Smith\\, Ann x+\r\n x+\\; Ann\\;Marie\r\n/);
    assert.match(text, /\r\nCATEGORIES:A,B\r\n/);
    for (const line of text.split('\r\n')) assert.ok(Buffer.byteLength(line) <= 75, line);
  });

  void it('hrefs and per-share settings', () => {
    assert.equal(bdayHref('ann.vcf'), 'ann.ics');
    assert.equal(bdayHref('ann'), 'ann.ics');
    const s = bdaySettings(DEFAULTS, {
      config: {
        conversion_bday_summary_template: '{fn}',
        conversion_bday_age_max: 5,
        conversion_bday_categories: '{bad',
      },
    });
    assert.equal(s.summary, '{fn}');
    assert.equal(s.ageMax, 5);
    assert.equal(s.description, BDAY_DEFAULTS.description);
    // An override the API would refuse is ignored.
    assert.equal(
      bdaySettings(DEFAULTS, { config: { conversion_bday_summary_template: '{x}' } }).summary,
      DEFAULTS.summary,
    );
  });
});
