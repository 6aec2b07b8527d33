/**
 * The seed's third configuration: TLS between nginx and Almanac, both certificates self-signed with the
 * seed's openssl commands; Almanac requires the proxy's client certificate (certificate_authority) and nginx
 * verifies Almanac's (proxy_ssl_verify). A verified client certificate is also what lets Almanac believe
 * identity and prefix headers when the proxy's address is not in trusted_proxies.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { startAlmanac } from '../helpers/almanac.js';
import { findTool, hrefsIn, httpRequest, nginxDir, requireTools, startNginx } from './helpers/nginx.js';

const PROPFIND_PRINCIPAL = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>`;

const EVENT = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//almanac tests//EN',
  'BEGIN:VEVENT',
  'UID:tls-event',
  'DTSTAMP:20240101T000000Z',
  'DTSTART:20240610T100000Z',
  'SUMMARY:Encrypted hop',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

interface Certs {
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** The seed's two commands, non-interactive, with a name nginx can verify. */
function makeCerts(dir: string): Certs {
  const make = (name: string, cn: string): void => {
    execFileSync(
      findTool('openssl') ?? 'openssl',
      ['req', '-x509', '-newkey', 'rsa:4096', '-keyout', `${name}_key.pem`, '-out', `${name}_cert.pem`]
        .concat(['-nodes', '-days', '9999', '-subj', `/CN=${cn}`])
        .concat(['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']),
      { cwd: dir, stdio: 'pipe' },
    );
  };
  make('server', 'localhost');
  make('client', 'localhost');
  return {
    serverCert: join(dir, 'server_cert.pem'),
    serverKey: join(dir, 'server_key.pem'),
    clientCert: join(dir, 'client_cert.pem'),
    clientKey: join(dir, 'client_key.pem'),
  };
}

function tlsLocation(almanacPort: number, certs: Certs, extra = ''): string {
  return `
    location /radicale/ {
        proxy_pass        https://127.0.0.1:${almanacPort}/;
        proxy_set_header  X-Script-Name /radicale;
        proxy_set_header  X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_pass_header Authorization;
        proxy_ssl_certificate         ${certs.clientCert};
        proxy_ssl_certificate_key     ${certs.clientKey};
        proxy_ssl_trusted_certificate ${certs.serverCert};
        proxy_ssl_verify              on;
        proxy_ssl_name                localhost;
        ${extra}
    }`;
}

function tlsServerConfig(certs: Certs, withCa: boolean): Record<string, string> {
  return {
    ssl: 'True',
    certificate: certs.serverCert,
    key: certs.serverKey,
    certificate_authority: withCa ? certs.clientCert : '',
  };
}

interface DirectResult {
  status?: number;
  body?: string;
  error?: string;
}

/** A request straight to Almanac over TLS, trusting its certificate, with or without the client's. */
function direct(
  port: number,
  certs: Certs,
  clientCert: boolean,
  headers: Record<string, string> = {},
): Promise<DirectResult> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        method: 'PROPFIND',
        servername: 'localhost',
        agent: false,
        ca: readFileSync(certs.serverCert),
        ...(clientCert ? { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } : {}),
        headers: { Depth: '0', 'Content-Length': Buffer.byteLength(PROPFIND_PRINCIPAL), ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body }));
        res.on('error', (err) => resolve({ error: err.message }));
      },
    );
    req.on('error', (err) => resolve({ error: err.message }));
    req.end(PROPFIND_PRINCIPAL);
  });
}

