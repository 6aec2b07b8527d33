/**
 * Radicale 3.8's options with their meaning, seen through a running server: htpasswd lines as Radicale
 * reads them, [encoding] stock, [server] validate_path_value, the storage hook's placeholders and the
 * [logging] switches.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { DavClient } from './helpers/dav-client.js';

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
