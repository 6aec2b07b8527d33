import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  matchesAny,
  normalizeAddress,
  parseCidr,
  parseForwarded,
  parseTrustedProxies,
  parseXForwardedFor,
  resolveClientAddress,
} from '../../src/http/client-address.js';

const trusted = parseTrustedProxies(['127.0.0.1/8', '::1', '10.0.0.0/8', 'fd00::/8']);

void test('IPv4 CIDR matching', () => {
  const nets = [parseCidr('192.168.1.0/24')];
  assert.equal(matchesAny('192.168.1.77', nets), true);
  assert.equal(matchesAny('192.168.2.1', nets), false);
  assert.equal(matchesAny('8.8.8.8', [parseCidr('0.0.0.0/0')]), true);
  assert.equal(matchesAny('10.1.2.3', [parseCidr('10.1.2.3')]), true);
  assert.equal(matchesAny('10.1.2.4', [parseCidr('10.1.2.3')]), false);
  // Host bits in the network are ignored, as in the default '127.0.0.1/8'.
  assert.equal(matchesAny('127.9.9.9', [parseCidr('127.0.0.1/8')]), true);
});

void test('IPv6 CIDR matching', () => {
  const nets = [parseCidr('2001:db8::/32')];
  assert.equal(matchesAny('2001:db8:1::5', nets), true);
  assert.equal(matchesAny('2001:db9::5', nets), false);
  assert.equal(matchesAny('::1', [parseCidr('::1')]), true);
  assert.equal(matchesAny('::2', [parseCidr('::1')]), false);
  assert.equal(matchesAny('fe80::1%eth0', [parseCidr('fe80::/10')]), true);
  assert.equal(matchesAny('[2001:db8::1]', nets), true);
});

void test('IPv4-mapped IPv6 addresses match IPv4 networks, and mapped networks match IPv4', () => {
  assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddress('::ffff:7f00:2'), '127.0.0.2');
  assert.equal(matchesAny('::ffff:10.2.3.4', trusted), true);
  assert.equal(matchesAny('::ffff:11.2.3.4', trusted), false);
  assert.equal(matchesAny('192.0.2.1', [parseCidr('::ffff:192.0.2.0/120')]), true);
});

void test('invalid trusted_proxies entries are refused with the entry named', () => {
  assert.throws(() => parseTrustedProxies(['10.0.0.0/33']), /trusted_proxies.*10\.0\.0\.0\/33/);
  assert.throws(() => parseTrustedProxies(['proxy.example']), /proxy\.example/);
  assert.throws(() => parseTrustedProxies(['::1/129']), /::1\/129/);
  assert.throws(() => parseTrustedProxies(['1.2.3.4/x']), /1\.2\.3\.4\/x/);
});

void test('X-Forwarded-For is ignored when the peer is not trusted', () => {
  const r = resolveClientAddress('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' }, trusted);
  assert.deepEqual(r, { clientAddress: '203.0.113.9', peerTrusted: false });
});

void test('X-Forwarded-For from a trusted peer: the last untrusted hop from the right', () => {
  const r = resolveClientAddress(
    '::ffff:127.0.0.1',
    { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.5' },
    trusted,
  );
  // 10.0.0.5 is a trusted inner proxy; 198.51.100.7 is the first untrusted hop, 6.6.6.6 could be forged.
  assert.deepEqual(r, { clientAddress: '198.51.100.7', peerTrusted: true });
});

void test('X-Forwarded-For with only trusted hops gives the leftmost one', () => {
  const r = resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '10.0.0.9, 10.0.0.5' }, trusted);
  assert.equal(r.clientAddress, '10.0.0.9');
});

void test('a trusted peer without forwarding headers is the client', () => {
  assert.deepEqual(resolveClientAddress('::1', {}, trusted), { clientAddress: '::1', peerTrusted: true });
});

void test('X-Forwarded-For with garbage stops at the last trusted hop', () => {
  const r = resolveClientAddress('127.0.0.1', { 'x-forwarded-for': 'evil, 10.0.0.5' }, trusted);
  assert.equal(r.clientAddress, '10.0.0.5');
});

void test('RFC 7239 Forwarded: for= values, quoted IPv6 with port, several elements', () => {
  assert.deepEqual(parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43'), ['192.0.2.60']);
  assert.deepEqual(parseForwarded('For="[2001:db8:cafe::17]:4711", for=198.51.100.17:8080'), [
    '2001:db8:cafe::17',
    '198.51.100.17',
  ]);
  assert.deepEqual(parseForwarded('for="_gazonk"'), ['_gazonk']);
  const r = resolveClientAddress(
    '127.0.0.1',
    { forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.5' },
    trusted,
  );
  assert.equal(r.clientAddress, '2001:db8:cafe::17');
});

void test('Forwarded is ignored from an untrusted peer', () => {
  const r = resolveClientAddress('192.0.2.1', { forwarded: 'for=1.2.3.4' }, trusted);
  assert.equal(r.clientAddress, '192.0.2.1');
});

void test('parseXForwardedFor splits and trims', () => {
  assert.deepEqual(parseXForwardedFor(' 1.2.3.4 ,5.6.7.8,, '), ['1.2.3.4', '5.6.7.8']);
});
