import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { COLLATIONS, collationKey, isCollation, textMatcher } from '../../src/dav/collation.js';

/** Every Unicode scalar value as a one-character string. */
function* everyCodePoint(): Generator<string> {
  for (let c = 0; c <= 0x10ffff; c++) if (c < 0xd800 || c > 0xdfff) yield String.fromCodePoint(c);
}

describe('collations (RFC 4790, RFC 5051)', () => {
  it('knows the three that supported-collation-set announces', () => {
    assert.deepEqual(COLLATIONS, ['i;ascii-casemap', 'i;unicode-casemap', 'i;octet']);
    assert.equal(isCollation('i;octet'), true);
    assert.equal(isCollation('i;basic'), false);
  });

  it('i;octet compares as is; i;ascii-casemap folds A-Z only', () => {
    assert.equal(collationKey('ÄbC', 'i;octet'), 'ÄbC');
    assert.equal(collationKey('ÄbC', 'i;ascii-casemap'), 'Äbc');
  });

  it('i;unicode-casemap decomposes first, then maps case: U+1D2C is a, U+03F2 is σ', () => {
    const key = (s: string): string => collationKey(s, 'i;unicode-casemap');
    assert.equal(key('\u1d2c'), 'a');
    assert.equal(key('\u03f2'), key('\u03c3'));
    assert.equal(key('\u03c2'), key('\u03a3'));
    assert.equal(key('ÉCOLE'), key('e\u0301cole'));
    assert.equal(key('ﬁ'), 'fi');
    assert.equal(key('Straße'), 'strasse');
    assert.equal(key('STRAẞE'), 'strasse');
  });

  it('i;unicode-casemap gives a character, its decomposition and its upper and lower case one key', () => {
    const key = (s: string): string => collationKey(s, 'i;unicode-casemap');
    let differing = 0;
    for (const c of everyCodePoint()) {
      const k = key(c);
      const same = [c.normalize('NFKD'), c.toUpperCase(), c.toLowerCase(), k].every((v) => key(v) === k);
      if (!same) differing++;
    }
    assert.equal(differing, 0);
  });

  it('matches with each match type, the needle in the same collation', () => {
    assert.equal(textMatcher('ÖD', 'i;unicode-casemap')('Szabó Ödön'), true);
    assert.equal(textMatcher('szabó', 'i;unicode-casemap', 'starts-with')('Szabó Ödön'), true);
    assert.equal(textMatcher('ödön', 'i;unicode-casemap', 'ends-with')('Szabó Ödön'), true);
    assert.equal(textMatcher('szabó ödön', 'i;unicode-casemap', 'equals')('Szabó Ödön'), true);
    assert.equal(textMatcher('szabó', 'i;unicode-casemap', 'equals')('Szabó Ödön'), false);
    assert.equal(textMatcher('ödön', 'i;ascii-casemap')('Szabó Ödön'), false);
    assert.equal(textMatcher('', 'i;octet')('anything'), true);
  });
});
