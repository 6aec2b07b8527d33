/**
 * An INI parser with the semantics of Python's `configparser.RawConfigParser` using its default settings,
 * which is what Radicale reads its config files with. Matching it line for line matters: an existing
 * Radicale config must mean exactly the same thing to Almanac.
 *
 * Rules reproduced (Python 3.11 `RawConfigParser._read`):
 * - `=` and `:` both delimit; the first of either on the line wins; option names are right-stripped and
 *   lowercased, values stripped.
 * - Only whole-line comments (`#` or `;` as first non-blank character); `a = b ; c` keeps `b ; c`.
 * - A line indented deeper than its option line continues the value (joined with `\n`). Blank lines
 *   inside a value are kept; comment lines inside a value are skipped; trailing blank lines are removed.
 * - Section names are case-sensitive; `[DEFAULT]` options are inherited by every other section.
 * - A duplicate section or a duplicate option within a section is an error, as is an option before the
 *   first section header or a line that is neither header, option nor comment.
 */

export interface IniValue {
  readonly value: string;
  /** 1-based line of the option's first line. */
  readonly line: number;
  /** True when the value comes from `[DEFAULT]` rather than the section itself. */
  readonly inherited: boolean;
}

export interface IniSection {
  /** Line of the section header (first header when the section is `[DEFAULT]`). */
  readonly line: number;
  /** Options, own ones first then the inherited `[DEFAULT]` ones, as configparser lists them. */
  readonly options: ReadonlyMap<string, IniValue>;
}

export interface IniDocument {
  readonly source: string;
  /** Every section except `[DEFAULT]`, in file order, with the defaults already merged in. */
  readonly sections: ReadonlyMap<string, IniSection>;
  /** The `[DEFAULT]` options themselves. */
  readonly defaults: ReadonlyMap<string, IniValue>;
}

export class IniError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${source}, line ${line}: ${reason}`);
    this.name = 'IniError';
  }
}

const DEFAULT_SECTION = 'DEFAULT';
const COMMENT_PREFIXES = ['#', ';'];
/** configparser's SECTCRE: `\[(?P<header>.+)\]` applied with `match` (anchored at the start only). */
const SECTION_RE = /^\[(.+)\]/;
/** configparser's OPTCRE with delimiters `=` and `:`: the option is the shortest prefix before one. */
const OPTION_RE = /^(.*?)\s*([=:])\s*(.*)$/;

interface PendingOption {
  lines: string[];
  line: number;
}

interface PendingSection {
  line: number;
  options: Map<string, PendingOption>;
}

/** Mutable state while walking the lines, mirroring the local variables of configparser's reader. */
interface ReaderState {
  readonly source: string;
  readonly sections: Map<string, PendingSection>;
  readonly defaults: PendingSection;
  defaultsSeen: boolean;
  current: PendingSection | undefined;
  currentName: string | undefined;
  option: PendingOption | undefined;
  indentLevel: number;
}

export function parseIni(text: string, source: string): IniDocument {
  const state: ReaderState = {
    source,
    sections: new Map(),
    defaults: { line: 0, options: new Map() },
    defaultsSeen: false,
    current: undefined,
    currentName: undefined,
    option: undefined,
    indentLevel: 0,
  };
  // Python opens files in universal-newline mode; a UTF-8 BOM is tolerated for convenience.
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => readLine(state, raw, index + 1));
  return finish(state);
}

function readLine(state: ReaderState, raw: string, lineNo: number): void {
  const stripped = raw.trim();
  const isComment = COMMENT_PREFIXES.some((prefix) => stripped.startsWith(prefix));
  if (stripped === '' || isComment) {
    // A truly blank line (not a comment) inside a value becomes an empty line of that value.
    if (!isComment && state.option !== undefined) state.option.lines.push('');
    return;
  }
  const indent = raw.search(/\S/);
  if (state.current !== undefined && state.option !== undefined && indent > state.indentLevel) {
    state.option.lines.push(stripped);
    return;
  }
  state.indentLevel = indent;
  const header = SECTION_RE.exec(stripped);
  if (header !== null) {
    openSection(state, header[1] ?? '', lineNo);
    return;
  }
  if (state.current === undefined) {
    throw new IniError(state.source, lineNo, `option before the first section header: '${stripped}'`);
  }
  readOption(state, stripped, lineNo);
}

function openSection(state: ReaderState, name: string, lineNo: number): void {
  state.option = undefined;
  state.currentName = name;
  if (name === DEFAULT_SECTION) {
    // configparser allows `[DEFAULT]` to be reopened; duplicate options in it are still caught.
    if (!state.defaultsSeen) state.defaults.line = lineNo;
    state.defaultsSeen = true;
    state.current = state.defaults;
    return;
  }
  if (state.sections.has(name)) {
    throw new IniError(state.source, lineNo, `section '${name}' already exists`);
  }
  const section: PendingSection = { line: lineNo, options: new Map() };
  state.sections.set(name, section);
  state.current = section;
}

function readOption(state: ReaderState, stripped: string, lineNo: number): void {
  const match = OPTION_RE.exec(stripped);
  const rawName = match?.[1];
  if (match === null || rawName === undefined || rawName === '') {
    throw new IniError(state.source, lineNo, `not an option line (expected 'name = value'): '${stripped}'`);
  }
  // Python lowercases with str.lower(), which JS toLowerCase() matches for option names in practice.
  const name = rawName.trimEnd().toLowerCase();
  const section = state.current;
  if (section === undefined) return;
  if (section.options.has(name)) {
    throw new IniError(
      state.source,
      lineNo,
      `option '${name}' in section '${state.currentName ?? ''}' already exists`,
    );
  }
  const option: PendingOption = { lines: [(match[3] ?? '').trim()], line: lineNo };
  section.options.set(name, option);
  state.option = option;
}

/** Joins multi-line values like configparser's `_join_multiline_values`: `\n`, then right-strip. */
function joinValue(option: PendingOption, inherited: boolean): IniValue {
  return { value: option.lines.join('\n').trimEnd(), line: option.line, inherited };
}

function finish(state: ReaderState): IniDocument {
  const defaults = new Map<string, IniValue>();
  for (const [name, option] of state.defaults.options) defaults.set(name, joinValue(option, false));
  const sections = new Map<string, IniSection>();
  for (const [sectionName, pending] of state.sections) {
    const options = new Map<string, IniValue>();
    for (const [name, option] of pending.options) options.set(name, joinValue(option, false));
    for (const [name, value] of defaults) {
      if (!options.has(name)) options.set(name, { ...value, inherited: true });
    }
    sections.set(sectionName, { line: pending.line, options });
  }
  return { source: state.source, sections, defaults };
}
