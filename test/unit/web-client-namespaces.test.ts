/**
 * The web client is compiled on its own (src/web/client/tsconfig.json, served flat from /.web/js/),
 * so it cannot import the server's namespace table from src/dav: it keeps its own copy of the
 * namespaces it uses, which must say what the server's says.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { NS as SERVER } from '../../src/dav/xml.js';
import { NS as CLIENT } from '../../src/web/client/requests.js';

it("the web client's namespace prefixes mean what the server's mean", () => {
  for (const [prefix, uri] of Object.entries(CLIENT)) {
    assert.equal(uri, (SERVER as Record<string, string>)[prefix], prefix);
  }
});
