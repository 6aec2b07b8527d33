/**
 * The export cache: GET of a whole calendar or address book is served from the bytes of the last
 * export while nothing in the collection changed, and is rebuilt as soon as anything did (PUT, DELETE,
 * PROPPATCH, files edited by hand) or the cached file is damaged. HEAD, If-None-Match and gzip work
 * on cached exports as on built ones.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import {
  DavClient,
  mkaddressbook,
  mkcalendar,
  put,
  vcard,
  vevent,
  type DavResult,
} from './helpers/dav-client.js';

let server: RunningAlmanac;
let c: DavClient;

before(async () => {
  // The cache belongs to the filesystem storage: this file always runs on a data folder.
  server = await startAlmanac({ config: { storage: { type: 'multifilesystem' } } });
  c = new DavClient(server.url);
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
  for (const uid of ['one', 'two'])
    assert.equal((await put(c, `/alice/cal/${uid}.ics`, vevent(uid))).status, 201);
});
after(async () => server.stop());

const get = (path: string, headers: Record<string, string> = {}): Promise<DavResult> =>
  c.request('GET', path, { user: 'alice', headers });

const cacheDir = (): string => join(server.folder, '.Almanac.cache', 'export');
const cacheFiles = (): string[] => readdirSync(cacheDir()).filter((f) => f.endsWith('.cache'));

/** GETs an export twice: the second answer comes from the cache (it has a Content-Length). */
async function exportTwice(path: string): Promise<DavResult> {
  const first = await get(path);
  assert.equal(first.status, 200);
  const second = await get(path);
  assert.equal(second.status, 200);
  assert.equal(second.text, first.text);
  assert.equal(second.headers.etag, first.headers.etag);
  assert.equal(second.headers['content-type'], first.headers['content-type']);
  assert.equal(second.headers['content-length'], String(first.body.length));
  return second;
}

