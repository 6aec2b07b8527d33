/**
 * vdirsyncer (Debian `vdirsyncer`) against a real Almanac: a caldav and a carddav storage paired with
 * local filesystem storages, collections discovered from both sides; then two-way sync of creations,
 * changes and deletions in both directions, checked on the server over HTTP and in the local files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { requireTool } from './helpers/tools.js';
import { run } from './helpers/run.js';

const AUTH = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;

const event = (uid: string, summary: string): string =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac interop//vdirsyncer//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20240601T000000Z',
    'DTSTART:20240605T150000Z',
    'DTEND:20240605T160000Z',
    `SUMMARY:${summary}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

const card = (uid: string, name: string): string =>
  ['BEGIN:VCARD', 'VERSION:3.0', `UID:${uid}`, `FN:${name}`, `N:${name};;;;`, 'END:VCARD', ''].join('\r\n');

function config(dir: string, url: string): string {
  const remote = (type: string): string =>
    `type = "${type}"\nurl = "${url}/"\nusername = "alice"\npassword = "alicepw"\n`;
  return `[general]
status_path = "${dir}/status/"

[pair cal]
a = "cal_local"
b = "cal_remote"
collections = ["from a", "from b"]

[storage cal_local]
type = "filesystem"
path = "${dir}/calendars/"
fileext = ".ics"

[storage cal_remote]
${remote('caldav')}
[pair card]
a = "card_local"
b = "card_remote"
collections = ["from a", "from b"]

[storage card_local]
type = "filesystem"
path = "${dir}/contacts/"
fileext = ".vcf"

[storage card_remote]
${remote('carddav')}`;
}

describe('vdirsyncer two-way sync', () => {
  let server: RunningAlmanac;
  let dir: string;
  const done: string[] = [];

  before(async () => {
    server = await startAlmanac();
    dir = mkdtempSync(join(tmpdir(), 'almanac-vdirsyncer-'));
    writeFileSync(join(dir, 'config'), config(dir, server.url));
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    console.log(`vdirsyncer scenarios passed: ${done.length} (${done.join(', ')})`);
  });

  async function http(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
    const r = await fetch(server.url + path, { method, body, headers: { Authorization: AUTH, ...headers } });
    return { status: r.status, text: await r.text(), etag: r.headers.get('etag') ?? '' };
  }

  async function vdirsyncer(...args: string[]): Promise<string> {
    const res = await run('vdirsyncer', ['-c', join(dir, 'config'), ...args], {
      cwd: dir,
      env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
      input: 'y\n'.repeat(20), // "create the local collection?" prompts of discover
      timeoutMs: 120_000,
    });
    const out = res.stdout + res.stderr;
    assert.equal(res.code, 0, `vdirsyncer ${args.join(' ')} failed:\n${out}`);
    assert.doesNotMatch(out, /error:/i, out);
    return out;
  }

  /** Texts of the server's items in a collection, by href. */
  async function serverItems(collection: string): Promise<Map<string, string>> {
    const list = await http('PROPFIND', `/alice/${collection}/`, undefined, { Depth: '1' });
    assert.equal(list.status, 207);
    const hrefs = [...list.text.matchAll(/<D:href>([^<]+)<\/D:href>/g)]
      .map((m) => m[1] ?? '')
      .filter((h) => h.startsWith(`/alice/${collection}/`) && h !== `/alice/${collection}/`);
    const out = new Map<string, string>();
    for (const h of hrefs) {
      const g = await http('GET', h);
      assert.equal(g.status, 200, `GET ${h}: ${g.text}`);
      out.set(h, g.text);
    }
    return out;
  }

  function localFiles(kind: string, collection: string): Map<string, string> {
    const d = join(dir, kind, collection);
    return new Map(readdirSync(d).map((f) => [join(d, f), readFileSync(join(d, f), 'utf8')]));
  }

  const withUid = (items: Map<string, string>, uid: string): [string, string] | undefined =>
    [...items].find(([, text]) => text.includes(`UID:${uid}`));

  it('discovers, then syncs creations, changes and deletions both ways', async (t) => {
    if (!requireTool(t, 'vdirsyncer', 'vdirsyncer')) return;
    assert.equal((await http('MKCALENDAR', '/alice/work/')).status, 201);
    const mkcol =
      '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>' +
      '<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Contacts</D:displayname>' +
      '</D:prop></D:set></D:mkcol>';
    assert.equal(
      (await http('MKCOL', '/alice/contacts/', mkcol, { 'Content-Type': 'application/xml' })).status,
      201,
    );
    const ics = { 'Content-Type': 'text/calendar' };
    const vcf = { 'Content-Type': 'text/vcard' };
    assert.equal(
      (await http('PUT', '/alice/work/server-1.ics', event('server-1', 'From server'), ics)).status,
      201,
    );
    assert.equal(
      (await http('PUT', '/alice/contacts/server-c.vcf', card('server-c', 'Server Person'), vcf)).status,
      201,
    );

    // A local calendar that only exists on the laptop ("from a").
    mkdirSync(join(dir, 'calendars', 'laptop'), { recursive: true });
    writeFileSync(join(dir, 'calendars', 'laptop', 'trip.ics'), event('trip-1', 'Trip'));

    // 1. discover (collections from b and from a) and first sync: server → local, local → server.
    const discovered = await vdirsyncer('discover');
    assert.match(discovered, /work/);
    assert.match(discovered, /contacts/);
    assert.match(discovered, /laptop/);
    await vdirsyncer('sync');
    assert.ok(withUid(localFiles('calendars', 'work'), 'server-1'), 'server event synced down');
    assert.ok(withUid(localFiles('contacts', 'contacts'), 'server-c'), 'server contact synced down');
    const laptop = await http('PROPFIND', '/alice/laptop/', undefined, { Depth: '0' });
    assert.equal(laptop.status, 207, 'vdirsyncer created the local-only calendar on the server');
    assert.match(laptop.text, /<C:calendar\/>/);
    assert.ok(withUid(await serverItems('laptop'), 'trip-1'), 'its event uploaded');
    done.push('discover from a+b, initial sync');

    // 2. local creations → server.
    writeFileSync(join(dir, 'calendars', 'work', 'local-1.ics'), event('local-1', 'From laptop'));
    writeFileSync(join(dir, 'contacts', 'contacts', 'local-c.vcf'), card('local-c', 'Local Person'));
    await vdirsyncer('sync');
    const up = withUid(await serverItems('work'), 'local-1');
    assert.ok(up && up[1].includes('SUMMARY:From laptop'), 'local event uploaded');
    assert.ok(withUid(await serverItems('contacts'), 'local-c'), 'local contact uploaded');
    done.push('local create → server');

    // 3. server change → local file.
    const current = await http('GET', '/alice/work/server-1.ics');
    const put = await http('PUT', '/alice/work/server-1.ics', event('server-1', 'Changed on server'), {
      ...ics,
      'If-Match': current.etag,
    });
    assert.equal(put.status, 204);
    await vdirsyncer('sync');
    const down = withUid(localFiles('calendars', 'work'), 'server-1');
    assert.ok(down && down[1].includes('SUMMARY:Changed on server'), 'server change synced down');
    done.push('server change → local');

    // 4. local change → server.
    const localCard = withUid(localFiles('contacts', 'contacts'), 'server-c');
    assert.ok(localCard);
    writeFileSync(localCard[0], card('server-c', 'Renamed Locally'));
    await vdirsyncer('sync');
    const renamed = withUid(await serverItems('contacts'), 'server-c');
    assert.ok(renamed && renamed[1].includes('FN:Renamed Locally'), 'local change uploaded');
    done.push('local change → server');

    // 5. local deletion → server.
    unlinkSync(join(dir, 'calendars', 'work', 'local-1.ics'));
    await vdirsyncer('sync');
    assert.equal(withUid(await serverItems('work'), 'local-1'), undefined, 'deleted on the server');
    done.push('local delete → server');

    // 6. server deletion → local.
    const remoteContact = withUid(await serverItems('contacts'), 'local-c');
    assert.ok(remoteContact);
    assert.equal((await http('DELETE', remoteContact[0])).status, 200);
    await vdirsyncer('sync');
    assert.equal(withUid(localFiles('contacts', 'contacts'), 'local-c'), undefined, 'deleted locally');
    assert.ok(withUid(localFiles('contacts', 'contacts'), 'server-c'), 'the other contact stays');
    done.push('server delete → local');

    // 7. a further sync changes nothing.
    const quiet = await vdirsyncer('sync');
    assert.doesNotMatch(quiet, /Copying|Deleting|Updating/);
    done.push('idle sync');
  });
});
