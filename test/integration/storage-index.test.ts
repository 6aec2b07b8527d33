/**
 * The item index answers listings without reading item files, yet the files stay the truth: an item
 * added, changed or removed by hand (or by Radicale) is seen on the next request, while running and
 * across a restart with the saved index.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac } from '../helpers/almanac.js';
import { NS, parseXml } from '../../src/dav/xml.js';

const AUTH = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;
const event = (uid: string, summary: string): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260301T090000Z\r\nDTEND:20260301T100000Z\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const etagOf = (text: string): string => `"${createHash('sha256').update(text).digest('hex')}"`;

async function listing(url: string): Promise<Record<string, string>> {
  const res = await fetch(`${url}/alice/cal/`, {
    method: 'PROPFIND',
    headers: { Authorization: AUTH, Depth: '1' },
    body: '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
  });
  assert.equal(res.status, 207);
  const out: Record<string, string> = {};
  for (const r of parseXml(await res.text()).children) {
    const href = r.children.find((c) => c.ns === NS.D && c.local === 'href')?.text ?? '';
    const ps = r.children.find((c) => c.local === 'propstat');
    const etag = ps?.children.find((c) => c.local === 'prop')?.children[0]?.text ?? '';
    if (href !== '/alice/cal/') out[href.slice('/alice/cal/'.length)] = etag;
  }
  return out;
}

async function put(url: string, name: string, text: string): Promise<void> {
  const res = await fetch(`${url}/alice/cal/${name}`, {
    method: 'PUT',
    headers: { Authorization: AUTH, 'Content-Type': 'text/calendar' },
    body: text,
  });
  assert.equal(res.status, 201);
}

describe('the item index and files changed by hand', () => {
  it('lists an item removed and created again under the same name once, also after a full relisting', async () => {
    const base = mkdtempSync(join(tmpdir(), 'almanac-index-'));
    const folder = join(base, 'collections');
    const a = await startAlmanac({ folder });
    const hrefs = async (): Promise<string[]> => {
      const res = await fetch(`${a.url}/alice/cal/`, {
        method: 'PROPFIND',
        headers: { Authorization: AUTH, Depth: '1' },
        body: '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
      });
      assert.equal(res.status, 207);
      return [...(await res.text()).matchAll(/<D:href>\/alice\/cal\/([^<]+)<\/D:href>/g)].map(
        (m) => m[1] ?? '',
      );
    };
    const del = async (name: string): Promise<void> => {
      const res = await fetch(`${a.url}/alice/cal/${name}`, {
        method: 'DELETE',
        headers: { Authorization: AUTH },
      });
      assert.equal(res.status, 200);
    };
    try {
      const mk = await fetch(`${a.url}/alice/cal/`, {
        method: 'MKCALENDAR',
        headers: { Authorization: AUTH },
      });
      assert.equal(mk.status, 201);
      const names = Array.from({ length: 300 }, (_, i) => `e${i}.ics`);
      for (const n of names) await put(a.url, n, event(n, n));
      assert.equal((await hrefs()).length, 300);
      await del('e1.ics');
      assert.equal((await hrefs()).length, 299);
      await put(a.url, 'e1.ics', event('e1.ics', 'again'));
      const again = await hrefs();
      assert.equal(again.filter((h) => h === 'e1.ics').length, 1);
      assert.equal(again.length, 300);
      await del('e1.ics');
      await put(a.url, 'e1.ics', event('e1.ics', 'and again'));
      assert.equal((await hrefs()).length, 300);
      await del('e2.ics');
      assert.equal((await hrefs()).length, 299);
      // More files touched by hand than a listing patches: the next listing is made from scratch.
      const dir = join(folder, 'collection-root/alice/cal');
      const later = new Date(Date.now() + 5000);
      for (const n of names) if (n !== 'e2.ics') utimesSync(join(dir, n), later, later);
      const full = await hrefs();
      assert.equal(full.length, 299);
      assert.equal(new Set(full).size, 299);
      assert.ok(!full.includes('e2.ics'));
      await put(a.url, 'e2.ics', event('e2.ics', 'again'));
      const last = await hrefs();
      assert.equal(last.length, 300);
      assert.deepEqual([...new Set(last)].sort(), [...names].sort());
    } finally {
      await a.stop();
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('sees the properties of a principal folder (not watched) changed by hand, each time', async () => {
    const base = mkdtempSync(join(tmpdir(), 'almanac-index-'));
    const folder = join(base, 'collections');
    const a = await startAlmanac({ folder });
    const displayname = async (): Promise<string> => {
      const res = await fetch(`${a.url}/alice/`, {
        method: 'PROPFIND',
        headers: { Authorization: AUTH, Depth: '0' },
        body: '<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>',
      });
      assert.equal(res.status, 207);
      return /<D:displayname>([^<]*)</.exec(await res.text())?.[1] ?? '';
    };
    try {
      const initial = await displayname(); // also creates the principal folder
      const props = join(folder, 'collection-root/alice/.Radicale.props');
      for (const name of ['Alice by hand', 'Alice again, longer', 'A']) {
        writeFileSync(props, JSON.stringify({ 'D:displayname': name }));
        assert.equal(await displayname(), name);
      }
      unlinkSync(props);
      assert.equal(await displayname(), initial);
    } finally {
      await a.stop();
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('sees items added, changed in place and removed by hand on the next request, and after a restart', async () => {
    const base = mkdtempSync(join(tmpdir(), 'almanac-index-'));
    const folder = join(base, 'collections');
    let a = await startAlmanac({ folder });
    try {
      const mk = await fetch(`${a.url}/alice/cal/`, {
        method: 'MKCALENDAR',
        headers: { Authorization: AUTH },
      });
      assert.equal(mk.status, 201);
      await put(a.url, 'one.ics', event('one', 'One'));
      await put(a.url, 'two.ics', event('two', 'Two'));
      await put(a.url, 'three.ics', event('three', 'Three'));
      assert.deepEqual(Object.keys(await listing(a.url)).sort(), ['one.ics', 'three.ics', 'two.ics']);

      const dir = join(folder, 'collection-root/alice/cal');
      writeFileSync(join(dir, 'four.ics'), event('four', 'Four by hand')); // added
      writeFileSync(join(dir, 'two.ics'), event('two', 'Two edited in place')); // changed, same inode
      unlinkSync(join(dir, 'three.ics')); // removed
      const seen = await listing(a.url);
      assert.deepEqual(seen, {
        'one.ics': etagOf(event('one', 'One')),
        'two.ics': etagOf(event('two', 'Two edited in place')),
        'four.ics': etagOf(event('four', 'Four by hand')),
      });

      // Collection properties changed by hand (or by Radicale) are seen too.
      writeFileSync(join(dir, '.Radicale.props'), '{"D:displayname": "Renamed by hand", "tag": "VCALENDAR"}');
      const dn = await fetch(`${a.url}/alice/cal/`, {
        method: 'PROPFIND',
        headers: { Authorization: AUTH, Depth: '0' },
        body: '<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>',
      });
      assert.match(await dn.text(), /Renamed by hand/);

      await a.stop();
      const indexDir = join(folder, '.Almanac.cache/index');
      assert.ok(
        existsSync(indexDir) && readdirSync(indexDir).length > 0,
        'the index is saved beside the data',
      );
      // Changed while the server was down, with the same size and an older mtime than the index knew.
      const edited = event('one', 'ONE');
      writeFileSync(join(dir, 'one.ics'), edited);
      utimesSync(join(dir, 'one.ics'), new Date('2025-01-01'), new Date('2025-01-01'));
      a = await startAlmanac({ folder });
      assert.equal((await listing(a.url))['one.ics'], etagOf(edited));

      // A lost or corrupt index is rebuilt from the files.
      await a.stop();
      for (const f of readdirSync(indexDir)) writeFileSync(join(indexDir, f), '{not json');
      a = await startAlmanac({ folder });
      assert.deepEqual(Object.keys(await listing(a.url)).sort(), ['four.ics', 'one.ics', 'two.ics']);
    } finally {
      await a.stop();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
