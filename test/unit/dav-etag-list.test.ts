import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { etagListMatches, parseEtagList } from '../../src/dav/etag-list.js';

describe('If-Match / If-None-Match entity-tag lists', () => {
  it('splits on commas, trims, drops empty entries and weakness', () => {
    assert.deepEqual(parseEtagList(' "a" ,W/"b",, *'), ['"a"', '"b"', '*']);
    assert.deepEqual(parseEtagList(''), []);
  });

  it('matches a listed tag, weak or strong, and `*`', () => {
    assert.equal(etagListMatches('"x", "y"', '"y"'), true);
    assert.equal(etagListMatches('W/"y"', '"y"'), true);
    assert.equal(etagListMatches('"y"', 'W/"y"'), true);
    assert.equal(etagListMatches('*', '"anything"'), true);
    assert.equal(etagListMatches('"x"', '"y"'), false);
    assert.equal(etagListMatches('', '"y"'), false);
    assert.equal(etagListMatches('y', '"y"'), false, 'the quotes are part of the tag');
  });
});
