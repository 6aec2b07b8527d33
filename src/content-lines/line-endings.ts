/**
 * Line endings of iCalendar and vCard text (RFC 5545 §3.1, RFC 6350 §3.2). Clients send CRLF, LF or
 * a lone CR; stored text always has CRLF and a final line break.
 */

/** CRLF everywhere and a final CRLF: one pass over the text. */
export function normalizeLineEndings(text: string): string {
  const crlf = text.replace(/\r\n|\r|\n/g, '\r\n');
  return crlf.endsWith('\r\n') ? crlf : `${crlf}\r\n`;
}

/** Splits text into physical lines, accepting CRLF, LF and lone CR. A trailing newline adds no line. */
export function physicalLines(text: string): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
