/**
 * `[encoding] stock`: the character encoding of item files, as Radicale reads and writes them. Radicale
 * decodes a file with it, and an item's ETag is the SHA-256 of the decoded text in UTF-8 (for UTF-8
 * files, of the bytes themselves). Almanac does the same: with the default UTF-8 nothing changes; a
 * folder written in Latin-1 (`stock = iso-8859-1`) is read as Latin-1, served as UTF-8 text with
 * Radicale's ETags, and written back in Latin-1.
 *
 * Supported: UTF-8, Python's Latin-1 (true ISO-8859-1, not the WHATWG alias of windows-1252), ASCII
 * and every other single-byte encoding the WHATWG decoders know (windows-125x, iso-8859-x, koi8…).
 * Multi-byte encodings other than UTF-8 are refused at start.
 */
import { createHash } from 'node:crypto';
import { TextDecoder } from 'node:util';
import { StorageError } from '../types.js';

function unencodable(encoding: string, char: string): StorageError {
  return new StorageError(
    'unencodable',
    `The text holds ${JSON.stringify(char)}, which item files in [encoding] stock = ${encoding} cannot store`,
  );
}

const UTF8 = new Set(['utf-8', 'utf8', 'u8', 'utf', 'cp65001']);
const LATIN1 = new Set([
  'latin-1',
  'latin1',
  'latin',
  'l1',
  'iso-8859-1',
  'iso8859-1',
  '8859',
  'cp819',
  'iso-ir-100',
]);
const ASCII = new Set(['ascii', 'us-ascii', '646', 'us']);
/** The WHATWG single-byte encodings (other than windows-1252, which is ours above). */
const SINGLE_BYTE =
  /^(?:ibm866|iso-8859-\d+|koi8-[ru]|macintosh|windows-12(?:5[013-8])|windows-874|x-mac-cyrillic)$/;
const CP1252 = new Set(['cp1252', 'windows-1252', '1252']);
/**
 * windows-1252 at 0x80–0x9F (Python's cp1252: five bytes undefined). Node 20's decoder of that name
 * drops these bytes, so the table is ours; the rest is Latin-1.
 */
const CP1252_HIGH = [
  0x20ac, 0, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0, 0x17d, 0,
  0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0, 0x17e,
  0x178,
];

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export interface StockEncoding {
  /** The name as configured. */
  readonly name: string;
  /** True for UTF-8, where bytes, text and ETag need no conversion. */
  readonly utf8: boolean;
  /** The text of a file's bytes (throws on bytes that are not valid in the encoding). */
  decode(bytes: Uint8Array): string;
  /** The bytes to write for a text (throws StorageError 'unencodable' for a character it lacks). */
  encode(text: string): Buffer;
  /** The ETag of a file's bytes, as Radicale computes it: SHA-256 of the decoded text in UTF-8. */
  etag(bytes: Uint8Array): string;
}

const sha256Etag = (bytes: Uint8Array): string => `"${createHash('sha256').update(bytes).digest('hex')}"`;

/** Byte ↔ character tables of a single-byte encoding (undefined bytes map to ''). */
function singleByteTables(decode: (b: Uint8Array) => string): {
  chars: string[];
  bytes: Map<string, number>;
} {
  const chars: string[] = [];
  const bytes = new Map<string, number>();
  for (let b = 0; b < 256; b++) {
    let ch = '';
    try {
      ch = decode(Uint8Array.of(b));
    } catch {
      // a byte the encoding does not define
    }
    chars.push(ch);
    if (ch.length === 1 && !bytes.has(ch)) bytes.set(ch, b);
  }
  return { chars, bytes };
}

function tableEncoding(name: string, decode: (b: Uint8Array) => string): StockEncoding {
  const { chars, bytes } = singleByteTables(decode);
  return {
    name,
    utf8: false,
    decode(data) {
      let out = '';
      for (const b of data) {
        const ch = chars[b] ?? '';
        if (ch === '') throw new Error(`byte 0x${b.toString(16)} is not valid ${name}`);
        out += ch;
      }
      return out;
    },
    encode(text) {
      const out = Buffer.alloc(text.length);
      let i = 0;
      for (const ch of text) {
        const b = bytes.get(ch);
        if (b === undefined) throw unencodable(name, ch);
        out[i++] = b;
      }
      return out.subarray(0, i);
    },
    etag(data) {
      return sha256Etag(Buffer.from(this.decode(data), 'utf8'));
    },
  };
}

export const UTF8_ENCODING: StockEncoding = {
  name: 'utf-8',
  utf8: true,
  decode: (bytes) => utf8Decoder.decode(bytes),
  encode: (text) => Buffer.from(text, 'utf8'),
  etag: sha256Etag,
};

/** The encoding named by `[encoding] stock`; throws for a name it does not know or cannot write. */
export function stockEncoding(name: string): StockEncoding {
  const key = name.trim().toLowerCase().replace(/_/g, '-');
  if (UTF8.has(key)) return UTF8_ENCODING;
  if (LATIN1.has(key)) return tableEncoding(name, (b) => Buffer.from(b).toString('latin1'));
  if (CP1252.has(key)) {
    return tableEncoding(name, (b) => {
      const byte = b[0] ?? 0;
      if (byte < 0x80 || byte > 0x9f) return String.fromCharCode(byte);
      const cp = CP1252_HIGH[byte - 0x80] ?? 0;
      if (cp === 0) throw new Error('undefined in cp1252');
      return String.fromCharCode(cp);
    });
  }
  if (ASCII.has(key)) {
    return tableEncoding(name, (b) => {
      if ((b[0] ?? 0) > 0x7f) throw new Error('not ASCII');
      return String.fromCharCode(b[0] ?? 0);
    });
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(key, { fatal: true });
  } catch {
    throw new Error(`[encoding] stock = ${name}: unknown encoding`);
  }
  if (decoder.encoding === 'utf-8') return UTF8_ENCODING;
  if (!SINGLE_BYTE.test(decoder.encoding)) {
    throw new Error(
      `[encoding] stock = ${name}: only UTF-8 and single-byte encodings (Latin-1, windows-125x, ` +
        'iso-8859-x…) are supported for item files',
    );
  }
  return tableEncoding(name, (b) => decoder.decode(b));
}
