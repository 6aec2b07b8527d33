import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clientBlock,
  matchesAny,
  normalizeAddress,
  parseClientAddressHeader,
  parseForwarded,
  parseNetworks,
  parseTrustedProxies,
  parseXForwardedFor,
  resolveClientAddress,
  type ForwardingPolicy,
} from '../../src/http/client-address.js';

const trusted = parseTrustedProxies(['127.0.0.1/8', '::1', '10.0.0.0/8', 'fd00::/8']);
const xff: ForwardingPolicy = { trusted, header: 'x-forwarded-for' };
const forwarded: ForwardingPolicy = { trusted, header: 'forwarded' };
const nets = (...list: string[]) => parseNetworks(list);

void test('IPv4 CIDR matching', () => {
  assert.equal(matchesAny('192.168.1.77', nets('192.168.1.0/24')), true);
  assert.equal(matchesAny('192.168.2.1', nets('192.168.1.0/24')), false);
  assert.equal(matchesAny('8.8.8.8', nets('0.0.0.0/0')), true);
  assert.equal(matchesAny('10.1.2.3', nets('10.1.2.3')), true);
  assert.equal(matchesAny('10.1.2.4', nets('10.1.2.3')), false);
  // Host bits in the network are ignored, as in the default '127.0.0.1/8'.
  assert.equal(matchesAny('127.9.9.9', nets('127.0.0.1/8')), true);
  assert.equal(matchesAny('not an address', nets('0.0.0.0/0')), false);
});

void test('IPv6 CIDR matching', () => {
  assert.equal(matchesAny('2001:db8:1::5', nets('2001:db8::/32')), true);
  assert.equal(matchesAny('2001:db9::5', nets('2001:db8::/32')), false);
  assert.equal(matchesAny('::1', nets('::1')), true);
  assert.equal(matchesAny('::2', nets('::1')), false);
  assert.equal(matchesAny('fe80::1%eth0', nets('fe80::/10')), true);
  assert.equal(matchesAny('[2001:db8::1]', nets('2001:db8::/32')), true);
});

void test('IPv4-mapped IPv6 addresses match IPv4 networks, and mapped networks match IPv4', () => {
  assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddress('::ffff:7f00:2'), '127.0.0.2');
  assert.equal(normalizeAddress('::FFFF:10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeAddress('2001:db8::ffff:1.2.3.4'), '2001:db8::ffff:1.2.3.4', 'not a mapped address');
  assert.equal(matchesAny('::ffff:10.2.3.4', trusted), true);
  assert.equal(matchesAny('::ffff:a02:304', trusted), true);
  assert.equal(matchesAny('::ffff:11.2.3.4', trusted), false);
  assert.equal(matchesAny('192.0.2.1', nets('::ffff:192.0.2.0/120')), true);
  assert.equal(matchesAny('192.0.3.1', nets('::ffff:192.0.2.0/120')), false);
  // A proxy on 127.0.0.1 seen through a dual-stack socket is still the trusted proxy.
  assert.equal(resolveClientAddress('::ffff:127.0.0.1', {}, xff).peerTrusted, true);
});

void test('invalid trusted_proxies entries are refused with the entry named', () => {
  assert.throws(() => parseTrustedProxies(['10.0.0.0/33']), /trusted_proxies.*10\.0\.0\.0\/33/);
  assert.throws(() => parseTrustedProxies(['proxy.example']), /proxy\.example/);
  assert.throws(() => parseTrustedProxies(['::1/129']), /::1\/129/);
  assert.throws(() => parseTrustedProxies(['1.2.3.4/x']), /1\.2\.3\.4\/x/);
  assert.throws(() => parseTrustedProxies(['1.2.3.4/8/8']), /1\.2\.3\.4\/8\/8/);
  assert.deepEqual(parseTrustedProxies([' 10.0.0.1 ', '']).entries, ['10.0.0.1']);
});

void test('client_address_header must be a header name', () => {
  assert.equal(parseClientAddressHeader('X-Forwarded-For'), 'x-forwarded-for');
  assert.equal(parseClientAddressHeader(' '), '');
  assert.throws(() => parseClientAddressHeader('X Forwarded'), /client_address_header/);
});

void test('forwarding headers are ignored when the peer is not trusted', () => {
  const headers = { 'x-forwarded-for': '1.2.3.4', forwarded: 'for=1.2.3.4' };
  assert.deepEqual(resolveClientAddress('203.0.113.9', headers, xff), {
    clientAddress: '203.0.113.9',
    peerTrusted: false,
  });
  assert.equal(resolveClientAddress('203.0.113.9', headers, forwarded).clientAddress, '203.0.113.9');
});

void test('X-Forwarded-For from a trusted peer: only the last hop, the one the proxy appended', () => {
  // nginx's $proxy_add_x_forwarded_for keeps what the client sent and appends the address it saw.
  const r = resolveClientAddress(
    '::ffff:127.0.0.1',
    { 'x-forwarded-for': '6.6.6.6, 10.0.0.5, 198.51.100.7' },
    xff,
  );
  assert.deepEqual(r, { clientAddress: '198.51.100.7', peerTrusted: true });
  // A client on a trusted address gets no further: what it wrote itself is not believed.
  assert.equal(
    resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 127.0.0.4' }, xff).clientAddress,
    '127.0.0.4',
  );
  // A port some proxies add is dropped.
  assert.equal(
    resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '198.51.100.7:4711' }, xff).clientAddress,
    '198.51.100.7',
  );
  assert.equal(
    resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '[2001:db8::7]:4711' }, xff).clientAddress,
    '2001:db8::7',
  );
});

