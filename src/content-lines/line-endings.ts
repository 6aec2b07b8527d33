/**
 * Line endings of iCalendar and vCard text (RFC 5545 §3.1, RFC 6350 §3.2). Clients send CRLF, LF or
 * a lone CR; stored text always has CRLF and a final line break.
 */

// Control characters other than tab, CR and LF: never allowed in iCalendar or vCard (RFC 5545
// §3.3.11, RFC 6350 §3.3).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/** The text without the control characters iCalendar and vCard never allow. */
export function withoutControlChars(text: string): string {
  return text.replace(CONTROL_CHARS, '');
}

/** CRLF everywhere and a final CRLF: one pass over the text. */
export function normalizeLineEndings(text: string): string {
  // Text that already has CRLF everywhere (what clients send, what is stored) is not rebuilt.
  const crlf = /\r(?!\n)|(?<!\r)\n/.test(text) ? text.replace(/\r\n|\r|\n/g, '\r\n') : text;
  return crlf.endsWith('\r\n') ? crlf : `${crlf}\r\n`;
}

/** Splits text into physical lines, accepting CRLF, LF and lone CR. A trailing newline adds no line. */
export function physicalLines(text: string): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The text stored for a calendar or address book item: control characters removed (Radicale 3.8
 * removes them before parsing and stores what it serializes; Radicale 3.1.8 would write them into
 * its XML answers), then normalizeLineEndings.
 */
export function normalizeItemText(text: string): string {
  return normalizeLineEndings(withoutControlChars(text));
}