describe('export cache', () => {
  it('serves the same export again, from a file in the data folder', async () => {
    const r = await exportTwice('/alice/cal/');
    assert.match(r.text, /^BEGIN:VCALENDAR\r\n/);
    assert.match(r.text, /UID:one\r\n/);
    assert.match(r.text, /UID:two\r\n/);
    assert.match(r.text, /END:VCALENDAR\r\n$/);
    assert.ok(cacheFiles().length >= 1);
  });

  it('shows a new item, a changed item and a deleted item in the next export', async () => {
    await exportTwice('/alice/cal/');
    assert.equal((await put(c, '/alice/cal/three.ics', vevent('three'))).status, 201);
    assert.match((await exportTwice('/alice/cal/')).text, /UID:three\r\n/);
    const changed = vevent('two', { summary: 'Moved meeting' });
    assert.equal((await put(c, '/alice/cal/two.ics', changed)).status, 204);
    assert.match((await exportTwice('/alice/cal/')).text, /SUMMARY:Moved meeting\r\n/);
    assert.equal((await c.request('DELETE', '/alice/cal/three.ics', { user: 'alice' })).status, 200);
    assert.doesNotMatch((await exportTwice('/alice/cal/')).text, /UID:three/);
  });

  it('shows a new display name after PROPPATCH', async () => {
    await exportTwice('/alice/cal/');
    const body =
      '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>' +
      '<D:displayname>Team calendar</D:displayname></D:prop></D:set></D:propertyupdate>';
    const r = await c.request('PROPPATCH', '/alice/cal/', {
      user: 'alice',
      body,
      headers: { 'Content-Type': 'application/xml; charset=utf-8' },
    });
    assert.equal(r.status, 207);
    const after = await exportTwice('/alice/cal/');
    assert.match(after.text, /X-WR-CALNAME:Team calendar\r\n/);
    assert.match(String(after.headers['content-disposition']), /Team%20calendar\.ics/);
  });

  it('shows an item file edited by hand in the data folder', async () => {
    await exportTwice('/alice/cal/');
    const file = join(server.folder, 'collection-root', 'alice', 'cal', 'one.ics');
    writeFileSync(file, vevent('one', { summary: 'Edited by hand' }));
    assert.match((await exportTwice('/alice/cal/')).text, /SUMMARY:Edited by hand\r\n/);
  });

  it('never serves a truncated or altered cache file: the export is built again', async () => {
    const good = (await exportTwice('/alice/cal/')).text;
    for (const f of cacheFiles()) {
      const path = join(cacheDir(), f);
      writeFileSync(path, readFileSync(path).subarray(0, statSync(path).size - 20));
    }
    assert.equal((await get('/alice/cal/')).text, good);
    assert.equal((await exportTwice('/alice/cal/')).text, good);
    for (const f of cacheFiles()) {
      const path = join(cacheDir(), f);
      const bytes = readFileSync(path);
      bytes.write('XXXX', bytes.length - 30);
      writeFileSync(path, bytes);
      const past = new Date(Date.now() - 60_000);
      utimesSync(path, past, past); // any later change of the file has another time than our write
    }
    assert.equal((await get('/alice/cal/')).text, good);
    assert.equal((await exportTwice('/alice/cal/')).text, good);
  });

  it('answers HEAD and If-None-Match for a cached export', async () => {
    const full = await exportTwice('/alice/cal/');
    const etag = String(full.headers.etag);
    const head = await c.request('HEAD', '/alice/cal/', { user: 'alice' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers.etag, etag);
    assert.equal((await get('/alice/cal/', { 'If-None-Match': etag })).status, 304);
    assert.equal((await get('/alice/cal/', { 'If-None-Match': '"other"' })).status, 200);
  });

  it('gzips a cached export when the client accepts it', async () => {
    const plain = await exportTwice('/alice/cal/');
    const r = await get('/alice/cal/', { 'Accept-Encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.notEqual(r.headers['content-length'], plain.headers['content-length']);
    assert.equal(gunzipSync(r.body).toString('utf8'), plain.text);
  });

  it('caches address book exports too, and keeps them apart from the calendar', async () => {
    assert.equal((await put(c, '/alice/book/ann.vcf', vcard('ann', 'Ann Lee'))).status, 201);
    const cal = (await exportTwice('/alice/cal/')).text;
    const book = await exportTwice('/alice/book/');
    assert.match(book.text, /^BEGIN:VCARD\r\n/);
    assert.match(book.text, /FN:Ann Lee\r\n/);
    assert.equal((await put(c, '/alice/book/bob.vcf', vcard('bob', 'Bob Ray'))).status, 201);
    assert.match((await exportTwice('/alice/book/')).text, /FN:Bob Ray\r\n/);
    assert.equal((await get('/alice/cal/')).text, cal);
  });

  it('a client that goes away in the middle of an export leaves no partial cache file behind', async () => {
    // Big enough (about 8 MB) that the server is still writing when the client hangs up.
    assert.equal((await mkcalendar(c, '/alice/big/')).status, 201);
    const dir = join(server.folder, 'collection-root', 'alice', 'big');
    const filler = Array.from({ length: 500 }, (_, i) => `X-FILL-${i}:${'x'.repeat(60)}`).join('\n');
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, `e${i}.ics`), vevent(`e${i}`, { extra: filler }));
    const url = new URL(server.url);
    const auth = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;
    const received = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/alice/big/',
          headers: { Authorization: auth },
          agent: false,
        },
        (res) => {
          res.once('data', (chunk: Buffer) => {
            req.destroy();
            resolve(chunk.length);
          });
        },
      );
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
    assert.ok(received > 0);
    const temps = (): string[] => readdirSync(cacheDir()).filter((f) => f.endsWith('.tmp'));
    for (let i = 0; i < 200 && temps().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(temps(), []);
    const whole = await exportTwice('/alice/big/');
    assert.equal(whole.text.match(/BEGIN:VEVENT/g)?.length, 200);
  });
});
