/**
 * Listings write an item's metadata properties (getetag, getcontenttype, getcontentlength,
 * getlastmodified, resourcetype) straight from its metadata: the answer must be exactly what the
 * generic property evaluation gives, for PROPFIND Depth 1 and sync-collection, calendars and address
 * books, and hrefs that need quoting.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { DavClient, mkaddressbook, mkcalendar, put, report, vcard, vevent } from './helpers/dav-client.js';

let server: RunningAlmanac;
let c: DavClient;

const METADATA = ['getetag', 'getcontenttype', 'getcontentlength', 'getlastmodified', 'resourcetype'];

/** Each item's 200 propstat, by href. */
function okPropstats(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of xml.matchAll(/<D:response><D:href>([^<]*)<\/D:href>(.*?)<\/D:response>/gs)) {
    const ok = /<D:propstat>(?:(?!<\/D:propstat>).)*HTTP\/1\.1 200 OK<\/D:status><\/D:propstat>/s.exec(
      m[2] ?? '',
    );
    if (ok && (m[1] ?? '').match(/\.(ics|vcf)$/)) out.set(m[1] ?? '', ok[0]);
  }
  return out;
}

const propXml = (names: string[]): string => names.map((n) => `<D:${n}/>`).join('');

async function propfind(path: string, names: string[]): Promise<Map<string, string>> {
  const r = await c.request('PROPFIND', path, {
    user: 'alice',
    headers: { Depth: '1', 'Content-Type': 'application/xml' },
    body: `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>${propXml(names)}</D:prop></D:propfind>`,
  });
  assert.equal(r.status, 207);
  return okPropstats(r.text);
}

async function sync(path: string, names: string[]): Promise<Map<string, string>> {
  const r = await report(
    c,
    path,
    `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop>${propXml(names)}</D:prop></D:sync-collection>`,
  );
  assert.equal(r.status, 207);
  return okPropstats(r.text);
}

before(async () => {
  server = await startAlmanac();
  c = new DavClient(server.url);
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  assert.equal((await mkaddressbook(c, '/alice/book/')).status, 201);
  assert.equal((await put(c, '/alice/cal/plain.ics', vevent('plain'))).status, 201);
  assert.equal((await put(c, '/alice/cal/a%26b%40x%20y.ics', vevent('odd&name'))).status, 201);
  assert.equal((await put(c, '/alice/book/card.vcf', vcard('card', 'Card Person'))).status, 201);
});

after(async () => {
  await server.stop();
});

describe('metadata properties in listings', () => {
  for (const path of ['/alice/cal/', '/alice/book/']) {
    it(`PROPFIND Depth 1 and sync-collection of ${path} answer them as the generic evaluation does`, async () => {
      for (const names of [['getetag'], ['getetag', 'getcontenttype'], METADATA]) {
        // With displayname (not a metadata property of items) the generic evaluation answers.
        const generic = await propfind(path, [...names, 'displayname']);
        assert.ok(generic.size >= 1, 'items listed');
        assert.deepEqual(await propfind(path, names), generic, `PROPFIND ${names.join(',')}`);
        assert.deepEqual(await sync(path, names), generic, `sync-collection ${names.join(',')}`);
      }
    });
  }

  it('a changed item is answered with its new values', async () => {
    const before = await propfind('/alice/cal/', ['getetag', 'getcontentlength']);
    assert.equal(
      (await put(c, '/alice/cal/plain.ics', vevent('plain', { summary: 'Longer summary now' }))).status,
      204,
    );
    const after = await propfind('/alice/cal/', ['getetag', 'getcontentlength']);
    assert.notEqual(after.get('/alice/cal/plain.ics'), before.get('/alice/cal/plain.ics'));
    assert.equal(after.get('/alice/cal/a%26b%40x%20y.ics'), before.get('/alice/cal/a%26b%40x%20y.ics'));
  });
});
