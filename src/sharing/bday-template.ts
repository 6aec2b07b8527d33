/**
 * The template language of Radicale's `bday` conversion ([sharing] conversion_bday_*), with no other
 * dependency so that the config loader can check the options at start-up:
 *
 * - placeholders `{fn}`, `{n:f}` (family name), `{n:g}` (given), `{n:a}` (additional), `{nickname}`,
 *   `{year}`, `{month}`, `{day}`, `{age}`; a value the card lacks becomes the marker `!name!`;
 * - fallback groups `[a|b|c]`: the first alternative without a marker wins; when none does, the last
 *   one is used. Groups are resolved from the last one in the text backwards, and, as in Radicale, a
 *   group that falls back to its last alternative ends the resolution (groups before it stay as written).
 *
 * The alarm template is `TRIGGER;DESCRIPTION` entries joined with `$`; TRIGGER is `[+-]<n><W|D|H|M>`.
 */

export const BDAY_PLACEHOLDERS = [
  'fn',
  'n:f',
  'n:g',
  'n:a',
  'age',
  'nickname',
  'year',
  'month',
  'day',
] as const;
export type BdayPlaceholder = (typeof BDAY_PLACEHOLDERS)[number];

/** Radicale's defaults (sharing/__init__.py SHARING_BDAY_*_DEFAULT). */
export const BDAY_DEFAULTS = {
  summary: '[{n:f} {n:g}|{fn}|{nickname}] ({year}) (BDAY)',
  description: 'BDAY={year}-{month}-{day}',
  alarms: '',
  categories: 'Birthday',
  ageMax: 99,
} as const;

export const BDAY_AGE_MAX_LIMIT = 199;

/** The five options by their Radicale names ([sharing] and a share's Actions.config). */
export const BDAY_OPTIONS = {
  conversion_bday_summary_template: 'summary',
  conversion_bday_description_template: 'description',
  conversion_bday_alarm_trigger_template: 'alarms',
  conversion_bday_categories: 'categories',
  conversion_bday_age_max: 'ageMax',
} as const;
export type BdayOptionName = keyof typeof BDAY_OPTIONS;

export interface BdaySettings {
  readonly summary: string;
  readonly description: string;
  readonly alarms: string;
  readonly categories: string;
  readonly ageMax: number;
}

const TRIGGER = /^([+-])?([0-9]+)([WDHM])$/;

function unknownPlaceholder(template: string): string | undefined {
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    const name = m[1] ?? '';
    if (!(BDAY_PLACEHOLDERS as readonly string[]).includes(name)) return `{${name}}`;
  }
  return undefined;
}

/** One alarm entry: the trigger text and the description template, or a reason it is not one. */
export function parseAlarmEntry(entry: string): { trigger: string; description: string } | string {
  const parts = entry.split(';');
  if (parts.length !== 2) return `alarm entry ${JSON.stringify(entry)} is not TRIGGER;DESCRIPTION`;
  const [trigger = '', description = ''] = parts;
  if (!TRIGGER.test(trigger)) return `alarm trigger ${JSON.stringify(trigger)} is not [+-]<number><W|D|H|M>`;
  return { trigger, description };
}

/** Why a value of a conversion_bday_* option is not valid, or undefined when it is. */
export function bdayOptionProblem(option: BdayOptionName, value: string | number): string | undefined {
  if (option === 'conversion_bday_age_max') {
    const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
    return Number.isInteger(n) && n >= 0 && n <= BDAY_AGE_MAX_LIMIT
      ? undefined
      : `${option} must be an integer from 0 to ${BDAY_AGE_MAX_LIMIT}`;
  }
  if (typeof value !== 'string') return `${option} must be a string`;
  if (option === 'conversion_bday_categories') return undefined;
  if (option === 'conversion_bday_summary_template' && value === '') return `${option} must not be empty`;
  if (option === 'conversion_bday_alarm_trigger_template') {
    if (value === '') return undefined;
    for (const entry of value.split('$')) {
      const parsed = parseAlarmEntry(entry);
      if (typeof parsed === 'string') return `${option}: ${parsed}`;
      const bad = unknownPlaceholder(parsed.description);
      if (bad !== undefined) return `${option}: unknown placeholder ${bad}`;
    }
    return undefined;
  }
  const bad = unknownPlaceholder(value);
  return bad === undefined ? undefined : `${option}: unknown placeholder ${bad}`;
}

/** The marker a placeholder gets when the card has no value for it. */
export const unresolved = (placeholder: BdayPlaceholder): string => `!${placeholder}!`;

const GROUP = /^(.*)\[([^|]+)\|([^\]]*)\](.*)/;

/**
 * Fills a template: each `{placeholder}` of `values` is replaced (in the order given), then the
 * fallback groups are resolved (see the module comment).
 */
export function fillTemplate(template: string, values: ReadonlyMap<BdayPlaceholder, string>): string {
  let text = template;
  for (const [name, value] of values) text = text.split(`{${name}}`).join(value);
  // Each turn removes one `[` (an alternative dropped or a group resolved), so this ends.
  for (;;) {
    const m = GROUP.exec(text);
    if (!m) break;
    const [whole, before = '', first = '', rest = '', after = ''] = m;
    const tail = after + text.slice(whole.length);
    const isUnresolved = BDAY_PLACEHOLDERS.some((p) => first.includes(unresolved(p)));
    if (!isUnresolved) {
      text = before + first + tail;
      continue;
    }
    if (rest.includes('|')) {
      text = `${before}[${rest}]${tail}`;
      continue;
    }
    text = before + rest + tail;
    break;
  }
  return text;
}

/** An alarm trigger (`-1D`, `+2H`, `15M`, `-1W`) as an iCalendar duration, as vobject writes it. */
export function triggerDuration(trigger: string): string | undefined {
  const m = TRIGGER.exec(trigger);
  if (!m) return undefined;
  const n = Number(m[2]);
  const unit = m[3];
  const negative = m[1] === '-' && n !== 0;
  let days = 0;
  let seconds = 0;
  if (unit === 'W') days = n * 7;
  else if (unit === 'D') days = n;
  else if (unit === 'H') seconds = n * 3600;
  else seconds = n * 60;
  days += Math.floor(seconds / 86400);
  seconds %= 86400;
  const h = Math.floor(seconds / 3600);
  const min = Math.floor((seconds % 3600) / 60);
  let out = `${negative ? '-' : ''}P`;
  if (days) out += `${days}D`;
  if (h || min) out += 'T';
  else if (!days) out += 'T0S';
  if (h) out += `${h}H`;
  if (min) out += `${min}M`;
  return out;
}