describe('seed configuration 3: TLS between nginx and Almanac', () => {
  it('serves a session through nginx and refuses a direct connection without the client certificate', async (t: TestContext) => {
    if (!requireTools(t, ['nginx', 'openssl'], 'apt-get install nginx openssl')) return;
    const dir = nginxDir();
    const certs = makeCerts(dir);
    const logLines: string[] = [];
    const almanac = await startAlmanac({
      config: { server: tlsServerConfig(certs, true), logging: { level: 'info' } },
      logLines,
    });
    t.after(() => almanac.stop());
    const nginx = await startNginx(dir, { locations: tlsLocation(almanac.port, certs) });
    t.after(() => nginx.stop());
    const alice = ['alice', 'alicepw'] as const;
    const base = `${nginx.url}/radicale/alice`;

    const mk = await httpRequest(`${base}/tls/`, 'MKCALENDAR', { auth: alice });
    assert.equal(mk.status, 201, nginx.errorLog());
    assert.equal((await httpRequest(`${base}/tls/e.ics`, 'PUT', { auth: alice, body: EVENT })).status, 201);
    const listing = await httpRequest(`${base}/tls/`, 'PROPFIND', {
      auth: alice,
      body: '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
      headers: { Depth: '1' },
    });
    assert.equal(listing.status, 207);
    assert.deepEqual(hrefsIn(listing.body).sort(), ['/radicale/alice/tls/', '/radicale/alice/tls/e.ics']);
    const got = await httpRequest(`${base}/tls/e.ics`, 'GET', { auth: alice });
    assert.match(got.body, /SUMMARY:Encrypted hop/);
    assert.equal((await httpRequest(`${base}/tls/e.ics`, 'DELETE', { auth: alice })).status < 300, true);

    const refused = await direct(almanac.port, certs, false);
    assert.equal(refused.status, undefined, `answered ${refused.status ?? ''} without a client certificate`);
    assert.ok(refused.error);
    assert.ok(
      logLines.some((l) => /TLS handshake with 127\.0\.0\.1:\d+ failed/.test(l)),
      logLines.join('\n'),
    );

    const accepted = await direct(almanac.port, certs, true, {
      Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}`,
    });
    assert.equal(accepted.status, 207, accepted.error);
  });

  it('believes X-Remote-User and X-Script-Name because the client certificate was verified, not because of the address', async (t: TestContext) => {
    if (!requireTools(t, ['nginx', 'openssl', 'htpasswd'], 'apt-get install nginx openssl apache2-utils'))
      return;
    const dir = nginxDir();
    const certs = makeCerts(dir);
    const htpasswd = join(dir, 'htpasswd');
    execFileSync(findTool('htpasswd') ?? 'htpasswd', ['-bc', htpasswd, 'carol', 'secret'], { stdio: 'pipe' });
    const headerAuth = (withCa: boolean): Record<string, Record<string, string>> => ({
      // The proxy's loopback address is deliberately not trusted: only the certificate can vouch for it.
      server: { ...tlsServerConfig(certs, withCa), trusted_proxies: '10.9.9.9' },
      auth: { type: 'http_x_remote_user' },
    });
    const extra = `proxy_set_header X-Remote-User $remote_user;
        auth_basic "Almanac"; auth_basic_user_file ${htpasswd};`;

    const logLines: string[] = [];
    const verified = await startAlmanac({
      config: { ...headerAuth(true), logging: { level: 'info' } },
      logLines,
    });
    t.after(() => verified.stop());
    const nginx = await startNginx(dir, { locations: tlsLocation(verified.port, certs, extra) });
    t.after(() => nginx.stop());
    const ok = await httpRequest(`${nginx.url}/radicale/`, 'PROPFIND', {
      auth: ['carol', 'secret'],
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0' },
    });
    assert.equal(ok.status, 207, nginx.errorLog());
    assert.equal(hrefsIn(ok.body)[1], '/radicale/carol/');

    // The certificate also vouches for the forwarding headers: the log names the client, not the proxy.
    const vouched = await direct(verified.port, certs, true, {
      'X-Remote-User': 'carol',
      'X-Forwarded-For': '198.51.100.7',
    });
    assert.equal(vouched.status, 207, vouched.error);
    assert.ok(
      logLines.some((l) => l.includes('received from 198.51.100.7 (via 127.0.0.1)')),
      logLines.join('\n'),
    );

    // The same headers over TLS without client-certificate verification are refused.
    const dir2 = nginxDir();
    const unverified = await startAlmanac({ config: headerAuth(false) });
    t.after(() => unverified.stop());
    const nginx2 = await startNginx(dir2, { locations: tlsLocation(unverified.port, certs, extra) });
    t.after(() => nginx2.stop());
    const refused = await httpRequest(`${nginx2.url}/radicale/`, 'PROPFIND', {
      auth: ['carol', 'secret'],
      body: PROPFIND_PRINCIPAL,
      headers: { Depth: '0' },
    });
    assert.equal(refused.status, 403, nginx2.errorLog());
  });
});
