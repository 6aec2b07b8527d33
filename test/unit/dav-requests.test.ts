/**
 * Golden request bodies: each file in test/fixtures/requests/ parsed by its parser (src/dav/requests/)
 * must give exactly the typed value in the .json beside it, so any change to a parse fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REQUEST_FIXTURES, parsedFixture, requestFixtures } from '../helpers/request-fixtures.js';

const fixtures = requestFixtures();

describe('typed requests from golden bodies', () => {
  it('has golden files for every parser', () => {
    const parsers = new Set(fixtures.map((f) => f.parser));
    assert.deepEqual([...parsers].sort(), [
      'cs-share',
      'dav-share',
      'invite-reply',
      'mkcol',
      'multiget',
      'principal-match',
      'principal-search',
      'sync-collection',
    ]);
  });

  for (const { name, parser } of fixtures) {
    it(name, async () => {
      const expected: unknown = JSON.parse(readFileSync(join(REQUEST_FIXTURES, `${name}.json`), 'utf8'));
      assert.deepEqual(await parsedFixture(name, parser), expected);
    });
  }
});
