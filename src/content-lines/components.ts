/**
 * The component structure of iCalendar and vCard text (`BEGIN:X` … `END:X`), read from logical
 * lines without a full parser: the structure Radicale's parser (vobject) insists on, checked in one
 * pass, so that a broken object (`BEGIN:VEVENT` closed by `END:VTODO`, a line that is no content
 * line, text outside any component) is refused with the line that is wrong.
 */
import { contentLineProblem, valueColon } from './content-line.js';
import { type LogicalLine, logicalLines } from './unfold.js';

/** Components nest at most this deep (VCALENDAR > VEVENT > VALARM is 3; VTIMEZONE > STANDARD 2). */
export const MAX_NESTING = 16;

export class ContentError extends Error {
  constructor(
    message: string,
    /** 1-based line number in the text. */
    readonly lineNumber: number,
  ) {
    super(`line ${lineNumber}: ${message}`);
    this.name = 'ContentError';
  }
}

export interface PropertyLine {
  /** Upper-case property name without its group. */
  readonly name: string;
  readonly line: LogicalLine;
}

export interface ComponentNode {
  /** Upper-case component name. */
  readonly name: string;
  /** Line number of its BEGIN line. */
  readonly lineNumber: number;
  readonly properties: PropertyLine[];
  readonly components: ComponentNode[];
  /** Index of its BEGIN line in the text's logical lines. */
  readonly begin: number;
  /** Index of its END line in the text's logical lines. */
  end: number;
}

export interface ComponentText {
  /** The logical lines of the whole text. */
  readonly lines: readonly LogicalLine[];
  /** Its top-level components. */
  readonly components: ComponentNode[];
}

/** Upper-case property name of a content line (group removed), from the part before its value. */
function propertyName(line: LogicalLine): string {
  const head = line.head ?? line.unfolded;
  const semi = head.indexOf(';');
  const name = semi < 0 ? head : head.slice(0, semi);
  return name.slice(name.indexOf('.') + 1).toUpperCase();
}

function valueOf(unfolded: string): string {
  return unfolded
    .slice(valueColon(unfolded) + 1)
    .trim()
    .toUpperCase();
}

function preview(line: LogicalLine): string {
  const text = line.unfolded;
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** Builds the component tree of the top-level components, checking syntax and nesting. */
function readTree(lines: readonly LogicalLine[], syntax: boolean): ComponentNode[] {
  const roots: ComponentNode[] = [];
  const stack: ComponentNode[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as LogicalLine;
    // The grammar ends at the value colon: the head is enough (a long value is never joined).
    const problem = !syntax
      ? undefined
      : line.head === undefined
        ? contentLineProblem(line.unfolded)
        : contentLineProblem(`${line.head}:`);
    if (problem !== undefined) {
      throw new ContentError(`cannot read "${preview(line)}": ${problem}`, line.lineNumber);
    }
    const name = propertyName(line);
    const top = stack[stack.length - 1];
    if (name === 'BEGIN') {
      const comp = valueOf(line.unfolded);
      if (comp === '') throw new ContentError('BEGIN without a component name', line.lineNumber);
      if (stack.length >= MAX_NESTING) {
        throw new ContentError(`components nested more than ${MAX_NESTING} deep`, line.lineNumber);
      }
      const node: ComponentNode = {
        name: comp,
        lineNumber: line.lineNumber,
        properties: [],
        components: [],
        begin: index,
        end: -1,
      };
      if (top) top.components.push(node);
      else roots.push(node);
      stack.push(node);
    } else if (name === 'END') {
      const comp = valueOf(line.unfolded);
      if (!top) throw new ContentError(`END:${comp} without a BEGIN:${comp}`, line.lineNumber);
      if (comp !== top.name) {
        throw new ContentError(
          `END:${comp} closes BEGIN:${top.name} of line ${top.lineNumber}`,
          line.lineNumber,
        );
      }
      top.end = index;
      stack.pop();
    } else if (!top) {
      throw new ContentError(`"${preview(line)}" is outside of any component`, line.lineNumber);
    } else {
      top.properties.push({ name, line });
    }
  }
  const open = stack[stack.length - 1];
  if (open) throw new ContentError(`BEGIN:${open.name} is never closed by END:${open.name}`, open.lineNumber);
  return roots;
}

/**
 * The top-level components of a text, with their properties and subcomponents. Throws ContentError
 * for a line that is no content line, a component closed by another's END, one never closed, text
 * outside any component or nesting deeper than MAX_NESTING. With `syntax: false` (for stored items,
 * read as leniently as possible) only the structure is checked, not each line's syntax.
 */
export function readComponents(
  text: string,
  opts: { syntax?: boolean; firstLine?: number } = {},
): ComponentText {
  const lines = logicalLines(text, opts.firstLine);
  return { lines, components: readTree(lines, opts.syntax ?? true) };
}
