/**
 * Builds the typed `Config` from, in order (later wins): the schema defaults, the config files, and the
 * command-line values. File handling follows Radicale's: a compound path list separated by `:`, `?`
 * marking a path optional, and `--config` (else `ALMANAC_CONFIG`, else the default files) choosing the
 * list. Each source is validated as a whole, like Radicale's `Configuration.update`.
 */

import * as fs from 'node:fs';
import { ConversionError, convertValue, homeDir, toPath } from './convert.js';
import { IniError, parseIni, type IniDocument } from './ini.js';
import { SCHEMA, type Config, type OptionSpec } from './schema.js';
import { NOTICE_OPTIONS, compileNoticeCondition } from '../log/notice-condition.js';
import { BDAY_OPTIONS, bdayOptionProblem, type BdayOptionName } from '../sharing/bday-template.js';
import { parseListenAddress } from '../net/listen-address.js';

/** Radicale reads `?/etc/radicale/config:?~/.config/radicale/config`; Almanac its own equivalents. */
export const DEFAULT_CONFIG_PATHS = '?/etc/almanac/config:?~/.config/almanac/config';
export const COMMAND_LINE_SOURCE = 'command line';
export const DEFAULT_SOURCE = 'default';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /**
   * `--config`/`-C` values (each may itself hold several `:`-separated paths). When given, they replace
   * `ALMANAC_CONFIG` and the default files, as in Radicale; `['']` therefore loads no file at all.
   */
  readonly paths?: readonly string[];
  /** Values from the command line: section -> option -> raw string. */
  readonly args?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Environment (for `ALMANAC_CONFIG` and `HOME`); defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ConfigFileStatus {
  readonly path: string;
  /** False when the file was optional (`?`) and missing or unreadable. */
  readonly loaded: boolean;
}

export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: string[];
  /** `section.option` set to a non-default value although Almanac does not implement it yet. */
  readonly unsupported: string[];
  readonly files: ConfigFileStatus[];
}

interface RawValue {
  readonly value: string;
  readonly line?: number;
  readonly inherited?: boolean;
}

/** One source of raw values: the defaults, one file, or the command line. */
interface RawSource {
  /** Recorded in `Config.sources`: 'default', a file path or 'command line'. */
  readonly name: string;
  /** Used in messages: "config file '/x'", "command line arguments". */
  readonly description: string;
  readonly sections: ReadonlyMap<
    string,
    { readonly line?: number; readonly options: ReadonlyMap<string, RawValue> }
  >;
}

interface LoadState {
  readonly home: string;
  readonly values: Map<string, Map<string, unknown>>;
  readonly extra: Map<string, Map<string, string>>;
  readonly headers: Map<string, string>;
  readonly sources: Map<string, string>;
}

type SectionSchema = Readonly<Record<string, OptionSpec>>;

function sectionSchema(section: string): SectionSchema | undefined {
  return Object.hasOwn(SCHEMA, section) ? (SCHEMA as Record<string, SectionSchema>)[section] : undefined;
}

function optionSpec(schema: SectionSchema, option: string): OptionSpec | undefined {
  return Object.hasOwn(schema, option) ? schema[option] : undefined;
}

export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const state: LoadState = {
    home: homeDir(env),
    values: new Map(),
    extra: new Map(),
    headers: new Map(),
    sources: new Map(),
  };
  applySource(state, defaultsSource());
  const files: ConfigFileStatus[] = [];
  const compound =
    opts.paths !== undefined ? opts.paths.join(':') : (env['ALMANAC_CONFIG'] ?? DEFAULT_CONFIG_PATHS);
  for (const { path, optional } of parseCompoundPaths(compound, state.home)) {
    const source = readConfigFile(path, optional);
    files.push({ path, loaded: source !== undefined });
    if (source !== undefined) applySource(state, source);
  }
  if (opts.args !== undefined) applySource(state, argsSource(opts.args));
  const warnings = checkConsistency(state);
  return { config: buildConfig(state), warnings, unsupported: findUnsupported(state), files };
}

/** Splits a compound path (`a:?b`) like Radicale's `parse_compound_paths`; empty entries are dropped. */
export function parseCompoundPaths(compound: string, home: string): { path: string; optional: boolean }[] {
  const result: { path: string; optional: boolean }[] = [];
  for (const entry of compound.split(':')) {
    const optional = entry.startsWith('?');
    const path = toPath(optional ? entry.slice(1) : entry, home);
    if (path !== '') result.push({ path, optional });
  }
  return result;
}

function defaultsSource(): RawSource {
  const sections = new Map<string, { options: Map<string, RawValue> }>();
  for (const [section, options] of Object.entries(SCHEMA as Record<string, SectionSchema>)) {
    const map = new Map<string, RawValue>();
    for (const [option, spec] of Object.entries(options)) map.set(option, { value: spec.default });
    sections.set(section, { options: map });
  }
  return { name: DEFAULT_SOURCE, description: 'default config', sections };
}

