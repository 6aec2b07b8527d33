// [encoding] stock: item files in Python's codecs, byte for byte (vectors from Python 3's str.encode).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { stockEncoding } from '../../src/storage/filesystem/stock-encoding.js';
import { StorageError } from '../../src/storage/types.js';

// [Python codec name, text, text.encode(codec).hex()]
const VECTORS: [string, string, string][] = [
  ['utf-8', 'Jürgen €', '4ac3bc7267656e20e282ac'],
  ['latin-1', 'Jürgen\u0085', '4afc7267656e85'], // true ISO-8859-1: 0x85 is U+0085, not …
  ['iso8859_1', 'Jürgen', '4afc7267656e'],
  ['cp1252', 'Jürgen € „x“', '4afc7267656e208020847893'],
  ['iso8859_15', 'Jürgen €', '4afc7267656e20a4'],
  ['koi8-r', 'Привет', 'f0d2c9d7c5d4'],
  ['ascii', 'Jurgen', '4a757267656e'],
];

describe('[encoding] stock', () => {
  for (const [name, text, hex] of VECTORS) {
    it(`${name}: encodes and decodes like Python; the ETag is of the text in UTF-8`, () => {
      const e = stockEncoding(name);
      assert.equal(e.encode(text).toString('hex'), hex);
      assert.equal(e.decode(Buffer.from(hex, 'hex')), text);
      const etag = `"${createHash('sha256').update(text, 'utf8').digest('hex')}"`;
      assert.equal(e.etag(Buffer.from(hex, 'hex')), etag);
    });
  }

  it('a character the encoding lacks is a StorageError naming it', () => {
    assert.throws(
      () => stockEncoding('latin-1').encode('5 €'),
      (e: unknown) => e instanceof StorageError && e.code === 'unencodable' && /"€"/.test(e.message),
    );
    assert.throws(() => stockEncoding('ascii').decode(Buffer.from([0xfc])), /not valid ascii/);
  });

  it('unknown names and multi-byte encodings other than UTF-8 are refused', () => {
    assert.throws(() => stockEncoding('nonsense'), /unknown encoding/);
    for (const name of ['utf-16', 'shift_jis', 'euc-kr']) {
      assert.throws(() => stockEncoding(name), /only UTF-8 and single-byte encodings/);
    }
    assert.equal(stockEncoding('UTF8').utf8, true);
  });
});
