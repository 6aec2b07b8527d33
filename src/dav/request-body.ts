/**
 * Reading and checking request bodies and the headers most methods share.
 */
import { TextDecoder } from 'node:util';
import type { DavRequest } from './context.js';
import { DavError, badRequest, unsupportedMediaType } from './errors.js';
import { etagListMatches } from './etag-list.js';
import { XmlParseError, parseXmlYielding, type XmlElement } from './xml.js';

/** The charset parameter of Content-Type, else [encoding] request (as Radicale decodes bodies). */
function requestCharset(req: DavRequest): string {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.header('content-type') ?? '');
  return m?.[1] ?? req.settings.requestEncoding;
}

/** The body as text in the request charset (a BOM is dropped); 415 for a charset we cannot decode. */
export async function bodyText(req: DavRequest): Promise<string> {
  const buf = await req.body();
  const charset = requestCharset(req);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: false });
  } catch {
    throw unsupportedMediaType(`Unsupported charset ${charset}`);
  }
  const text = decoder.decode(buf);
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/** Parses an XML body; undefined when the body is empty. */
export async function xmlBody(req: DavRequest): Promise<XmlElement | undefined> {
  const text = await bodyText(req);
  if (text.trim() === '') return undefined;
  const ct = req.header('content-type');
  if (ct && !/xml/i.test(ct) && !/^\s*</.test(text)) {
    throw unsupportedMediaType(`Expected an XML body, got ${ct}`);
  }
  try {
    return await parseXmlYielding(text);
  } catch (e) {
    if (e instanceof XmlParseError) throw badRequest(`Malformed XML body: ${e.message}`);
    throw e;
  }
}

export type Depth = '0' | '1' | 'infinity';

export function depthHeader(req: DavRequest, fallback: Depth): Depth {
  const v = req.header('depth')?.trim().toLowerCase();
  if (v === undefined || v === '') return fallback;
  if (v === '0' || v === '1' || v === 'infinity') return v;
  throw badRequest(`Invalid Depth header: ${v}`);
}

/**
 * Checks If-Match / If-None-Match against the current ETag of the target (undefined when it does
 * not exist). Throws 412 when a precondition fails.
 */
export function checkConditionalHeaders(req: DavRequest, currentEtag: string | undefined): void {
  const ifMatch = req.header('if-match');
  if (ifMatch !== undefined) {
    const ok = currentEtag !== undefined && etagListMatches(ifMatch, currentEtag);
    if (!ok) throw new DavError(412, 'If-Match precondition failed');
  }
  const ifNoneMatch = req.header('if-none-match');
  if (ifNoneMatch !== undefined && currentEtag !== undefined && etagListMatches(ifNoneMatch, currentEtag)) {
    throw new DavError(412, 'If-None-Match precondition failed');
  }
}

/** Overwrite header (default T). */
export function overwriteHeader(req: DavRequest): boolean {
  const v = req.header('overwrite')?.trim().toUpperCase();
  if (v === undefined || v === '') return true;
  if (v === 'T') return true;
  if (v === 'F') return false;
  throw badRequest(`Invalid Overwrite header: ${v}`);
}
