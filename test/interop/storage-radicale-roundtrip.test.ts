/**
 * Almanac's storage changes a copy of the Radicale 3.1.8 fixture, then Debian's real Radicale 3.1.8
 * serves the folder: it must list exactly Almanac's hrefs and ETags (so the change log Almanac keeps
 * in the collection's `.Almanac.sync/` is ignored), and refuse Almanac's sync
 * token (a position in that log, which Radicale cannot read) with DAV:valid-sync-token, so that its
 * clients sync again instead of getting a wrong delta.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NS, parseXml, textContent, type XmlElement } from '../../src/dav/xml.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import type { ChangeContext, ItemDescription } from '../../src/storage/types.js';
import { FIXTURE } from '../helpers/radicale.js';
import { freePort } from '../helpers/net.js';

const PYTHON = '/usr/bin/python3';
const ctx: ChangeContext = { user: 'alice', path: '/alice/work/', request: 'PUT' };

function radicaleInstalled(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import radicale'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function describe(text: string): ItemDescription {
  const uid = /^UID:(.*)\r?$/m.exec(text)?.[1] ?? '';
  return { uid, component: 'VEVENT', start: 0, end: 0 };
}

/** An event in the exact form vobject serializes (so Radicale's ETag is the hash of our bytes). */
const event = (uid: string, summary: string): string =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//fixture//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTART:20260401T080000Z',
    'DTEND:20260401T090000Z',
    'DTSTAMP:20260101T090000Z',
    `SUMMARY:${summary}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

function descendants(el: XmlElement, ns: string, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (c.ns === ns && c.local === local) out.push(c);
    out.push(...descendants(c, ns, local));
  }
  return out;
}

async function request(
  port: number,
  method: string,
  path: string,
  body: string,
  depth: string,
): Promise<XmlElement> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        body,
        headers: {
          Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}`,
          'Content-Type': 'application/xml; charset=utf-8',
          Depth: depth,
        },
      });
      const text = await res.text();
      assert.equal(res.status, 207, text);
      return parseXml(text);
    } catch (e) {
      if (attempt >= 100 || e instanceof assert.AssertionError) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function responses(ms: XmlElement): Map<string, XmlElement> {
  return new Map(
    descendants(ms, NS.D, 'response').map((r) => [textContent(descendants(r, NS.D, 'href')[0] ?? r), r]),
  );
}

const propText = (r: XmlElement | undefined, ns: string, local: string): string =>
  r === undefined ? '' : textContent(descendants(r, ns, local)[0] ?? r).trim();

void test('Radicale 3.1.8 serves a folder changed by Almanac with identical ETags, refusing its token', async (t) => {
  if (!radicaleInstalled()) {
    if (process.env.CI === 'true') assert.fail('Radicale is missing: apt-get install radicale');
    t.skip('Radicale 3.1.8 not installed (apt-get install radicale)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'almanac-interop-'));
  execFileSync('cp', ['-r', join(FIXTURE, 'collection-root'), dir]);
  execFileSync('chmod', ['-R', 'u+w', dir]);
  const storage = filesystemStorage({ folder: dir, fsync: true, describe });
  let radicale: ChildProcess | undefined;
  try {
    await storage.open();
    const before = await storage.getSyncToken('alice/work');
    const add = event('interop-new@example.org', 'Added by Almanac');
    await storage.putItem(
      'alice/work',
      'new.ics',
      { text: add, description: describe(add) },
      () => undefined,
      ctx,
    );
    const upd = event('review-changed@example.org', 'Replaced by Almanac');
    await storage.putItem(
      'alice/work',
      'review.ics',
      { text: upd, description: describe(upd) },
      () => undefined,
      ctx,
    );
    await storage.deleteItem('alice/work', 'standup.ics', () => undefined, ctx);
    const delta = await storage.sync('alice/work', before);
    const items = await storage.listItems('alice/work');
    const ctag = await storage.getEtag('alice/work');
    const token = await storage.getSyncToken('alice/work');
    assert.equal(token, delta.token);
    await storage.close();

    const port = await freePort();
    radicale = spawn(
      PYTHON,
      [
        '-m',
        'radicale',
        '--config',
        '',
        '--server-hosts',
        `127.0.0.1:${port}`,
        '--storage-filesystem-folder',
        dir,
        '--auth-type',
        'htpasswd',
        '--auth-htpasswd-filename',
        join(FIXTURE, 'htpasswd'),
        '--auth-htpasswd-encryption',
        'plain',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const propfind =
      '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">' +
      '<D:prop><D:getetag/><CS:getctag/><D:sync-token/></D:prop></D:propfind>';
    const listed = responses(await request(port, 'PROPFIND', '/alice/work/', propfind, '1'));
    const own = listed.get('/alice/work/');
    // Each server's CTag is its own formula (Almanac's from its change log).
    assert.match(propText(own, NS.CS, 'getctag'), /^"[0-9a-f]{64}"$/);
    assert.match(ctag, /^"[0-9a-f]{64}"$/);
    assert.notEqual(propText(own, NS.D, 'sync-token'), token);
    listed.delete('/alice/work/');
    assert.deepEqual(
      Object.fromEntries([...listed].map(([href, r]) => [href, propText(r, NS.D, 'getetag')])),
      Object.fromEntries(items.map((m) => [`/alice/work/${m.href}`, m.etag])),
    );

    assert.deepEqual([...delta.changed].sort().concat(delta.deleted), [
      'new.ics',
      'review.ics',
      'standup.ics',
    ]);
    assert.ok(existsSync(join(dir, 'collection-root/alice/work/.Almanac.sync/log')));
    const report =
      '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">' +
      `<D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level>` +
      '<D:prop><D:getetag/></D:prop></D:sync-collection>';
    const refused = await fetch(`http://127.0.0.1:${port}/alice/work/`, {
      method: 'REPORT',
      body: report,
      headers: {
        Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}`,
        'Content-Type': 'application/xml; charset=utf-8',
        Depth: '1',
      },
    });
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /valid-sync-token/);
    assert.ok(
      readFileSync(join(dir, 'collection-root/alice/work/new.ics'), 'utf8').includes('Added by Almanac'),
    );
  } finally {
    radicale?.kill();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  }
});
