/**
 * `--help` text, generated from SCHEMA so every option, flag and default stays in sync with the loader.
 * Private options (leading `_`) are accepted on the command line but not listed, as in Radicale.
 */

import { longFlag } from './args.js';
import { SCHEMA, type OptionSpec } from './schema.js';

const GENERAL: readonly (readonly [string, string])[] = [
  ['-h, --help', 'show this help and exit'],
  ['--version', 'show the version and exit'],
  ['--verify-storage', 'check the storage for errors and exit'],
  ['--verify-item FILE', 'check one item file (iCalendar or vCard) as the server would store it, and exit'],
  ['--verify-sharing', 'check the [sharing] database (csv or files) and exit'],
  ['-C, --config PATH...', "use these config files (':'-separated; '?' prefix = optional; \"\" = none)"],
  ['-D, --debug', 'print debug information (same as --logging-level debug)'],
];

const SECTION_NOTES: Readonly<Record<string, string>> = {
  headers: 'additional response headers (e.g. --headers-Cache-Control=no-cache)',
};

function flagsOf(section: string, option: string, spec: OptionSpec): string[] {
  const names = [...(spec.aliases ?? []), longFlag(section, option)];
  if (spec.type !== 'bool') return [names.map((name) => `${name} VALUE`).join(', ')];
  const opposite = [...(spec.oppositeAliases ?? []), `--no-${longFlag(section, option).slice(2)}`];
  return [names.map((name) => `${name} [VALUE]`).join(', '), opposite.join(', ')];
}

function describe(spec: OptionSpec): string {
  const parts = [spec.help];
  if (spec.choices !== undefined) {
    parts.push(`(${spec.choices.join(' | ')}${spec.plugin === true ? ' | plugin module' : ''})`);
  }
  // Multi-line defaults (the [hook] mail templates) on one line, with \n for the line breaks.
  parts.push(`[default: ${spec.default === '' ? '(empty)' : spec.default.replace(/\n/g, '\\n')}]`);
  if (spec.support === 'later') parts.push('(not yet supported)');
  return parts.join(' ');
}

function entry(flags: string, text: string): string {
  return `  ${flags}\n      ${text}`;
}

function sectionText(section: string, options: Readonly<Record<string, OptionSpec>>): string {
  const lines = [`[${section}]${SECTION_NOTES[section] !== undefined ? ` ${SECTION_NOTES[section]}` : ''}`];
  if (Object.hasOwn(options, 'type'))
    lines.push('  (a plugin type may take additional --' + section + '-<name> options)');
  for (const [option, spec] of Object.entries(options)) {
    if (option.startsWith('_')) continue;
    const [setFlags, unsetFlags] = flagsOf(section, option, spec);
    lines.push(entry(setFlags ?? '', describe(spec)));
    if (unsetFlags !== undefined) lines.push(entry(unsetFlags, `set ${section}.${option} to False`));
  }
  return lines.join('\n');
}

export function helpText(): string {
  const parts = [
    'Usage: almanac [OPTIONS]',
    '       almanac storage migrate|copy ...   (almanac storage --help)',
    '       almanac user add|passwd|remove|list ...   (almanac user --help)',
    '',
    'A CalDAV/CardDAV server reading Radicale configuration files.',
    '',
    'Commands:',
    entry('storage migrate', 'run the PostgreSQL schema migrations'),
    entry('storage copy --from A --to B', 'mirror a data folder into PostgreSQL, or back, or any pair'),
    entry('user add|passwd|remove NAME, user list', 'manage the users of [auth] htpasswd_filename'),
    '',
    'General options:',
    ...GENERAL.map(([flags, text]) => entry(flags, text)),
  ];
  for (const [section, options] of Object.entries(
    SCHEMA as Readonly<Record<string, Readonly<Record<string, OptionSpec>>>>,
  )) {
    parts.push('', sectionText(section, options));
  }
  return parts.join('\n') + '\n';
}
