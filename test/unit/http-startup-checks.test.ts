import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headerAuthWarnings, isLoopbackHost, warnAboutHeaderAuth } from '../../src/http/startup-checks.js';
import { testConfig } from '../helpers/config.js';

const PORT = 5232;
const on = (...hosts: string[]) => hosts.map((host) => ({ host, port: PORT }));

describe('start-up warning for header authentication', () => {
  it('warns for each non-loopback listener when a header names the user and no client certificate is checked', () => {
    for (const type of ['http_x_remote_user', 'http_remote_user', 'remote_user']) {
      const config = testConfig({ auth: { type } });
      const warnings = headerAuthWarnings(config, on('127.0.0.1', '0.0.0.0', '::', '192.0.2.7'));
      assert.equal(warnings.length, 3, type);
      assert.match(warnings[0] ?? '', new RegExp(`type = ${type} on 0\\.0\\.0\\.0:5232`));
      assert.match(warnings[2] ?? '', /192\.0\.2\.7:5232.*certificate_authority.*trusted_proxies/);
    }
  });

  it('stays quiet on loopback listeners', () => {
    const config = testConfig({ auth: { type: 'http_x_remote_user' } });
    assert.deepEqual(headerAuthWarnings(config, on('127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1')), []);
  });

  it('stays quiet when the proxy must present a certificate verified against certificate_authority', () => {
    const verified = testConfig({
      auth: { type: 'http_x_remote_user' },
      server: { ssl: true, certificate_authority: '/etc/almanac/proxy.pem' },
    });
    assert.deepEqual(headerAuthWarnings(verified, on('0.0.0.0')), []);
    const tlsOnly = testConfig({ auth: { type: 'http_x_remote_user' }, server: { ssl: true } });
    assert.equal(headerAuthWarnings(tlsOnly, on('0.0.0.0')).length, 1);
    const caWithoutTls = testConfig({
      auth: { type: 'http_x_remote_user' },
      server: { certificate_authority: '/etc/almanac/proxy.pem' },
    });
    assert.equal(headerAuthWarnings(caWithoutTls, on('0.0.0.0')).length, 1);
  });

  it('stays quiet for password authentication', () => {
    for (const type of ['htpasswd', 'none', 'denyall', 'ldap']) {
      assert.deepEqual(headerAuthWarnings(testConfig({ auth: { type } }), on('0.0.0.0')), [], type);
    }
  });

  it('logs the warnings through the logger', () => {
    const logged: string[] = [];
    const config = testConfig({ auth: { type: 'http_x_remote_user' } });
    warnAboutHeaderAuth(config, on('::', '::1'), { warn: (m) => logged.push(m) });
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /on \[::\]:5232/);
  });

  it('knows loopback from other addresses', () => {
    assert.equal(isLoopbackHost('127.0.0.1'), true);
    assert.equal(isLoopbackHost('localhost'), true);
    assert.equal(isLoopbackHost('::1'), true);
    assert.equal(isLoopbackHost('0.0.0.0'), false);
    assert.equal(isLoopbackHost('::'), false);
    assert.equal(isLoopbackHost('128.0.0.1'), false);
    assert.equal(isLoopbackHost('example.org'), false);
  });
});
