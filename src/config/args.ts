/**
 * Command-line parsing, generated from SCHEMA with Radicale's flag conventions:
 * `--<section>-<option-with-dashes>[=]VALUE`, bare boolean flags meaning True (or followed by a value),
 * `--no-<section>-<option>` meaning False, Radicale's short aliases, `-C/--config` taking any number of
 * paths, and pass-through of unknown options in sections that accept plugin or free-form options (the
 * loader then decides whether they are allowed, as Radicale does).
 */

import { SCHEMA, type OptionSpec } from './schema.js';

export type CliAction = 'serve' | 'help' | 'version' | 'verify-storage' | 'verify-item' | 'verify-sharing';

export interface ParsedArgs {
  /** `-C/--config` values in order; undefined when not given (then ALMANAC_CONFIG or the defaults apply). */
  configPaths?: string[];
  /** section -> option -> raw string, for `loadConfig({ args })`. */
  values: Record<string, Record<string, string>>;
  action: CliAction;
  debug: boolean;
  /** The file of `--verify-item FILE`. */
  verifyItem?: string;
}

export class ArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgsError';
  }
}

type Flag =
  | { readonly kind: 'set'; readonly section: string; readonly option: string; readonly spec: OptionSpec }
  | { readonly kind: 'unset'; readonly section: string; readonly option: string }
  | { readonly kind: 'verify-item' }
  | { readonly kind: 'config' | 'debug' | 'help' | 'version' | 'verify-storage' | 'verify-sharing' };

type SectionSchema = Readonly<Record<string, OptionSpec>>;
const SECTIONS = SCHEMA as Readonly<Record<string, SectionSchema>>;

/** The long flag of an option: `--server-max-connections`, `--storage-_filesystem-fsync`. */
export function longFlag(section: string, option: string): string {
  // A private option's leading underscore stays, so its flag does not read `--storage--filesystem-fsync`.
  return `--${section}-${option.replace(/(?!^)_/g, '-')}`;
}

function buildFlags(): ReadonlyMap<string, Flag> {
  const flags = new Map<string, Flag>([
    ['-C', { kind: 'config' }],
    ['--config', { kind: 'config' }],
    ['-D', { kind: 'debug' }],
    ['--debug', { kind: 'debug' }],
    ['-h', { kind: 'help' }],
    ['--help', { kind: 'help' }],
    ['--version', { kind: 'version' }],
    ['--verify-storage', { kind: 'verify-storage' }],
    ['--verify-item', { kind: 'verify-item' }],
    ['--verify-sharing', { kind: 'verify-sharing' }],
  ]);
  for (const [section, options] of Object.entries(SECTIONS)) {
    for (const [option, spec] of Object.entries(options)) {
      const set: Flag = { kind: 'set', section, option, spec };
      for (const name of [longFlag(section, option), ...(spec.aliases ?? [])]) flags.set(name, set);
      if (spec.type !== 'bool') continue;
      const unset: Flag = { kind: 'unset', section, option };
      for (const name of [`--no-${longFlag(section, option).slice(2)}`, ...(spec.oppositeAliases ?? [])]) {
        flags.set(name, unset);
      }
    }
  }
  return flags;
}

const FLAGS = buildFlags();

/** Sections where Radicale passes unknown `--<section>-<name>` flags through to the config. */
function acceptsUnknownOptions(section: string): boolean {
  const schema = Object.hasOwn(SECTIONS, section) ? SECTIONS[section] : undefined;
  return schema !== undefined && (section === 'headers' || Object.hasOwn(schema, 'type'));
}

/**
 * Resolves a long flag that is not in the table: `--storage-_filesystem_fsync` (underscores kept) or an
 * unknown option of a plugin/free-form section. Header names keep their dashes and case.
 */
function resolveDynamic(name: string): Flag | undefined {
  const match = /^--([a-z]+)-(.+)$/.exec(name);
  const section = match?.[1];
  const rest = match?.[2];
  if (section === undefined || rest === undefined || !Object.hasOwn(SECTIONS, section)) return undefined;
  const schema = SECTIONS[section] ?? {};
  const option = section === 'headers' ? rest : rest.replace(/-/g, '_');
  const spec = Object.hasOwn(schema, option) ? schema[option] : undefined;
  if (spec !== undefined) return { kind: 'set', section, option, spec };
  if (!acceptsUnknownOptions(section)) return undefined;
  return { kind: 'set', section, option, spec: { type: 'string', default: '', help: '' } };
}

