/**
 * CR:address-data in REPORT requests and responses (RFC 6352 §10.4): which properties of each card
 * the client wants, and rendering a card with only those properties.
 *
 * We never convert between vCard versions: a card is returned in the version it was stored in
 * (as Radicale does), even when another supported version was asked for.
 */
import { NS, type XmlElement } from '../dav/xml.js';
import { parseContentLine } from '../content-lines/content-line.js';
import { logicalLines } from '../content-lines/unfold.js';

export interface AddressDataRequest {
  /** Upper-case names of the selected properties (possibly with group: `ITEM1.EMAIL`). */
  props?: string[];
  /** Selected properties requested without their value (`novalue="yes"`). */
  novalue?: string[];
  allprop: boolean;
  contentType?: string;
  version?: string;
}

export interface AddressDataType {
  contentType: string;
  version: string;
}

/** What CR:supported-address-data announces. */
export function supportedAddressData(): AddressDataType[] {
  return [
    { contentType: 'text/vcard', version: '3.0' },
    { contentType: 'text/vcard', version: '4.0' },
  ];
}

/** Whether a requested content-type/version pair is one we announce (absent attributes default). */
export function isSupportedAddressData(req: Pick<AddressDataRequest, 'contentType' | 'version'>): boolean {
  const type = (req.contentType ?? 'text/vcard').trim().toLowerCase();
  const version = (req.version ?? '3.0').trim();
  return supportedAddressData().some((s) => s.contentType === type && s.version === version);
}

/** Properties that are always returned so that the result stays a valid vCard. */
const ALWAYS_KEPT = new Set(['BEGIN', 'END', 'VERSION', 'UID']);

function isCardDav(el: XmlElement, local: string): boolean {
  return el.ns === NS.CR && el.local === local;
}

/** Reads a CR:address-data request element; absent or without CR:prop means the whole card. */
export function parseAddressDataRequest(el: XmlElement | undefined): AddressDataRequest {
  if (!el) return { allprop: true };
  const req: AddressDataRequest = { allprop: false };
  const contentType = el.attrs['content-type'];
  const version = el.attrs.version;
  if (contentType !== undefined) req.contentType = contentType;
  if (version !== undefined) req.version = version;
  const props: string[] = [];
  const novalue: string[] = [];
  for (const c of el.children) {
    if (isCardDav(c, 'allprop')) req.allprop = true;
    if (!isCardDav(c, 'prop')) continue;
    const name = c.attrs.name?.trim().toUpperCase();
    if (!name) continue;
    props.push(name);
    if (c.attrs.novalue === 'yes') novalue.push(name);
  }
  if (req.allprop || props.length === 0) {
    req.allprop = true;
    return req;
  }
  req.props = props;
  if (novalue.length > 0) req.novalue = novalue;
  return req;
}

function selects(names: readonly string[], group: string, name: string): boolean {
  return names.some((n) => {
    const dot = n.lastIndexOf('.');
    return dot < 0 ? n === name : n.slice(0, dot) === group && n.slice(dot + 1) === name;
  });
}

/**
 * Renders a stored vCard for CR:address-data. With a property selection the card keeps BEGIN, END,
 * VERSION, UID and the selected properties, each with its original (folded) lines; properties asked
 * with novalue="yes" keep their name and parameters only.
 */
export function renderAddressData(text: string, req: AddressDataRequest): string {
  if (req.allprop || !req.props) return text;
  const { props, novalue = [] } = req;
  let out = '';
  for (const line of logicalLines(text)) {
    if (line.head === undefined) continue;
    // Names and parameters are all it looks at: a 9 MB PHOTO's value is never joined.
    const parsed = parseContentLine(`${line.head}:`);
    if (!parsed) continue;
    if (ALWAYS_KEPT.has(parsed.name) && parsed.group === '') {
      out += `${line.physical.join('\r\n')}\r\n`;
    } else if (selects(novalue, parsed.group, parsed.name)) {
      out += `${parsed.head}:\r\n`;
    } else if (selects(props, parsed.group, parsed.name)) {
      out += `${line.physical.join('\r\n')}\r\n`;
    }
  }
  return out;
}
