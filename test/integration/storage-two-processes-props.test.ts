/**
 * Two servers on one folder (two Almanac processes, as during a rolling restart, or Almanac beside
 * Radicale): PROPPATCHes of the same collection through both at once keep every property set. Each
 * PROPPATCH reads the props, merges its change and writes them back; the write checks, under the
 * folder's flock, that nobody wrote meanwhile, and merges again otherwise.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAlmanac, type AlmanacProcess } from '../helpers/almanac-process.js';

const auth = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;

function proppatch(base: string, name: string, value: string): Promise<Response> {
  const body =
    `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:x-test:"><D:set><D:prop>` +
    `<X:${name}>${value}</X:${name}></D:prop></D:set></D:propertyupdate>`;
  return fetch(`${base}/alice/cal/`, {
    method: 'PROPPATCH',
    headers: { Authorization: auth, 'Content-Type': 'application/xml' },
    body,
    signal: AbortSignal.timeout(30_000),
  });
}

describe('PROPPATCH through two processes on one folder', () => {
  let dir: string;
  let a: AlmanacProcess;
  let b: AlmanacProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'almanac-two-'));
    const folder = join(dir, 'collections');
    a = await spawnAlmanac({ folder });
    b = await spawnAlmanac({ folder });
    const r = await fetch(`${a.url}/alice/cal/`, { method: 'MKCALENDAR', headers: { Authorization: auth } });
    assert.equal(r.status, 201, await r.text());
  });
  after(async () => {
    await a.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every property when both write at once', async () => {
    const names = Array.from({ length: 24 }, (_, i) => `p${i}`);
    const replies = await Promise.all(
      names.map((n, i) => proppatch(i % 2 === 0 ? a.url : b.url, n, `value-${n}`)),
    );
    for (const r of replies) assert.equal(r.status, 207, await r.text());
    const props = JSON.parse(
      readFileSync(join(dir, 'collections/collection-root/alice/cal/.Radicale.props'), 'utf8'),
    ) as Record<string, string>;
    const missing = names.filter((n) => props[`{urn:x-test:}${n}`] !== `value-${n}`);
    assert.deepEqual(missing, [], `lost updates: ${missing.join(', ')}`);
    assert.equal(props.tag, 'VCALENDAR');
    // Both servers read the merged result.
    for (const s of [a, b]) {
      const r = await fetch(`${s.url}/alice/cal/`, {
        method: 'PROPFIND',
        headers: { Authorization: auth, Depth: '0', 'Content-Type': 'application/xml' },
        body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:X="urn:x-test:"><D:prop><X:p0/><X:p23/></D:prop></D:propfind>',
      });
      const text = await r.text();
      assert.match(text, /value-p0/);
      assert.match(text, /value-p23/);
    }
  });
});
