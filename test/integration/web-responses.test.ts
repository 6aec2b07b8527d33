/**
 * The web interface answers through the server's one response path, as every DAV answer does (and as
 * Radicale answers its web pages): compressed for a client that accepts gzip, the same headers for
 * HEAD as for GET, and its body in the debug log with [logging] response_content_on_debug.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { DavClient } from './helpers/dav-client.js';

void describe('web interface through the response path', () => {
  let a: RunningAlmanac;
  let dav: DavClient;
  const logLines: string[] = [];
  before(async () => {
    a = await startAlmanac({
      config: { logging: { level: 'debug', response_content_on_debug: 'True' } },
      logLines,
    });
    dav = new DavClient(a.url);
  });
  after(() => a.stop());

  void it('is compressed when the client accepts gzip, with the security headers kept', async () => {
    const plain = await dav.request('GET', '/.web/js/main.mjs');
    assert.equal(plain.status, 200);
    assert.ok(plain.body.length > 1024, 'an asset big enough to be compressed');
    assert.equal(plain.headers['content-encoding'], undefined);
    const zipped = await dav.request('GET', '/.web/js/main.mjs', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.vary, 'Accept-Encoding');
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
    assert.deepEqual(gunzipSync(zipped.body), plain.body);
    assert.equal(zipped.headers.etag, plain.headers.etag);
    assert.match(String(zipped.headers['content-security-policy']), /default-src 'self'/);
  });

  void it('answers HEAD with the headers of GET and no body', async () => {
    const get = await dav.request('GET', '/.web/css/main.css', { headers: { 'Accept-Encoding': 'gzip' } });
    const head = await dav.request('HEAD', '/.web/css/main.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    assert.equal(head.headers['content-encoding'], get.headers['content-encoding']);
  });

  void it('logs its response content like any other answer', async () => {
    const r = await dav.request('GET', '/.web/config.json');
    assert.equal(r.status, 200);
    const log = logLines.join('\n');
    assert.match(
      log,
      /Response content:\n\s*\{"externalAuth":false,"browserLogin":false,"sharing":false,"scheduling":false\}/,
      log.slice(-2000),
    );
  });
});
