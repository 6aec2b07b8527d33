/**
 * What an address object must be for Radicale to read it back, checked on the text's component
 * structure (content-lines/components.ts) in one pass, each problem named with its line:
 *
 * - the structure: content-line syntax, BEGIN/END matching, only VCARDs at the top, no components
 *   inside a card;
 * - FN at least once, N, VERSION and PRODID at most once (vobject's serializer refuses anything
 *   else; a card without N is accepted, as RFC 6350 and Radicale do);
 * - a PHOTO in base64 (ENCODING=b) that decodes (InfCloud's `data:…;base64,` prefix is skipped, as
 *   Radicale does).
 */
import { forbidden, type DavError } from '../dav/errors.js';
import { paramValues, parseContentLine } from '../content-lines/content-line.js';
import {
  ContentError,
  readComponents,
  type ComponentNode,
  type ComponentText,
  type PropertyLine,
} from '../content-lines/components.js';
import { CARDDAV_CONDITIONS } from './preconditions.js';

export const VALID_ADDRESS_DATA = CARDDAV_CONDITIONS.validAddressData;

export function invalid(message: string): DavError {
  return forbidden(message, VALID_ADDRESS_DATA);
}

const ONCE = ['N', 'VERSION', 'PRODID'];

/** Data characters a base64 value needs to decode: what Python's lenient decoder accepts. */
function base64Problem(value: string): string | undefined {
  // The usual case in one native pass: the alphabet, then at most two `=`.
  const plain = /^[A-Za-z0-9+/]*(={0,2})$/.exec(value);
  if (plain) {
    const rest = (value.length - (plain[1]?.length ?? 0)) % 4;
    if (rest === 0 || (plain[1] ?? '').length >= 4 - rest) return undefined;
  }
  let data = 0;
  let padding = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const alphabet =
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2b ||
      c === 0x2f;
    if (c === 0x3d) {
      padding++;
      if (data % 4 === 0 || padding >= 4 - (data % 4)) break;
    } else if (alphabet) {
      if (padding > 0) break;
      data++;
    }
  }
  const rest = data % 4;
  if (rest === 1) return `its ${data} base64 characters cannot be decoded (one more than a multiple of 4)`;
  if (rest !== 0 && padding < 4 - rest) return 'its base64 data is cut short (padding missing)';
  return undefined;
}

function photoProblem(photo: PropertyLine): string | undefined {
  const line = parseContentLine(photo.line.unfolded);
  if (!line) return undefined;
  // vCard 3.0's ENCODING=b only: Radicale 3.1.8 cannot store any 2.1 ENCODING=BASE64 photo (a
  // vobject bug), so their content was never looked at.
  const encoding = line.params.some(
    (x) => x.name === 'ENCODING' && paramValues(x.raw).some((v) => v.trim().toLowerCase() === 'b'),
  );
  if (!encoding) return undefined;
  const value = line.value.replace(/^data:[^;,]*;base64,/i, '');
  return base64Problem(value);
}

function checkCard(card: ComponentNode): void {
  const counts = new Map<string, number>();
  for (const property of card.properties) {
    counts.set(property.name, (counts.get(property.name) ?? 0) + 1);
    if (counts.get(property.name) === 2 && ONCE.includes(property.name)) {
      throw invalid(`line ${property.line.lineNumber}: a vCard has at most one ${property.name}`);
    }
    if (property.name === 'PHOTO') {
      const problem = photoProblem(property);
      if (problem) throw invalid(`line ${property.line.lineNumber}: PHOTO cannot be read: ${problem}`);
    }
  }
  if (!counts.has('FN')) throw invalid(`line ${card.lineNumber}: vCard without FN (its formatted name)`);
}

/**
 * Reads the component structure of vCard text: top-level VCARDs, each without subcomponents.
 * Throws valid-address-data for a line that cannot be read (unless `syntax` is false) or a broken
 * structure.
 */
export function readCards(text: string, opts: { syntax?: boolean } = {}): ComponentText {
  let parsed: ComponentText;
  try {
    parsed = readComponents(text, opts);
  } catch (e) {
    if (e instanceof ContentError) throw invalid(e.message);
    throw e;
  }
  for (const root of parsed.components) {
    if (root.name !== 'VCARD') throw invalid(`line ${root.lineNumber}: expected a VCARD, found ${root.name}`);
    const nested = root.components[0];
    if (nested) throw invalid(`line ${nested.lineNumber}: component ${nested.name} inside a vCard`);
  }
  return parsed;
}

/** readCards, and each card as Radicale insists (see the module comment). */
export function checkCardText(text: string): ComponentText {
  const parsed = readCards(text);
  for (const card of parsed.components) checkCard(card);
  return parsed;
}