interface Token {
  readonly name: string;
  /** Value attached with `=` (or directly after a short flag); undefined when none. */
  readonly inline: string | undefined;
}

function splitToken(arg: string): Token {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    return eq < 0 ? { name: arg, inline: undefined } : { name: arg.slice(0, eq), inline: arg.slice(eq + 1) };
  }
  // Short flags: `-H value`, `-Hvalue` and `-H=value` all work, as with argparse.
  const rest = arg.slice(2);
  return { name: arg.slice(0, 2), inline: rest === '' ? undefined : rest.replace(/^=/, '') };
}

/** argparse will not take something that looks like a flag as an option's value. */
function isValueCandidate(arg: string | undefined): arg is string {
  return arg !== undefined && !(arg.startsWith('-') && arg.length > 1);
}

class ArgvReader {
  private index = 0;
  constructor(private readonly argv: readonly string[]) {}
  next(): string | undefined {
    return this.argv[this.index++];
  }
  peek(): string | undefined {
    return this.argv[this.index];
  }
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const result: ParsedArgs = { values: {}, action: 'serve', debug: false };
  const seen = new Set<CliAction>();
  const reader = new ArgvReader(argv);
  for (let arg = reader.next(); arg !== undefined; arg = reader.next()) {
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      throw new ArgsError(`unrecognized arguments: ${arg}`);
    }
    const token = splitToken(arg);
    const flag = FLAGS.get(token.name) ?? (arg.startsWith('--') ? resolveDynamic(token.name) : undefined);
    if (flag === undefined) throw new ArgsError(`unrecognized arguments: ${arg}`);
    applyFlag(result, seen, flag, token, reader);
  }
  const order: readonly CliAction[] = ['help', 'version', 'verify-storage', 'verify-item', 'verify-sharing'];
  result.action = order.find((a) => seen.has(a)) ?? 'serve';
  return result;
}

function applyFlag(
  result: ParsedArgs,
  seen: Set<CliAction>,
  flag: Flag,
  token: Token,
  reader: ArgvReader,
): void {
  switch (flag.kind) {
    case 'set':
      setValue(result, flag.section, flag.option, optionValue(flag.spec, token, reader));
      return;
    case 'unset':
      noValue(token);
      setValue(result, flag.section, flag.option, 'False');
      return;
    case 'config':
      result.configPaths = [...(result.configPaths ?? []), ...configValues(token, reader)];
      return;
    case 'verify-item':
      result.verifyItem = optionValue({ type: 'path', default: '', help: '' }, token, reader);
      seen.add('verify-item');
      return;
    case 'debug':
      noValue(token);
      result.debug = true;
      setValue(result, 'logging', 'level', 'debug');
      return;
    default:
      noValue(token);
      seen.add(flag.kind);
  }
}

function optionValue(spec: OptionSpec, token: Token, reader: ArgvReader): string {
  if (token.inline !== undefined) return token.inline;
  const next = reader.peek();
  if (spec.type === 'bool') {
    // A bare boolean flag means True; `--server-ssl False` is also accepted.
    if (!isValueCandidate(next)) return 'True';
    reader.next();
    return next;
  }
  if (!isValueCandidate(next)) throw new ArgsError(`argument ${token.name}: expected one argument`);
  reader.next();
  return next;
}

/** `-C` takes any number of following values (argparse `nargs="*"`), and may be repeated. */
function configValues(token: Token, reader: ArgvReader): string[] {
  if (token.inline !== undefined) return [token.inline];
  const values: string[] = [];
  for (let next = reader.peek(); isValueCandidate(next); next = reader.peek()) {
    values.push(next);
    reader.next();
  }
  return values;
}

function noValue(token: Token): void {
  if (token.inline !== undefined) {
    throw new ArgsError(`argument ${token.name}: ignored explicit argument '${token.inline}'`);
  }
}

function setValue(result: ParsedArgs, section: string, option: string, value: string): void {
  const target = (result.values[section] ??= {});
  // defineProperty keeps a header named `__proto__` an ordinary key instead of touching the prototype.
  Object.defineProperty(target, option, { value, enumerable: true, writable: true, configurable: true });
}
