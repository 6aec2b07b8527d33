import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  headerAuthWarnings,
  isLoopbackHost,
  trustedProxyList,
  warnAboutHeaderAuth,
} from '../../src/http/startup-checks.js';
import { testConfig } from '../helpers/config.js';

const PORT = 5232;
const on = (...hosts: string[]) => hosts.map((host) => ({ host, port: PORT }));

describe('start-up warning for header authentication', () => {
  it('warns for each non-loopback listener when a header names the user and no client certificate is checked', () => {
    for (const type of ['http_x_remote_user', 'http_remote_user', 'remote_user']) {
      const config = testConfig({ auth: { type }, server: { trusted_proxies: ['127.0.0.1'] } });
      const warnings = headerAuthWarnings(config, on('127.0.0.1', '0.0.0.0', '::', '192.0.2.7'));
      assert.equal(warnings.length, 3, type);
      assert.match(warnings[0] ?? '', new RegExp(`type = ${type} on 0\\.0\\.0\\.0:5232`));
      assert.match(warnings[2] ?? '', /192\.0\.2\.7:5232.*certificate_authority.*trusted_proxies/);
    }
  });

  it('stays quiet on loopback listeners', () => {
    const config = testConfig({ auth: { type: 'http_x_remote_user' }, server: { trusted_proxies: ['::1'] } });
    assert.deepEqual(headerAuthWarnings(config, on('127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1')), []);
  });

  it('stays quiet when the proxy must present a certificate verified against certificate_authority', () => {
    const verified = testConfig({
      auth: { type: 'http_x_remote_user' },
      server: { ssl: true, certificate_authority: '/etc/almanac/proxy.pem' },
    });
    assert.deepEqual(headerAuthWarnings(verified, on('0.0.0.0')), []);
    const tlsOnly = testConfig({
      auth: { type: 'http_x_remote_user' },
      server: { ssl: true, trusted_proxies: ['127.0.0.1'] },
    });
    assert.equal(headerAuthWarnings(tlsOnly, on('0.0.0.0')).length, 1);
    const caWithoutTls = testConfig({
      auth: { type: 'http_x_remote_user' },
      server: { certificate_authority: '/etc/almanac/proxy.pem', trusted_proxies: ['127.0.0.1'] },
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
    const config = testConfig({ auth: { type: 'http_x_remote_user' }, server: { trusted_proxies: ['::1'] } });
    warnAboutHeaderAuth(config, on('::', '::1'), { warn: (m) => logged.push(m) });
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /on \[::\]:5232/);
  });

  it('trusts no proxy with header authentication unless trusted_proxies is set, and says so once', () => {
    for (const type of ['http_x_remote_user', 'http_remote_user', 'remote_user']) {
      const unset = testConfig({ auth: { type } });
      assert.deepEqual(trustedProxyList(unset), [], type);
      const warnings = headerAuthWarnings(unset, on('127.0.0.1', '0.0.0.0'));
      assert.equal(warnings.length, 1, type);
      assert.match(
        warnings[0] ?? '',
        /trusted_proxies is not set.*refused \(403\).*Set \[server\] trusted_proxies/,
      );
    }
    // Set explicitly (even to the default value), it is used as written.
    const set = testConfig({
      auth: { type: 'http_x_remote_user' },
      server: { trusted_proxies: ['127.0.0.1/8', '::1'] },
    });
    assert.deepEqual(trustedProxyList(set), ['127.0.0.1/8', '::1']);
    // Password authentication keeps the default (forwarding headers only name the client address).
    assert.deepEqual(trustedProxyList(testConfig({ auth: { type: 'htpasswd' } })), ['127.0.0.1/8', '::1']);
    // A proxy verified by its client certificate needs no address: nothing to warn about.
    const cert = testConfig({
      auth: { type: 'http_x_remote_user' },
      server: { ssl: true, certificate_authority: '/etc/almanac/proxy.pem' },
    });
    assert.deepEqual(trustedProxyList(cert), []);
    assert.deepEqual(headerAuthWarnings(cert, on('0.0.0.0')), []);
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
