/**
 * The seed's second nginx configuration: nginx does the login (auth_basic with an htpasswd file made by
 * `htpasswd -bc`) and passes the user in X-Remote-User; Almanac runs `[auth] type = http_x_remote_user`.
 * Made real with two loopback addresses: nginx connects from 127.0.0.2 (proxy_bind), the only trusted proxy,
 * and a forging client connects from 127.0.0.3.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startAlmanac } from '../helpers/almanac.js';
import { findTool, hrefsIn, httpRequest, nginxDir, requireTools, startNginx } from './helpers/nginx.js';

const PROPFIND_PRINCIPAL = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>`;

function authLocation(almanacPort: number, htpasswd: string): string {
  return `
    location /radicale/ {
        proxy_pass           http://127.0.0.1:${almanacPort}/;
        proxy_set_header     X-Script-Name /radicale;
        proxy_set_header     X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header     X-Remote-User $remote_user;
        auth_basic           "Radicale - Password Required";
        auth_basic_user_file ${htpasswd};
        proxy_bind           127.0.0.2;
    }`;
}

async function setUp(
  t: TestContext,
  server: Record<string, string> = { trusted_proxies: '127.0.0.2' },
): Promise<{ nginxUrl: string; almanacUrl: string; logLines: string[] }> {
  const dir = nginxDir();
  const htpasswd = join(dir, 'htpasswd');
  const tool = findTool('htpasswd') ?? 'htpasswd';
  execFileSync(tool, ['-bc', htpasswd, 'alice', 'wonderland'], { stdio: 'pipe' });
  execFileSync(tool, ['-b', htpasswd, 'bob', 'builder'], { stdio: 'pipe' });
  const logLines: string[] = [];
  const almanac = await startAlmanac({
    config: {
      auth: { type: 'http_x_remote_user' },
      server,
      logging: { level: 'info' },
    },
    logLines,
  });
  t.after(() => almanac.stop());
  const nginx = await startNginx(dir, { locations: authLocation(almanac.port, htpasswd) });
  t.after(() => nginx.stop());
  return { nginxUrl: nginx.url, almanacUrl: almanac.url, logLines };
}

function principalOf(body: string): string | undefined {
  return hrefsIn(body)[1];
}

describe('seed configuration 2: nginx auth_basic + X-Remote-User', () => {
  it('acts as the user nginx authenticated, and nginx refuses a wrong password', async (t: TestContext) => {
    if (!requireTools(t, ['nginx', 'htpasswd'], 'apt-get install nginx apache2-utils')) return;
    const { nginxUrl, logLines } = await setUp(t);
    const propfind = (auth: readonly [string, string], headers: Record<string, string> = {}) =>
      httpRequest(`${nginxUrl}/radicale/`, 'PROPFIND', {
        auth,
        body: PROPFIND_PRINCIPAL,
        headers: { Depth: '0', 'Content-Type': 'application/xml', ...headers },
      });

    const alice = await propfind(['alice', 'wonderland']);
    assert.equal(alice.status, 207);
    assert.equal(principalOf(alice.body), '/radicale/alice/');
    const bob = await propfind(['bob', 'builder']);
    assert.equal(principalOf(bob.body), '/radicale/bob/');

    // nginx replaces a client's own X-Remote-User with the user it authenticated.
    const sneaky = await propfind(['bob', 'builder'], { 'X-Remote-User': 'alice' });
    assert.equal(principalOf(sneaky.body), '/radicale/bob/');

    // Rights follow the proxy's user: bob cannot read alice's home.
    const other = await httpRequest(`${nginxUrl}/radicale/alice/`, 'PROPFIND', {
      auth: ['bob', 'builder'],
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0' },
    });
    assert.equal(other.status, 403);

    const wrong = await propfind(['alice', 'not-the-password']);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['www-authenticate'], 'Basic realm="Radicale - Password Required"');
    const none = await httpRequest(`${nginxUrl}/radicale/`, 'PROPFIND', { body: PROPFIND_PRINCIPAL });
    assert.equal(none.status, 401);

    // The log names the real client (X-Forwarded-For from the trusted proxy) and the proxy it came through.
    assert.ok(
      logLines.some((l) => l.includes('received from 127.0.0.1 (via 127.0.0.2)')),
      logLines.join('\n'),
    );
  });

  it('refuses X-Remote-User sent straight to Almanac from an untrusted address, and logs it', async (t: TestContext) => {
    if (!requireTools(t, ['nginx', 'htpasswd'], 'apt-get install nginx apache2-utils')) return;
    const { almanacUrl, logLines } = await setUp(t);
    const forged = await httpRequest(`${almanacUrl}/alice/`, 'PROPFIND', {
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0', 'X-Remote-User': 'alice', 'X-Forwarded-For': '127.0.0.2' },
      localAddress: '127.0.0.3',
    });
    assert.equal(forged.status, 403);
    assert.doesNotMatch(forged.body, /alice/);
    const put = await httpRequest(`${almanacUrl}/alice/cal/`, 'MKCOL', {
      headers: { 'X-Remote-User': 'alice' },
      localAddress: '127.0.0.3',
    });
    assert.equal(put.status, 403);
    assert.ok(
      logLines.some((l) => /refused identity header from 127\.0\.0\.3/.test(l)),
      logLines.join('\n'),
    );
    // Basic credentials do not help either: with header authentication, Almanac has no passwords.
    const basic = await httpRequest(`${almanacUrl}/alice/`, 'PROPFIND', {
      auth: ['alice', 'wonderland'],
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0' },
      localAddress: '127.0.0.3',
    });
    assert.notEqual(basic.status, 207);
  });

  it('trusts no address when trusted_proxies is not set, says so at start-up, and refuses local forgers', async (t: TestContext) => {
    if (!requireTools(t, ['nginx', 'htpasswd'], 'apt-get install nginx apache2-utils')) return;
    const { nginxUrl, almanacUrl, logLines } = await setUp(t, {});
    assert.ok(
      logLines.some((l) => /\[WARNING\].*trusted_proxies is not set.*refused \(403\)/.test(l)),
      logLines.join('\n'),
    );
    // Any local process (here on 127.0.0.1, inside the old default 127.0.0.1/8) could name any user.
    const forged = await httpRequest(`${almanacUrl}/alice/`, 'PROPFIND', {
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0', 'X-Remote-User': 'alice' },
    });
    assert.equal(forged.status, 403);
    assert.doesNotMatch(forged.body, /alice/);
    // nginx itself is not trusted either until the operator says so.
    const proxied = await httpRequest(`${nginxUrl}/radicale/`, 'PROPFIND', {
      auth: ['alice', 'wonderland'],
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0' },
    });
    assert.equal(proxied.status, 403);
  });
});
