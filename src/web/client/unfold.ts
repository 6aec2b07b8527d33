/**
 * The content lines of an iCalendar or vCard text (RFC 5545 §3.1, RFC 6350 §3.2) for the web client's
 * text work (splitting an upload, reading and answering an invitation): each logical line unfolded for
 * inspection, with its physical lines as in the text, so that a line passed on unchanged keeps its
 * folding byte for byte. A leading BOM is dropped and empty lines are skipped.
 */

export interface UnfoldedLine {
  /** The logical line with folding removed, for inspection. */
  readonly value: string;
  /** The physical lines as in the text (folding kept). */
  readonly raw: readonly string[];
}

export function unfoldedLines(text: string): UnfoldedLine[] {
  const out: { value: string; raw: string[] }[] = [];
  for (const physical of text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/)) {
    const last = out[out.length - 1];
    if ((physical.startsWith(' ') || physical.startsWith('\t')) && last !== undefined) {
      last.value += physical.slice(1);
      last.raw.push(physical);
    } else if (physical !== '') {
      out.push({ value: physical, raw: [physical] });
    }
  }
  return out;
}
