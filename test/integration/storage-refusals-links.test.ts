/**
 * The data folder as the filesystem has it: a folder the server may not write to gives 403 and a log
 * line naming the path (not a bare 500), and a collection COPY keeps symbolic links to item files as
 * links (not copies of what they point to). Filesystem storage whatever ALMANAC_TEST_STORAGE says.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { DavClient, mkcalendar, put, vevent } from './helpers/dav-client.js';
import { requireTool } from '../interop/helpers/tools.js';

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function newFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'almanac-fsedge-'));
  made.push(dir);
  return join(dir, 'collections');
}

/** Makes `dir` unwritable even for root (the immutable attribute), or says why it cannot. */
function immutable(dir: string, on: boolean): string | undefined {
  if (process.getuid?.() !== 0) {
    spawnSync('chmod', [on ? 'a-w' : 'u+w', dir]);
    return undefined;
  }
  const r = spawnSync('chattr', [on ? '+i' : '-i', dir], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `chattr failed: ${r.stderr}`;
}

describe('a folder the server may not write to', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  const logLines: string[] = [];
  before(async () => {
    server = await startAlmanac({ folder: newFolder(), logLines });
    c = new DavClient(server.url);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    assert.equal((await put(c, '/alice/cal/a.ics', vevent('a'))).status, 201);
  });
  after(async () => server.stop());

  it('PUT and DELETE answer 403, the log names the path; nothing changes; writable again, they work', async (t: TestContext) => {
    if (process.getuid?.() === 0 && !requireTool(t, 'chattr', 'e2fsprogs')) return;
    const cal = join(server.folder, 'collection-root/alice/cal');
    const problem = immutable(cal, true);
    assert.equal(problem, undefined, problem);
    try {
      const r = await put(c, '/alice/cal/b.ics', vevent('b'));
      assert.equal(r.status, 403, r.text);
      assert.match(r.text, /not allowed to write to its storage/);
      const d = await c.request('DELETE', '/alice/cal/a.ics', { user: 'alice' });
      assert.equal(d.status, 403);
      const said = logLines.join('\n');
      assert.match(said, new RegExp(`the storage cannot \\w+ ${cal.replace(/[/.]/g, '\\$&')}/`));
      assert.match(said, /permission denied \(EPERM\)|permission denied \(EACCES\)/);
      assert.doesNotMatch(said, /internal error/);
    } finally {
      immutable(cal, false);
    }
    assert.equal((await c.request('GET', '/alice/cal/a.ics', { user: 'alice' })).status, 200);
    assert.equal((await put(c, '/alice/cal/b.ics', vevent('b'))).status, 201);
  });
});

describe('COPY of a collection holding symbolic links', () => {
  let server: RunningAlmanac;
  let c: DavClient;
  let outside: string;
  before(async () => {
    const folder = newFolder();
    server = await startAlmanac({ folder });
    c = new DavClient(server.url);
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
    // An item kept elsewhere in the data folder and linked into the calendar, relatively.
    outside = join(folder, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'linked.ics'), vevent('linked'));
    symlinkSync('../../../outside/linked.ics', join(folder, 'collection-root/alice/cal/linked.ics'));
    // A plain folder (as an administrator makes one), to copy into one level deeper.
    mkdirSync(join(folder, 'collection-root/alice/group'));
  });
  after(async () => server.stop());

  it('the copy holds a link to the same file, also one level deeper; GET reads it', async () => {
    for (const [dest, path] of [
      ['/alice/copy/', 'collection-root/alice/copy'],
      ['/alice/group/deeper/', 'collection-root/alice/group/deeper'],
    ] as const) {
      const r = await c.request('COPY', '/alice/cal/', { user: 'alice', headers: { Destination: dest } });
      assert.equal(r.status, 201);
      const copied = join(server.folder, path, 'linked.ics');
      assert.ok(lstatSync(copied).isSymbolicLink(), `${dest}linked.ics is still a link`);
      assert.equal(realpathSync(copied), realpathSync(join(outside, 'linked.ics')), readlinkSync(copied));
    }
    const got = await c.request('GET', '/alice/copy/linked.ics', { user: 'alice' });
    assert.match(got.text, /UID:linked/);
  });

  it('a PUT to the copy replaces its link, not the file it points to', async () => {
    assert.equal(
      (await put(c, '/alice/copy/linked.ics', vevent('linked', { summary: 'changed' }))).status,
      204,
    );
    assert.doesNotMatch(
      await c.request('GET', '/alice/cal/linked.ics', { user: 'alice' }).then((r) => r.text),
      /changed/,
    );
  });
});
