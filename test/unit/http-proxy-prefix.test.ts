import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configuredPrefix, encodePrefix } from '../../src/http/proxy-prefix.js';

void test('a proxy prefix is one absolute path, percent-encoded like hrefs', () => {
  assert.equal(encodePrefix(''), '');
  assert.equal(encodePrefix('/'), '');
  assert.equal(encodePrefix('/radicale'), '/radicale');
  assert.equal(encodePrefix('/radicale/'), '/radicale');
  assert.equal(encodePrefix('/a b/c'), '/a%20b/c');
  assert.equal(encodePrefix('/caf\u00e9'), '/caf%C3%A9');
  // As in Radicale, the value is a plain path: a % is a character of it.
  assert.equal(encodePrefix('/100%'), '/100%25');
});

void test('a prefix that is not one absolute path is refused', () => {
  for (const bad of ['//evil.example', '//evil.example/x', '/a//b', 'radicale', 'https://evil.example']) {
    assert.throws(() => encodePrefix(bad), /absolute path|start with \//, bad);
  }
  for (const bad of ['/a/../b', '/./a', '/a\\b', '/a?b', '/a#b', '/a\u0000b', '/a\nb']) {
    assert.throws(() => encodePrefix(bad), Error, JSON.stringify(bad));
  }
});

void test('an invalid [server] script_name is a start-up error naming the option', () => {
  assert.equal(configuredPrefix('/radicale'), '/radicale');
  assert.throws(() => configuredPrefix('//evil.example'), /\[server\] script_name "\/\/evil\.example"/);
});
