/**
 * `Authorization: Basic` decoding (RFC 7617). The credentials are decoded with the request charset
 * ([encoding] request, normally utf-8), falling back to ISO-8859-1 as Radicale's decode chain does.
 */
import { TextDecoder } from 'node:util';

export type BasicCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'credentials'; readonly login: string; readonly password: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function parseBasic(header: string | undefined, charset = 'utf-8'): BasicCredentials {
  if (header === undefined) return { kind: 'none' };
  const match = /^basic[ \t]+(\S*)\s*$/i.exec(header);
  // Other schemes (Bearer, Digest...) are not ours: the request stays anonymous.
  if (match === null) return /^basic(\s|$)/i.test(header) ? { kind: 'malformed' } : { kind: 'none' };
  const token = match[1] ?? '';
  if (!BASE64.test(token) || token.length % 4 === 1) return { kind: 'malformed' };
  const text = decodeBytes(Buffer.from(token, 'base64'), charset);
  const colon = text.indexOf(':');
  if (colon < 0) return { kind: 'malformed' };
  return { kind: 'credentials', login: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Strict decoders by charset label (made once: creating one costs more than decoding a login). */
const decoders = new Map<string, TextDecoder | null>();

function decoderFor(label: string): TextDecoder | null {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label, { fatal: true });
    } catch {
      d = null; // a label TextDecoder does not know
    }
    if (decoders.size < 16) decoders.set(label, d);
  }
  return d;
}

function decodeBytes(bytes: Buffer, charset: string): string {
  for (const label of [charset, 'utf-8']) {
    try {
      const d = decoderFor(label);
      if (d !== null) return d.decode(bytes);
    } catch {
      // invalid bytes: try the next decoder
    }
  }
  return bytes.toString('latin1');
}
