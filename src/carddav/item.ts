/**
 * vCard address object resources (RFC 6352 §5.1): validation for PUT, description for the storage
 * index, splitting a whole address book upload into items, and the address book export.
 *
 * Stored text is always what the client sent; ical.js only sees a repaired copy
 * (normalizeVcardForParsing) so that vCard 2.1 cards are accepted.
 */
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import { forbidden } from '../dav/errors.js';
import type { ComponentText } from '../content-lines/components.js';
import { MAX_PARAMS, parseContentLine } from '../content-lines/content-line.js';
import { normalizeLineEndings, withoutControlChars } from '../content-lines/line-endings.js';
import { type LogicalLine, logicalLines } from '../content-lines/unfold.js';
import { checkCardText, invalid, readCards } from './validate.js';
import { needsRepair, repairLine } from './vcard21.js';
import { CARDDAV_CONDITIONS } from './preconditions.js';

export { VALID_ADDRESS_DATA } from './validate.js';
export const SUPPORTED_ADDRESS_DATA = CARDDAV_CONDITIONS.supportedAddressData;

/** vCard versions we accept on PUT. */
export const ACCEPTED_VERSIONS: readonly string[] = ['2.1', '3.0', '4.0'];

export interface VcardDescription {
  uid: string;
  component: 'VCARD';
  start: 0;
  end: 0;
}

function normalizeLine(unfolded: string): string {
  // Control characters other than tab break ical.js and are never meaningful in a vCard.
  const clean = withoutControlChars(unfolded);
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
 * CRLF line endings. Used only for parsing; the stored text stays what the client sent. With
 * `keep`, only the lines of the properties it names (upper case, without group) are kept, with
 * BEGIN, END and VERSION: a filter on EMAIL need not parse a 9 MB PHOTO.
 */
export function normalizeVcardForParsing(text: string, keep?: ReadonlySet<string>): string {
  let out = '';
  for (const l of logicalLines(text)) {
    // A line that is no content line stays: the card must still fail to parse.
    const name = keep && l.head !== undefined ? parseContentLine(`${l.head}:`)?.name : undefined;
    if (name !== undefined && !STRUCTURE.has(name) && !keep?.has(name)) continue;
    out += `${normalizeLine(l.unfolded)}\r\n`;
  }
  return out;
}

const STRUCTURE = new Set(['BEGIN', 'END', 'VERSION']);

/** One BEGIN:VCARD … END:VCARD block of logical lines. */
interface CardBlock {
  lines: readonly LogicalLine[];
}

/** The cards of a text, as logical lines. */
function blocksOf(parsed: ComponentText): CardBlock[] {
  return parsed.components.map((c) => ({ lines: parsed.lines.slice(c.begin, c.end + 1) }));
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
  const blocks = blocksOf(checkCardText(text));
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
  const block = blocksOf(readCards(text, { syntax: false }))[0];
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
  return blocksOf(checkCardText(text)).map((block) => {
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

/**
 * For --verify-storage: throws (with the reason) when Radicale could not load this stored card:
 * what validate.ts checks, one card, and a UID.
 */
export function verifyVcard(text: string): void {
  const blocks = blocksOf(checkCardText(text));
  const [block] = blocks;
  if (!block || blocks.length > 1) throw invalid(`expected one vCard, found ${blocks.length}`);
  if (!propertyText(parseBlock(block), 'uid')) throw invalid('vCard has no UID');
}
