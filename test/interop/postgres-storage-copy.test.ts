/**
 * `almanac storage copy` of the Radicale 3.1.8 fixture into PostgreSQL and back into a new folder:
 * every item file comes back byte for byte under the same href, props are the same, a second copy
 * changes nothing, Almanac on PostgreSQL serves the fixture's hrefs and ETags, and Debian's Radicale
 * 3.1.8 serving the folder that came back answers the same hrefs, ETags and ctags as it did for the
 * original.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStorageCommand } from '../../src/cli/storage-command.js';
import { NS, parseXml, type XmlElement } from '../../src/dav/xml.js';
import { startAlmanac } from '../helpers/almanac.js';
import { createTestDatabase, requirePostgres } from '../helpers/postgres.js';
import { FIXTURE, copyFixture, startRadicale } from '../helpers/radicale.js';
import { requirePythonModule } from './helpers/tools.js';

interface Expected {
  collections: Record<string, { ctag: string; sync_token: string; items: Record<string, string> }>;
  users: Record<string, string>;
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

/** Item files (relative path → bytes) and props files (→ parsed JSON) of a data folder. */
function snapshot(root: string): { items: Map<string, Buffer>; props: Map<string, unknown> } {
  const items = new Map<string, Buffer>();
  const props = new Map<string, unknown>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const p = join(root, r);
      if (name === '.Radicale.props') props.set(r, JSON.parse(readFileSync(p, 'utf8')));
      if (name.startsWith('.')) continue;
      if (statSync(p).isDirectory()) walk(r);
      else items.set(r, readFileSync(p));
    }
  };
  walk('');
  return { items, props };
}

function texts(el: XmlElement, local: string): string[] {
  const out: string[] = [];
  const walk = (e: XmlElement): void => {
    if (e.local === local) out.push(e.text.trim());
    e.children.forEach(walk);
  };
  walk(el);
  return out;
}

/** href → getetag (getctag for the collection itself) from a Depth 1 PROPFIND. */
async function etags(base: string, path: string): Promise<Record<string, string>> {
  const user = path.split('/')[1] ?? '';
  const res = await fetch(base + path, {
    method: 'PROPFIND',
    headers: {
      Depth: '1',
      Authorization: `Basic ${Buffer.from(`${user}:${expected.users[user] ?? ''}`).toString('base64')}`,
    },
    body:
      '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">' +
      '<D:prop><D:getetag/><CS:getctag/></D:prop></D:propfind>',
  });
  assert.equal(res.status, 207, `PROPFIND ${path}`);
  const out: Record<string, string> = {};
  for (const r of parseXml(await res.text()).children.filter(
    (c) => c.ns === NS.D && c.local === 'response',
  )) {
    const href = texts(r, 'href')[0] ?? '';
    out[href] = (href === path ? texts(r, 'getctag')[0] : texts(r, 'getetag')[0]) ?? '';
  }
  return out;
}

/** A sync-collection REPORT from `token`: status, the hrefs answered and the new token. */
async function syncFrom(
  base: string,
  path: string,
  token: string,
): Promise<{ status: number; hrefs: string[]; token: string }> {
  const user = path.split('/')[1] ?? '';
  const res = await fetch(base + path, {
    method: 'REPORT',
    headers: {
      Depth: '1',
      Authorization: `Basic ${Buffer.from(`${user}:${expected.users[user] ?? ''}`).toString('base64')}`,
    },
    body:
      '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">' +
      `<D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
  });
  const text = await res.text();
  if (res.status !== 207) return { status: res.status, hrefs: [], token: '' };
  const doc = parseXml(text);
  const rs = doc.children.filter((c) => c.ns === NS.D && c.local === 'response');
  return {
    status: res.status,
    hrefs: rs.map((r) => texts(r, 'href')[0] ?? '').sort(),
    token: doc.children.find((c) => c.local === 'sync-token')?.text.trim() ?? '',
  };
}

/** Status and response hrefs of a sync-collection REPORT from `token`. */
async function syncHrefs(
  base: string,
  path: string,
  token: string,
): Promise<{ status: number; hrefs: string[] }> {
  const { status, hrefs } = await syncFrom(base, path, token);
  return { status, hrefs };
}

const wanted = (path: string, withCtag: boolean): Record<string, string> => {
  const c = expected.collections[path];
  assert.ok(c);
  return withCtag ? { ...c.items, [path]: c.ctag } : c.items;
};

void test('storage copy: Radicale folder → PostgreSQL → folder keeps every item, href, ETag and props', async (t) => {
  if (!requirePostgres(t)) return;
  const work = mkdtempSync(join(tmpdir(), 'almanac-pgcopy-'));
  const source = copyFixture();
  const radicaleOk = requirePythonModule(t, 'radicale', 'radicale');
  try {
    const url = await createTestDatabase();
    const lines: string[] = [];
    const out = (s: string): void => void lines.push(s);
    assert.equal(await runStorageCommand(['migrate', '--url', url], out), 0);
    assert.equal(await runStorageCommand(['copy', '--from', source, '--to', url], out), 0, lines.join(''));
    assert.match(lines.at(-1) ?? '', /12 items written, 0 already identical.* 0 problem/);
    // Safe to run twice: nothing left to write.
    assert.equal(await runStorageCommand(['copy', '--from', source, '--to', url], out), 0);
    assert.match(lines.at(-1) ?? '', /0 items written, 12 already identical.* 0 problem/);

    const back = join(work, 'back');
    assert.equal(await runStorageCommand(['copy', '--from', url, '--to', back], out), 0, lines.join(''));
    const a = snapshot(join(source, 'collection-root'));
    const b = snapshot(join(back, 'collection-root'));
    assert.deepEqual([...b.items.keys()].sort(), [...a.items.keys()].sort());
    for (const [rel, bytes] of a.items) assert.ok(bytes.equals(b.items.get(rel) ?? Buffer.alloc(0)), rel);
    assert.deepEqual(b.props, a.props);

    // Almanac on PostgreSQL serves the fixture's hrefs and item ETags.
    const almanac = await startAlmanac({
      users: expected.users,
      config: { storage: { type: 'postgresql', postgresql_url: url } },
    });
    try {
      for (const path of Object.keys(expected.collections)) {
        const got = Object.entries(await etags(almanac.url, path)).filter(([href]) => href !== path);
        assert.deepEqual(Object.fromEntries(got), wanted(path, false), path);
        // The sync token Radicale gave before the move goes on working: nothing changed since.
        const token = expected.collections[path]?.sync_token ?? '';
        assert.deepEqual(await syncHrefs(almanac.url, path, token), { status: 207, hrefs: [] }, path);
      }
      const put = await fetch(`${almanac.url}/alice/work/after-move.ics`, {
        method: 'PUT',
        headers: {
          Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}`,
          'Content-Type': 'text/calendar',
        },
        body: 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:after-move\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:after\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
      });
      assert.equal(put.status, 201);
      const old = expected.collections['/alice/work/']?.sync_token ?? '';
      assert.deepEqual(await syncHrefs(almanac.url, '/alice/work/', old), {
        status: 207,
        hrefs: ['/alice/work/after-move.ics'],
      });
    } finally {
      await almanac.stop();
    }

    if (!radicaleOk) return;
    const radicale = await startRadicale(back);
    try {
      for (const path of Object.keys(expected.collections)) {
        assert.deepEqual(
          await etags(radicale.url, path),
          wanted(path, true),
          `Radicale serving the copy: ${path}`,
        );
      }
    } finally {
      radicale.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(source, { recursive: true, force: true });
  }
});

