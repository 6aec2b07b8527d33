/**
 * Conversion of raw option strings to typed values, with the same acceptance rules as Radicale's
 * config type functions (`positive_int`, `positive_float`, configparser booleans, `filepath`...).
 * Each converter throws `ConversionError` naming what was expected; the loader adds the context.
 */

import * as os from 'node:os';
import * as path from 'node:path';
import type { OptionSpec } from './schema.js';

export class ConversionError extends Error {
  constructor(readonly expected: string) {
    super(`expected ${expected}`);
    this.name = 'ConversionError';
  }
}

/** configparser.RawConfigParser.BOOLEAN_STATES (looked up case-insensitively, not stripped). */
const BOOLEAN_STATES: ReadonlyMap<string, boolean> = new Map([
  ['1', true],
  ['yes', true],
  ['true', true],
  ['on', true],
  ['0', false],
  ['no', false],
  ['false', false],
  ['off', false],
]);

/** Python `int()` on a str: optional sign, decimal digits with single underscores between them. */
const PY_INT_RE = /^[+-]?\d(?:_?\d)*$/;
/** Python `float()` on a str, finite forms only (inf/nan are refused by Radicale anyway). */
const PY_FLOAT_RE = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const OCTAL_RE = /^(?:0o)?[0-7]+$/i;

export function toBool(raw: string): boolean {
  const value = BOOLEAN_STATES.get(raw.toLowerCase());
  if (value === undefined) throw new ConversionError('a boolean (1/yes/true/on or 0/no/false/off)');
  return value;
}

export function toInt(raw: string): number {
  const text = raw.trim();
  const value = PY_INT_RE.test(text) ? Number(text.replace(/_/g, '')) : NaN;
  if (!Number.isSafeInteger(value) || value < 0) throw new ConversionError('a non-negative integer');
  return value === 0 ? 0 : value; // normalise -0
}

export function toFloat(raw: string): number {
  const text = raw.trim();
  const value = PY_FLOAT_RE.test(text) ? Number(text.replace(/_/g, '')) : NaN;
  if (!Number.isFinite(value) || value < 0) throw new ConversionError('a non-negative number');
  return value === 0 ? 0 : value;
}

export function toList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** JSON object options; an empty value means "no entries" as Radicale's `json_str` returns `{}`. */
export function toJsonObject(raw: string): unknown {
  if (raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ConversionError('a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConversionError('a JSON object');
  }
  return value;
}

export function toOctal(raw: string): number | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (!OCTAL_RE.test(text)) throw new ConversionError('an octal number such as 0077');
  return parseInt(text.replace(/^0o/i, ''), 8);
}

/** Radicale's `filepath`: empty stays empty, a leading `~` becomes the home folder, then absolute. */
export function toPath(raw: string, home: string): string {
  if (raw === '') return '';
  let expanded = raw;
  if (raw === '~' || raw.startsWith('~/')) expanded = home + raw.slice(1);
  return path.resolve(expanded);
}

/**
 * A 'choice' value. For a `type` that may name a plugin (`spec.plugin`), any value that is not a
 * built-in is kept as a module name, as Radicale keeps any string: whether it loads is decided when
 * the server starts (src/config/plugin.ts), with a message that says why not.
 */
export function toChoice(raw: string, spec: OptionSpec): string {
  const choices = spec.choices ?? [];
  if (choices.includes(raw) || spec.plugin === true) return raw;
  throw new ConversionError(`one of ${choices.join(', ')}`);
}

export function homeDir(env: NodeJS.ProcessEnv): string {
  const home = env['HOME'];
  return home !== undefined && home !== '' ? home : os.homedir();
}

/** Converts a raw value according to its schema entry. */
export function convertValue(raw: string, spec: OptionSpec, home: string): unknown {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'int':
      return toInt(raw);
    case 'float':
      return toFloat(raw);
    case 'bool':
      return toBool(raw);
    case 'list':
      return toList(raw);
    case 'json':
      return toJsonObject(raw);
    case 'octal':
      return toOctal(raw);
    case 'path':
      return toPath(raw, home);
    case 'choice':
      return toChoice(raw, spec);
  }
}
