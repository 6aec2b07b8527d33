/**
 * Unfolding: physical lines grouped into logical content lines, shared by iCalendar and vCard.
 *
 * A line starting with space or tab continues the previous one (RFC 5545 §3.1, RFC 6350 §3.2: the
 * line break and one whitespace character are removed). In a quoted-printable value (vCard 2.1,
 * vCalendar 1.0), a line ending in `=` is a soft line break and the next line continues the value as
 * it is. Blank lines are dropped, as Radicale drops them before parsing.
 *
 * Linear in the input: each physical line is looked at once and every logical line is joined once,
 * whatever its length (a 9 MB photo folded into 120,000 lines included).
 */

export interface LogicalLine {
  /** The physical lines this logical line was made of, exactly as sent (without line ending). */
  readonly physical: readonly string[];
  /** The unfolded line (continuations joined, soft line breaks removed), joined when first read. */
  readonly unfolded: string;
  /**
   * The unfolded part before the value colon (name and parameters), or undefined when the line has
   * no value colon: what a caller that only looks at names needs, without joining a long value.
   */
  readonly head: string | undefined;
  /** 1-based number of its first physical line, for error messages. */
  readonly lineNumber: number;
}

/** A built logical line; its pieces are joined only when `unfolded` is read. */
class Line implements LogicalLine {
  private pieces: string[] | undefined;
  private text = '';

  constructor(
    readonly physical: readonly string[],
    pieces: string[],
    readonly head: string | undefined,
    readonly lineNumber: number,
  ) {
    this.pieces = pieces;
  }

  get unfolded(): string {
    if (this.pieces) {
      this.text = this.pieces.join('');
      this.pieces = undefined;
    }
    return this.text;
  }
}

/** True when a parameter list announces quoted-printable encoding (bare 2.1 form included). */
function isQuotedPrintableHead(head: string): boolean {
  return /;\s*(ENCODING\s*=\s*)?QUOTED-PRINTABLE\s*(;|$)/i.test(head);
}

/** A logical line being built from its pieces. */
class Builder {
  readonly physical: string[] = [];
  private readonly pieces: string[] = [];
  /** Offset of the value colon in the unfolded text, once it is known. */
  private colonAt = -1;
  private head: string | undefined;
  private scanned = 0;
  private quoted = false;
  private quotedPrintable = false;

  constructor(
    first: string,
    readonly lineNumber: number,
  ) {
    this.physical.push(first);
    this.add(first);
  }

  /** Whether the next physical line continues this one through a soft line break. */
  get softBreak(): boolean {
    return this.quotedPrintable && this.endsWithEquals();
  }

  /** A folded continuation: the line without its leading whitespace character. */
  continueWith(line: string): void {
    this.physical.push(line);
    this.add(line.slice(1));
  }

  /** A quoted-printable soft line break: the `=` is removed and the line appended as it is. */
  continueAfterSoftBreak(line: string): void {
    for (let i = this.pieces.length - 1; i >= 0; i--) {
      const piece = this.pieces[i] as string;
      if (piece === '') continue;
      this.pieces[i] = piece.slice(0, -1);
      break;
    }
    this.physical.push(line);
    this.add(line);
  }

  build(): LogicalLine {
    return new Line(this.physical, this.pieces, this.head, this.lineNumber);
  }

  private endsWithEquals(): boolean {
    for (let i = this.pieces.length - 1; i >= 0; i--) {
      const piece = this.pieces[i] as string;
      if (piece !== '') return piece.endsWith('=');
    }
    return false;
  }

  /** Appends a piece; until the value colon is found, scans only the new piece for it. */
  private add(piece: string): void {
    this.pieces.push(piece);
    if (this.colonAt >= 0) return;
    for (let i = 0; i < piece.length; i++) {
      const ch = piece[i];
      if (ch === '"') this.quoted = !this.quoted;
      else if (ch === ':' && !this.quoted) {
        this.colonAt = this.scanned + i;
        this.head = this.pieces.join('').slice(0, this.colonAt);
        this.quotedPrintable = isQuotedPrintableHead(this.head);
        break;
      }
    }
    this.scanned += piece.length;
  }
}

/** A character other than whitespace: found at once in any line that is not blank. */
const NOT_BLANK = /\S/;
const isFoldContinuation = (line: string): boolean => line[0] === ' ' || line[0] === '\t';
// A dangling soft break right before an END line is a client bug; the component stays closed.
const isEndLine = (line: string): boolean => /^END\s*:/i.test(line);

/**
 * Groups the physical lines of a text into logical lines (see the module comment). `firstLine` is the
 * number of the text's first line (a piece of a bigger text keeps that text's line numbers).
 */
export function logicalLines(text: string, firstLine = 1): LogicalLine[] {
  return Array.from(eachLogicalLine(text, firstLine));
}

const LINE_BREAK = /\r\n|\n|\r/g;

/** The physical lines of `physicalLines(text)`, one at a time (no array of all the lines). */
function* eachPhysicalLine(text: string): Generator<string> {
  const breaks = new RegExp(LINE_BREAK);
  let at = 0;
  for (let found = breaks.exec(text); found; found = breaks.exec(text)) {
    yield text.slice(at, found.index);
    at = found.index + found[0].length;
  }
  // As split: the piece after the last line break, unless the text ends with one.
  if (at < text.length) yield text.slice(at);
}

/**
 * logicalLines one line at a time: a 50 MB whole-calendar upload is read without holding the
 * objects of its two million lines at once.
 */
export function* eachLogicalLine(text: string, firstLine = 1): Generator<LogicalLine> {
  let current: Builder | undefined;
  let n = 0;
  for (const line of eachPhysicalLine(text)) {
    if (NOT_BLANK.test(line)) {
      if (current?.softBreak && !isEndLine(line)) current.continueAfterSoftBreak(line);
      else if (current && isFoldContinuation(line)) current.continueWith(line);
      else {
        if (current) yield current.build();
        current = new Builder(line, n + firstLine);
      }
    }
    n++;
  }
  if (current) yield current.build();
}