const EVENT = (uid: string): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\n` +
  'DTSTART:20260102T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';

async function put(base: string, href: string, uid: string): Promise<void> {
  const res = await fetch(base + href, {
    method: 'PUT',
    headers: {
      Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}`,
      'Content-Type': 'text/calendar',
    },
    body: EVENT(uid),
  });
  assert.equal(res.status, 201, await res.text());
}

void test('storage copy: PostgreSQL → folder carries the sync tokens back, for Almanac and Radicale', async (t) => {
  if (!requirePostgres(t)) return;
  const work = mkdtempSync(join(tmpdir(), 'almanac-pgcopy-tokens-'));
  const source = copyFixture();
  const radicaleOk = requirePythonModule(t, 'radicale', 'radicale');
  try {
    const url = await createTestDatabase();
    const lines: string[] = [];
    const out = (s: string): void => void lines.push(s);
    assert.equal(await runStorageCommand(['copy', '--from', source, '--to', url], out), 0, lines.join(''));

    // On PostgreSQL: a client syncs the work calendar from scratch, then after a change; the holidays
    // calendar is left alone (its client holds the token Radicale gave before the first move).
    const tokens: Record<string, string> = {};
    const almanac = await startAlmanac({
      users: expected.users,
      config: { storage: { type: 'postgresql', postgresql_url: url } },
    });
    try {
      const first = await syncFrom(almanac.url, '/alice/work/', '');
      await put(almanac.url, '/alice/work/on-postgres.ics', 'on-postgres');
      const second = await syncFrom(almanac.url, '/alice/work/', first.token);
      assert.deepEqual(second.hrefs, ['/alice/work/on-postgres.ics']);
      tokens.work = second.token;
      tokens.holidays = (await syncFrom(almanac.url, '/alice/holidays/', '')).token;
    } finally {
      await almanac.stop();
    }

    const back = join(work, 'back');
    assert.equal(await runStorageCommand(['copy', '--from', url, '--to', back], out), 0, lines.join(''));
    assert.match(lines.at(-1) ?? '', /[1-9]\d* sync tokens carried/);
    const radicaleToken = expected.collections['/alice/holidays/']?.sync_token ?? '';

    if (radicaleOk) {
      // Radicale serving the folder that came back takes the tokens PostgreSQL gave.
      const radicale = await startRadicale(back);
      try {
        const r = await syncFrom(radicale.url, '/alice/work/', tokens.work ?? '');
        assert.deepEqual([r.status, r.hrefs], [207, []], 'Radicale: the PostgreSQL token, nothing changed');
        const h = await syncFrom(radicale.url, '/alice/holidays/', tokens.holidays ?? '');
        assert.deepEqual([h.status, h.hrefs], [207, []]);
      } finally {
        radicale.stop();
      }
    }

    const onFolder = await startAlmanac({ users: expected.users, folder: back });
    try {
      assert.deepEqual(
        (({ status, hrefs }) => ({ status, hrefs }))(
          await syncFrom(onFolder.url, '/alice/work/', tokens.work ?? ''),
        ),
        { status: 207, hrefs: [] },
        'the token of the last sync on PostgreSQL: nothing changed since',
      );
      // A token carried through PostgreSQL from the original folder, for a collection unchanged since.
      const old = await syncFrom(onFolder.url, '/alice/holidays/', radicaleToken);
      assert.deepEqual([old.status, old.hrefs], [207, []], "Radicale's token, twice moved");
      await put(onFolder.url, '/alice/work/on-folder.ics', 'on-folder');
      const after = await syncFrom(onFolder.url, '/alice/work/', tokens.work ?? '');
      assert.deepEqual(
        [after.status, after.hrefs],
        [207, ['/alice/work/on-folder.ics']],
        'exactly the new item',
      );
    } finally {
      await onFolder.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(source, { recursive: true, force: true });
  }
});
