/**
 * Radicale 3.8's options with their meaning, seen through a running server: htpasswd lines as Radicale
 * reads them, [encoding] stock, [server] validate_path_value, the storage hook's placeholders and the
 * [logging] switches.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { DavClient, parseMultistatus } from './helpers/dav-client.js';
import { textContent } from '../../src/dav/xml.js';

const running: RunningAlmanac[] = [];
after(async () => {
  for (const a of running) await a.stop();
});

async function start(opts: Parameters<typeof startAlmanac>[0] = {}): Promise<RunningAlmanac> {
  const a = await startAlmanac(opts);
  running.push(a);
  return a;
}

describe('htpasswd as Radicale reads it', () => {
  it('a login and a password with leading and trailing spaces log in as written', async () => {
    const users = { ' spacey ': ' pass word ', alice: 'alicepw' };
    const a = await start({ users });
    const dav = new DavClient(a.url, users);
    const r = await dav.request('PROPFIND', '/', { user: ' spacey ', headers: { Depth: '0' } });
    assert.equal(r.status, 207, r.text);
    const trimmed = await dav.request('PROPFIND', '/', {
      user: 'spacey: pass word ',
      headers: { Depth: '0' },
    });
    assert.equal(trimmed.status, 401);
    const stripped = await dav.request('PROPFIND', '/', {
      user: ' spacey :pass word',
      headers: { Depth: '0' },
    });
    assert.equal(stripped.status, 401);
  });

  it('a line with an empty password stops the start, naming file and line', async () => {
    await assert.rejects(start({ users: { alice: 'alicepw', bob: '' } }), /users, line 2: empty password/);
  });
});

describe('type values that are not built-in', () => {
  it('[web] type = x.y warns at start and /.web says it cannot run, instead of serving the built-in UI', async () => {
    const logLines: string[] = [];
    const a = await start({ config: { web: { type: 'x.y' }, logging: { level: 'warning' } }, logLines });
    assert.ok(
      logLines.some((l) => /WARNING.*\[web\] type = x\.y names a web interface plugin/.test(l)),
      logLines.join('\n'),
    );
    const root = await fetch(`${a.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    const page = await fetch(`${a.url}/.web/`);
    assert.equal(page.status, 501);
    assert.match(await page.text(), /cannot run in Almanac/);
  });

  it('[auth] type = a Python module name stops the start with the reason', async () => {
    await assert.rejects(
      start({ config: { auth: { type: 'radicale_auth_ldap' } } }),
      /\[auth\] type = radicale_auth_ldap: cannot load the plugin module .*Python module and cannot run in Almanac/,
    );
  });
});

describe('[storage] hook placeholders as Radicale 3.8 fills them', () => {
  it('filesystem paths for %(path)s and %(to_path)s, one run for a principal with predefined collections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'almanac-hooklog-'));
    const log = join(dir, 'hook.log');
    const lines = (): string[] => readFileSync(log, 'utf8').trim().split('\n');
    try {
      const a = await start({
        config: {
          storage: {
            type: 'multifilesystem',
            hook: `printf '%%s|%%s|%%s|%%s|%%s\\n' %(user)s %(request)s %(cwd)s %(path)s %(to_path)s >> ${log}`,
            predefined_collections: JSON.stringify({
              cal: { tag: 'VCALENDAR', 'D:displayname': 'Calendar' },
              book: { tag: 'VADDRESSBOOK' },
            }),
          },
        },
      });
      const root = join(a.folder, 'collection-root');
      const dav = new DavClient(a.url);
      assert.equal(
        (await dav.request('PROPFIND', '/alice/', { user: 'alice', headers: { Depth: '0' } })).status,
        207,
      );
      // Principal and both predefined collections: one run, as Radicale's single write lock gives.
      assert.deepEqual(lines(), [`alice|NONE|${a.folder}|${root}|`]);
      const event = (uid: string): string =>
        `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
      const put = await dav.request('PUT', '/alice/cal/a%40b%20c.ics', {
        user: 'alice',
        body: event('u1'),
        headers: { 'Content-Type': 'text/calendar' },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(lines()[1], `alice|PUT|${a.folder}|${root}/alice/cal/a@b c.ics|`);
      const move = await dav.request('MOVE', '/alice/cal/a%40b%20c.ics', {
        user: 'alice',
        headers: { Destination: `${a.url}/alice/cal/moved%C3%A9.ics` },
      });
      assert.equal(move.status, 201, move.text);
      assert.equal(
        lines()[2],
        `alice|MOVE|${a.folder}|${root}/alice/cal/a@b c.ics|${root}/alice/cal/movedé.ics`,
      );
      const mkcol = await dav.request('MKCALENDAR', '/alice/new/', { user: 'alice' });
      assert.equal(mkcol.status, 201, mkcol.text);
      assert.equal(lines()[3], `alice|MKCALENDAR|${a.folder}|${root}/alice/new/|`);
      assert.equal(lines().length, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('[encoding] stock', () => {
  const latin1Event = (uid: string, summary: string): Buffer =>
    Buffer.from(
      `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\n` +
        `DTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
      'latin1',
    );

  it('a Latin-1 folder is read as Latin-1, with ETags of the text in UTF-8 as Radicale computes them', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'almanac-latin1-'));
    try {
      const cal = join(folder, 'collection-root', 'alice', 'cal');
      mkdirSync(cal, { recursive: true });
      writeFileSync(join(cal, '.Radicale.props'), '{"tag": "VCALENDAR"}');
      const bytes = latin1Event('jurgen', 'Jürgen übt Französisch');
      writeFileSync(join(cal, 'jurgen.ics'), bytes);
      const a = await start({ folder, config: { encoding: { stock: 'iso-8859-1' } } });
      const dav = new DavClient(a.url);
      const get = await dav.request('GET', '/alice/cal/jurgen.ics', { user: 'alice' });
      assert.equal(get.status, 200);
      const text = bytes.toString('latin1');
      assert.equal(get.text, text);
      const utf8Etag = `"${createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex')}"`;
      assert.equal(get.headers.etag, utf8Etag);
      // Written back in Latin-1; a character Latin-1 lacks is refused with the reason.
      const put = await dav.request('PUT', '/alice/cal/new.ics', {
        user: 'alice',
        body: latin1Event('new', 'Straße').toString('latin1'),
        headers: { 'Content-Type': 'text/calendar; charset=utf-8' },
      });
      assert.equal(put.status, 201, put.text);
      assert.deepEqual(readFileSync(join(cal, 'new.ics')), latin1Event('new', 'Straße'));
      const euro = await dav.request('PUT', '/alice/cal/euro.ics', {
        user: 'alice',
        body: latin1Event('euro', 'x').toString('latin1').replace('SUMMARY:x', 'SUMMARY:5 €'),
        headers: { 'Content-Type': 'text/calendar; charset=utf-8' },
      });
      assert.equal(euro.status, 415, euro.text);
      assert.match(euro.text, /\[encoding\] stock = iso-8859-1 cannot store/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('[server] validate_path_value', () => {
  it('strict refuses a non-ASCII path (and MOVE destination) with 400; the default accepts it', async () => {
    const body =
      'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:p1\r\nDTSTAMP:20260101T000000Z\r\n' +
      'DTSTART:20260101T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
    const strict = await start({ config: { server: { validate_path_value: 'strict' } } });
    const dav = new DavClient(strict.url);
    const mk = await dav.request('MKCALENDAR', '/alice/kalender-%C3%BC/', { user: 'alice' });
    assert.equal(mk.status, 400, mk.text);
    assert.match(mk.text, /validate_path_value = strict/);
    assert.equal((await dav.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
    const headers = { 'Content-Type': 'text/calendar' };
    assert.equal(
      (await dav.request('PUT', '/alice/cal/p1.ics', { user: 'alice', body, headers })).status,
      201,
    );
    const move = await dav.request('MOVE', '/alice/cal/p1.ics', {
      user: 'alice',
      headers: { Destination: `${strict.url}/alice/cal/%C3%BC.ics` },
    });
    assert.equal(move.status, 400, move.text);
    const lenient = await start();
    const mk2 = await new DavClient(lenient.url).request('MKCALENDAR', '/alice/kalender-%C3%BC/', {
      user: 'alice',
    });
    assert.equal(mk2.status, 201, mk2.text);
  });
});

describe('[logging] content switches', () => {
  const event = (uid: string, summary: string): string =>
    `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\n` +
    `DTSTART:20260101T100000Z\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
  const headers = { 'Content-Type': 'text/calendar' };

  it('request and response content at debug, cut at limit_content; bad PUT content at warning', async () => {
    const logLines: string[] = [];
    const a = await start({
      logLines,
      config: {
        logging: {
          level: 'debug',
          limit_content: '120',
          request_content_on_debug: 'True',
          response_content_on_debug: 'True',
          bad_put_request_content: 'True',
        },
      },
    });
    const dav = new DavClient(a.url);
    assert.equal((await dav.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
    const body = event('long', 'x'.repeat(300));
    assert.equal(
      (await dav.request('PUT', '/alice/cal/long.ics', { user: 'alice', body, headers })).status,
      201,
    );
    const log = logLines.join('\n');
    assert.ok(
      log.includes(
        `Request content:\n ${body.slice(0, 120).replace(/\r?\n/g, '\n ')}...(shortened because original length ${body.length} > limit 120)`,
      ),
      log,
    );
    // A whole answer and a streamed one (Depth 1 listing).
    const propfind = await dav.propfind('/alice/cal/', ['{DAV:}getetag'], '1');
    assert.equal(propfind.status, 207);
    assert.match(
      logLines.join('\n'),
      /Response content:\n <\?xml version="1\.0" encoding="utf-8"\?>\n? ?<(D:|)multistatus/,
    );
    const bad = await dav.request('PUT', '/alice/cal/bad.ics', {
      user: 'alice',
      body: 'BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n',
      headers,
    });
    assert.ok(bad.status >= 400 && bad.status < 500, String(bad.status));
    assert.match(
      logLines.join('\n'),
      /\[WARNING\].* Bad PUT request content of "\/alice\/cal\/bad\.ics":\n BEGIN:VCALENDAR\n this is not iCalendar/,
    );
  });

  it('switched off (the default), debug says which option would show the content', async () => {
    const logLines: string[] = [];
    const a = await start({ logLines, config: { logging: { level: 'debug' } } });
    const dav = new DavClient(a.url);
    assert.equal((await dav.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
    const bad = await dav.request('PUT', '/alice/cal/bad.ics', { user: 'alice', body: 'nonsense', headers });
    assert.ok(bad.status >= 400 && bad.status < 500);
    const log = logLines.join('\n');
    assert.match(log, /Request content: suppressed by config\/option \[logging\] request_content_on_debug/);
    assert.match(log, /Response content: suppressed by config\/option \[logging\] response_content_on_debug/);
    assert.match(
      log,
      /Bad PUT request content: suppressed by config\/option \[logging\] bad_put_request_content/,
    );
    assert.doesNotMatch(log, /nonsense/);
  });

  it('storage_cache_actions_on_debug logs item cache misses, stores and hits', async () => {
    const logLines: string[] = [];
    const a = await start({
      logLines,
      config: {
        storage: { type: 'multifilesystem' },
        logging: { level: 'debug', storage_cache_actions_on_debug: 'True' },
      },
    });
    const dav = new DavClient(a.url);
    assert.equal((await dav.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
    const cal = join(a.folder, 'collection-root', 'alice', 'cal');
    // A file written behind the server's back is described (miss, store), then found (hit).
    writeFileSync(join(cal, 'outside.ics'), event('outside', 'x'));
    for (let i = 0; i < 2; i++)
      assert.equal((await dav.propfind('/alice/cal/', ['{DAV:}getetag'], '1')).status, 207);
    const quoted = (p: string): string => JSON.stringify(p).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const file = quoted(join(cal, 'outside.ics'));
    const log = logLines.join('\n');
    assert.match(log, new RegExp(`Item cache miss  for: ${file}`));
    assert.match(log, new RegExp(`Item cache store for: ${file}`));
    // The second listing keeps the entry (one line for the folder, not one per unchanged item).
    assert.match(
      log,
      new RegExp(
        `Item cache hit   for: ${quoted(cal)} \\(listing: (1 items, unchanged|1 entries kept, 0 read)\\)`,
      ),
    );
  });
});

describe('RADICALE:version', () => {
  it('is answered to authenticated users (Almanac and its version), 404 for anonymous ones', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    const a = await start({ config: { auth: { type: 'none' }, rights: { type: 'authenticated' } } });
    const dav = new DavClient(a.url);
    const name = '{http://radicale.org/ns/}version';
    const signedIn = await dav.propfind('/', [name], '0', 'alice:x');
    assert.equal(signedIn.status, 207, signedIn.text);
    const ms = parseMultistatus(signedIn.text);
    const prop = ms.props.get('/')?.get(name);
    assert.equal(prop?.status, 200);
    assert.equal(textContent(prop.element), `Almanac ${version}`);
    const anonymous = await dav.request('PROPFIND', '/', {
      headers: { Depth: '0', 'Content-Type': 'application/xml' },
      body: '<?xml version="1.0"?><propfind xmlns="DAV:" xmlns:R="http://radicale.org/ns/"><prop><R:version/></prop></propfind>',
    });
    assert.equal(anonymous.status, 207, anonymous.text);
    assert.equal(parseMultistatus(anonymous.text).props.get('/')?.get(name)?.status, 404);
  });
});
