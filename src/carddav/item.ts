/**
 * vCard address object resources (RFC 6352 §5.1): validation for PUT, description for the storage
 * index, splitting a whole address book upload into items, and the address book export.
 *
 * Stored text is always what the client sent; ical.js only sees a repaired copy
 * (normalizeVcardForParsing) so that vCard 2.1 cards are accepted.
 */
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import { DavError, forbidden } from '../dav/errors.js';
import { NS, clark } from '../dav/xml.js';
import { MAX_PARAMS, parseContentLine } from '../content-lines/content-line.js';
import { normalizeLineEndings } from '../content-lines/line-endings.js';
import { type LogicalLine, logicalLines } from '../content-lines/unfold.js';
import { needsRepair, repairLine } from './vcard21.js';

export const VALID_ADDRESS_DATA = clark(NS.CR, 'valid-address-data');
export const SUPPORTED_ADDRESS_DATA = clark(NS.CR, 'supported-address-data');

/** vCard versions we accept on PUT. */
export const ACCEPTED_VERSIONS: readonly string[] = ['2.1', '3.0', '4.0'];

export interface VcardDescription {
  uid: string;
  component: 'VCARD';
  start: 0;
  end: 0;
}

// Control characters other than tab break ical.js and are never meaningful in a vCard.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

function normalizeLine(unfolded: string): string {
  const clean = unfolded.replace(CONTROL_CHARS, '');
  const parsed = parseContentLine(clean);
  // ical.js would take the square of the line's length to read it.
  if (parsed && parsed.params.length > MAX_PARAMS) {
    throw invalid(`The property ${parsed.name} has more than ${MAX_PARAMS} parameters`);
  }
  return parsed && needsRepair(parsed) ? repairLine(parsed) : clean;
}

/**
 * Returns a copy of the text that ical.js can parse: lines unfolded (soft line breaks included),
 * vCard 2.1 bare parameters and encodings repaired, blank lines and control characters dropped,
 * CRLF line endings. Used only for parsing; the stored text stays what the client sent.
 */
export function normalizeVcardForParsing(text: string): string {
  return logicalLines(text)
    .map((l) => normalizeLine(l.unfolded) + '\r\n')
    .join('');
}

/** One BEGIN:VCARD … END:VCARD block of logical lines. */
interface CardBlock {
  lines: LogicalLine[];
}

function beginOrEnd(line: LogicalLine): { kind: 'BEGIN' | 'END'; comp: string } | undefined {
  const m = /^(BEGIN|END)\s*:/i.exec(line.unfolded);
  if (!m) return undefined;
  const comp = line.unfolded.slice(m[0].length).trim().toUpperCase();
  return { kind: m[1]?.toUpperCase() === 'BEGIN' ? 'BEGIN' : 'END', comp };
}

function invalid(message: string): DavError {
  return forbidden(message, VALID_ADDRESS_DATA);
}

/**
 * Splits text into top-level VCARD blocks, checking the BEGIN/END structure that ical.js does not
 * check (it accepts mismatched END lines). Nested components and text outside cards are refused.
 */
function cardBlocks(text: string): CardBlock[] {
  const blocks: CardBlock[] = [];
  let current: CardBlock | undefined;
  for (const line of logicalLines(text)) {
    const be = beginOrEnd(line);
    if (!current) {
      if (be?.kind !== 'BEGIN')
        throw invalid(`Unexpected line outside a vCard: ${line.unfolded.slice(0, 40)}`);
      if (be.comp !== 'VCARD') throw invalid(`Expected a VCARD, found ${be.comp || 'an empty component'}`);
      current = { lines: [line] };
      continue;
    }
    current.lines.push(line);
    if (be?.kind === 'BEGIN') throw invalid(`Nested component ${be.comp} inside a vCard`);
    if (be?.kind === 'END') {
      if (be.comp !== 'VCARD') throw invalid(`END:${be.comp} does not close BEGIN:VCARD`);
      blocks.push(current);
      current = undefined;
    }
  }
  if (current) throw invalid('vCard is not terminated by END:VCARD');
  return blocks;
}