void test("a client's own Forwarded header does not beat the proxy's X-Forwarded-For", () => {
  const r = resolveClientAddress(
    '127.0.0.1',
    { forwarded: 'for=203.0.113.66', 'x-forwarded-for': '198.51.100.7' },
    xff,
  );
  assert.equal(r.clientAddress, '198.51.100.7');
  // Forwarded alone (the proxy set no X-Forwarded-For) is not believed either: the client wrote it.
  assert.equal(
    resolveClientAddress('127.0.0.1', { forwarded: 'for=203.0.113.66' }, xff).clientAddress,
    '127.0.0.1',
  );
});

void test('a trusted peer without the header, or with a last hop that is not an address, is the client', () => {
  assert.deepEqual(resolveClientAddress('::1', {}, xff), { clientAddress: '::1', peerTrusted: true });
  assert.equal(
    resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '198.51.100.7, unknown' }, xff).clientAddress,
    '127.0.0.1',
  );
  assert.equal(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '' }, xff).clientAddress, '127.0.0.1');
});

void test('client_address_header = Forwarded: the for= of the last element only', () => {
  assert.deepEqual(parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43'), ['192.0.2.60']);
  assert.deepEqual(parseForwarded('For="[2001:db8:cafe::17]:4711", for=198.51.100.17:8080'), [
    '2001:db8:cafe::17',
    '198.51.100.17',
  ]);
  assert.deepEqual(parseForwarded('for="_gazonk", proto=https'), ['_gazonk', '']);
  const headers = {
    forwarded: 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https',
    'x-forwarded-for': '203.0.113.66',
  };
  assert.equal(resolveClientAddress('127.0.0.1', headers, forwarded).clientAddress, '2001:db8:cafe::17');
  // An obfuscated or missing last for= leaves the peer as the client.
  assert.equal(
    resolveClientAddress('127.0.0.1', { forwarded: 'for=6.6.6.6, for=_hidden' }, forwarded).clientAddress,
    '127.0.0.1',
  );
  assert.equal(
    resolveClientAddress('127.0.0.1', { forwarded: 'for=6.6.6.6, proto=https' }, forwarded).clientAddress,
    '127.0.0.1',
  );
});

void test('client_address_header = X-Real-IP, and empty (believe no header)', () => {
  const headers = { 'x-real-ip': '198.51.100.9', 'x-forwarded-for': '203.0.113.66' };
  assert.equal(
    resolveClientAddress('127.0.0.1', headers, { trusted, header: 'x-real-ip' }).clientAddress,
    '198.51.100.9',
  );
  const none = resolveClientAddress('127.0.0.1', headers, { trusted, header: '' });
  assert.deepEqual(none, { clientAddress: '127.0.0.1', peerTrusted: true });
});

void test('a verified client certificate vouches for the header like a trusted address', () => {
  const r = resolveClientAddress('192.0.2.50', { 'x-forwarded-for': '198.51.100.7' }, xff, true);
  assert.deepEqual(r, { clientAddress: '198.51.100.7', peerTrusted: false });
});

void test('parseXForwardedFor splits and trims', () => {
  assert.deepEqual(parseXForwardedFor(' 1.2.3.4 ,5.6.7.8,, '), ['1.2.3.4', '5.6.7.8']);
});

void test('clients are grouped by IPv4 address and by IPv6 /64', () => {
  assert.equal(clientBlock('198.51.100.7'), '198.51.100.7');
  assert.equal(clientBlock('::ffff:198.51.100.7'), '198.51.100.7');
  assert.equal(clientBlock('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientBlock('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.notEqual(clientBlock('2001:db8:1:3::1'), clientBlock('2001:db8:1:2::1'));
  assert.equal(clientBlock('::1'), '0:0:0:0::/64');
});