function argsSource(args: Readonly<Record<string, Readonly<Record<string, string>>>>): RawSource {
  const sections = new Map<string, { options: Map<string, RawValue> }>();
  for (const [section, options] of Object.entries(args)) {
    sections.set(section, { options: new Map(Object.entries(options).map(([k, v]) => [k, { value: v }])) });
  }
  return { name: COMMAND_LINE_SOURCE, description: 'command line arguments', sections };
}

const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM']);

/** Reads and parses one file; undefined when it is optional and missing or unreadable. */
function readConfigFile(path: string, optional: boolean): RawSource | undefined {
  const description = `config file '${path}'`;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (optional && MISSING_CODES.has(code)) return undefined;
    const reason = code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError(`Failed to load ${description}: ${reason}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`Failed to load ${description}: not valid UTF-8`);
  }
  let doc: IniDocument;
  try {
    doc = parseIni(text, path);
  } catch (error) {
    if (error instanceof IniError) {
      throw new ConfigError(`Failed to load ${description}: line ${error.line}: ${error.reason}`);
    }
    throw error;
  }
  return { name: path, description, sections: doc.sections };
}

function where(source: RawSource, raw: RawValue | undefined, sectionLine?: number): string {
  const line = raw?.line ?? sectionLine;
  if (line === undefined) return `in ${source.description}`;
  const inherited = raw?.inherited === true ? ', inherited from [DEFAULT]' : '';
  return `in ${source.description} (line ${line}${inherited})`;
}

/** Validates and merges one source; any error aborts the whole load, so partial merges are never seen. */
function applySource(state: LoadState, source: RawSource): void {
  for (const [section, content] of source.sections) {
    const schema = sectionSchema(section);
    if (schema === undefined) {
      throw new ConfigError(`Invalid section '${section}' ${where(source, undefined, content.line)}`);
    }
    if (section === 'headers') {
      // Free-form: configparser has already lowercased the names; HTTP header names are case-insensitive.
      for (const [name, raw] of content.options) setValue(state, source, 'headers', name, raw.value);
      continue;
    }
    const allowExtra = isPluginSection(state, source, section, schema, content.options);
    for (const [option, raw] of content.options) {
      applyOption(state, source, { section, option, raw, spec: optionSpec(schema, option), allowExtra });
    }
  }
}

/** Radicale allows unknown options in a section whose `type` is not one of the built-in backends. */
function isPluginSection(
  state: LoadState,
  source: RawSource,
  section: string,
  schema: SectionSchema,
  options: ReadonlyMap<string, RawValue>,
): boolean {
  const typeSpec = optionSpec(schema, 'type');
  if (typeSpec?.type !== 'choice' || typeSpec.plugin !== true) return false;
  const raw = options.get('type');
  const value =
    raw !== undefined
      ? convertOne(state, source, section, 'type', raw, typeSpec)
      : currentValue(state, section, 'type');
  return typeof value === 'string' && !(typeSpec.choices ?? []).includes(value);
}

interface OptionInput {
  readonly section: string;
  readonly option: string;
  readonly raw: RawValue;
  readonly spec: OptionSpec | undefined;
  readonly allowExtra: boolean;
}

function applyOption(state: LoadState, source: RawSource, input: OptionInput): void {
  const { section, option, raw, spec } = input;
  if (spec === undefined) {
    if (!input.allowExtra) {
      throw new ConfigError(`Invalid option '${option}' in section '${section}' ${where(source, raw)}`);
    }
    setExtra(state, source, section, option, raw.value);
    return;
  }
  setValue(state, source, section, option, convertOne(state, source, section, option, raw, spec));
}

function convertOne(
  state: LoadState,
  source: RawSource,
  section: string,
  option: string,
  raw: RawValue,
  spec: OptionSpec,
): unknown {
  try {
    if (section === 'server' && option === 'hosts') return toHosts(raw.value);
    return convertValue(raw.value, spec, state.home);
  } catch (error) {
    if (!(error instanceof ConversionError)) throw error;
    throw new ConfigError(
      `Invalid ${spec.type} value for option '${option}' in section '${section}' ${where(source, raw)}: ` +
        `'${raw.value}' (${error.message})`,
    );
  }
}

/** `hosts` must be `address:port` items (Radicale's `list_of_ip_address`), as the server parses them. */
function toHosts(raw: string): string[] {
  const items = raw.split(',').map((item) => item.trim());
  for (const item of items) {
    try {
      parseListenAddress(item);
    } catch {
      throw new ConversionError('a comma-separated list of address:port');
    }
  }
  return items;
}

function currentValue(state: LoadState, section: string, option: string): unknown {
  return state.values.get(section)?.get(option);
}

function setValue(
  state: LoadState,
  source: RawSource,
  section: string,
  option: string,
  value: unknown,
): void {
  const target = section === 'headers' ? undefined : getOrCreate(state.values, section);
  if (target === undefined)
    state.headers.set(option, typeof value === 'string' ? value : JSON.stringify(value));
  else target.set(option, value);
  state.sources.set(`${section}.${option}`, source.name);
}

function setExtra(state: LoadState, source: RawSource, section: string, option: string, value: string): void {
  getOrCreate(state.extra, section).set(option, value);
  state.sources.set(`${section}.${option}`, source.name);
}

function getOrCreate<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

/** Cross-option checks Radicale performs at start-up. Returns warnings; throws on contradictions. */
function checkConsistency(state: LoadState): string[] {
  const warnings: string[] = [];
  if (
    currentValue(state, 'auth', 'lc_username') === true &&
    currentValue(state, 'auth', 'uc_username') === true
  ) {
    throw new ConfigError(
      `Invalid configuration: options 'lc_username' (${sourceOf(state, 'auth.lc_username')}) and ` +
        `'uc_username' (${sourceOf(state, 'auth.uc_username')}) in section 'auth' cannot both be enabled`,
    );
  }
  // The one place of Radicale's cap: every layer (PUT, MOVE/COPY, the storage's index) reads the result.
  const maxContent = currentValue(state, 'server', 'max_content_length');
  const maxResource = currentValue(state, 'server', 'max_resource_size');
  if (typeof maxContent === 'number' && typeof maxResource === 'number' && maxContent > 0) {
    const cap = Math.floor(maxContent * 0.8);
    if (maxResource > cap) {
      getOrCreate(state.values, 'server').set('max_resource_size', cap);
      warnings.push(
        `server.max_resource_size (${maxResource}) is larger than 80% of server.max_content_length ` +
          `(${maxContent}); using ${cap}`,
      );
    }
  }
  checkNoticeConditions(state);
  checkBdayOptions(state);
  return warnings;
}

/**
 * `[sharing] conversion_bday_*` as Radicale checks them: a summary template that is empty or a template
 * with an unknown placeholder, a malformed alarm entry or an age_max outside 0..199 stops the start.
 */
function checkBdayOptions(state: LoadState): void {
  for (const option of Object.keys(BDAY_OPTIONS) as BdayOptionName[]) {
    const value = currentValue(state, 'sharing', option);
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    const problem = bdayOptionProblem(option, value);
    if (problem !== undefined)
      throw new ConfigError(
        `Invalid configuration: [sharing] ${problem} (${sourceOf(state, `sharing.${option}`)})`,
      );
  }
}

/** `[logging] *_on_notice_condition` must compile: a malformed condition stops the start, naming it. */
function checkNoticeConditions(state: LoadState): void {
  for (const option of NOTICE_OPTIONS) {
    try {
      compileNoticeCondition(option, currentValue(state, 'logging', option));
    } catch (err) {
      throw new ConfigError(
        `Invalid configuration: ${(err as Error).message} (${sourceOf(state, `logging.${option}`)})`,
      );
    }
  }
}

function sourceOf(state: LoadState, key: string): string {
  return state.sources.get(key) ?? DEFAULT_SOURCE;
}

/** Options Almanac accepts but does not implement yet, set to something other than their default. */
function findUnsupported(state: LoadState): string[] {
  const result: string[] = [];
  for (const [section, options] of Object.entries(SCHEMA as Record<string, SectionSchema>)) {
    for (const [option, spec] of Object.entries(options)) {
      if (spec.support !== 'later' || sourceOf(state, `${section}.${option}`) === DEFAULT_SOURCE) continue;
      const current = currentValue(state, section, option);
      const byDefault = convertValue(spec.default, spec, state.home);
      if (JSON.stringify(current) !== JSON.stringify(byDefault)) result.push(`${section}.${option}`);
    }
  }
  return result;
}

function toRecord<V>(map: ReadonlyMap<string, V>): Record<string, V> {
  const record = Object.create(null) as Record<string, V>;
  for (const [key, value] of map) record[key] = value;
  return Object.freeze(record);
}

function buildConfig(state: LoadState): Config {
  const config = Object.create(null) as Record<string, unknown>;
  for (const [section, options] of state.values) config[section] = toRecord(options);
  const extra = Object.create(null) as Record<string, Readonly<Record<string, string>>>;
  for (const [section, options] of state.extra) extra[section] = toRecord(options);
  config['headers'] = toRecord(state.headers);
  config['extra'] = Object.freeze(extra);
  config['sources'] = toRecord(state.sources);
  return Object.freeze(config) as unknown as Config;
}