/** Parses one card block with ical.js (after repair). Throws valid-address-data on failure. */
function parseBlock(block: CardBlock): ICAL.Component {
  const normalized = block.lines.map((l) => normalizeLine(l.unfolded) + '\r\n').join('');
  let parsed: unknown;
  try {
    parsed = ICAL.parse(normalized);
  } catch (e) {
    throw invalid(`Invalid vCard: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(parsed) || parsed[0] !== 'vcard') throw invalid('Invalid vCard');
  return new ICAL.Component(parsed);
}

function propertyText(comp: ICAL.Component, name: string): string {
  const value: unknown = comp.getFirstPropertyValue(name);
  return typeof value === 'string' ? value.trim() : '';
}

function checkVersion(comp: ICAL.Component): void {
  const version = propertyText(comp, 'version');
  if (!version) throw invalid('vCard has no VERSION');
  if (!ACCEPTED_VERSIONS.includes(version)) {
    throw forbidden(`vCard version ${version} is not supported`, SUPPORTED_ADDRESS_DATA);
  }
}

/**
 * Validates the body of a PUT on an address object resource: exactly one VCARD of version
 * 2.1/3.0/4.0 with a UID. Throws DavError 403 with CR:valid-address-data (or
 * CR:supported-address-data for an unsupported version).
 */
export function validateVcard(text: string): VcardDescription {
  const blocks = cardBlocks(text);
  const [block] = blocks;
  if (!block) throw invalid('No vCard in request body');
  if (blocks.length > 1) throw invalid(`Expected one vCard, found ${blocks.length}`);
  const comp = parseBlock(block);
  checkVersion(comp);
  const uid = propertyText(comp, 'uid');
  if (!uid) throw invalid('vCard has no UID');
  return { uid, component: 'VCARD', start: 0, end: 0 };
}

/**
 * Describes a stored vCard for the index. Tolerant: looks at the first card only and accepts a
 * missing UID ('') or unknown version. Throws when there is no parsable vCard.
 */
export function describeVcard(text: string): VcardDescription {
  const block = cardBlocks(text)[0];
  if (!block) throw invalid('No vCard found');
  return { uid: propertyText(parseBlock(block), 'uid'), component: 'VCARD', start: 0, end: 0 };
}

/** Physical lines of a block with a `UID:` line inserted after VERSION (or after BEGIN). */
function withUid(block: CardBlock, uid: string): string[] {
  const lines = block.lines.map((l) => l.physical);
  const versionAt = block.lines.findIndex((l) => parseContentLine(l.unfolded)?.name === 'VERSION');
  lines.splice(versionAt >= 0 ? versionAt + 1 : 1, 0, [`UID:${uid}`]);
  return lines.flat();
}

/**
 * Splits a whole address book upload into one item per vCard (Radicale's whole-collection PUT).
 * Each item keeps the client's lines (blank lines dropped, CRLF endings); a card without UID gets
 * a fresh UUID inserted. Throws DavError 403 when any card is invalid. Duplicate UIDs are returned
 * as they are: the caller decides.
 */
export function splitVcards(text: string): { uid: string; text: string }[] {
  return cardBlocks(text).map((block) => {
    const comp = parseBlock(block);
    checkVersion(comp);
    let uid = propertyText(comp, 'uid');
    let lines = block.lines.flatMap((l) => l.physical);
    if (!uid) {
      uid = randomUUID();
      lines = withUid(block, uid);
    }
    return { uid, text: lines.map((l) => l + '\r\n').join('') };
  });
}

/** The address book as one text/vcard body: the items concatenated, each ending with CRLF. */
export function exportAddressBook(items: readonly string[]): string {
  return items.map(normalizeLineEndings).join('');
}

/** The same export as a stream of chunks, for big address books. */
export async function* exportAddressBookStream(items: AsyncIterable<string>): AsyncIterable<string> {
  let buf = '';
  for await (const t of items) {
    buf += normalizeLineEndings(t);
    if (buf.length >= 65536) {
      yield buf;
      buf = '';
    }
  }
  yield buf;
}
