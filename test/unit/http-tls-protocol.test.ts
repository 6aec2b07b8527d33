import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProtocol } from '../../src/http/tls.js';

void test('Apache SSLProtocol syntax maps to a Node version range', () => {
  assert.equal(parseProtocol(''), undefined);
  assert.deepEqual(parseProtocol('ALL -SSLv3 -TLSv1 -TLSv1.1'), {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
  });
  assert.deepEqual(parseProtocol('TLSv1.3'), { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  assert.deepEqual(parseProtocol('+TLSv1.2'), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  assert.deepEqual(parseProtocol('TLSv1.2 +TLSv1.3'), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
  assert.deepEqual(parseProtocol('all'), { minVersion: 'TLSv1', maxVersion: 'TLSv1.3' });
  assert.deepEqual(parseProtocol('ALL -TLSv1.3'), { minVersion: 'TLSv1', maxVersion: 'TLSv1.2' });
});

void test('a bare protocol name replaces what came before, as in Apache', () => {
  assert.deepEqual(parseProtocol('ALL TLSv1.2'), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
});

void test('non-contiguous, empty and unknown protocol sets are refused', () => {
  assert.throws(() => parseProtocol('TLSv1 +TLSv1.2'), /contiguous/);
  assert.throws(() => parseProtocol('ALL -TLSv1.1'), /contiguous/);
  assert.throws(() => parseProtocol('ALL -TLSv1 -TLSv1.1 -TLSv1.2 -TLSv1.3'), /no protocol/);
  assert.throws(() => parseProtocol('SSLv3'), /no protocol/);
  assert.throws(() => parseProtocol('TLSv9'), /unknown protocol 'TLSv9'/);
});
