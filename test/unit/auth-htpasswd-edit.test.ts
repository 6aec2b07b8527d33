import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { badUserName, hashPassword, withUser, writeSchemeFor } from '../../src/auth/htpasswd/edit.js';
import { verifyPassword } from '../../src/auth/htpasswd/hashes.js';

const deps = { argon2: () => Promise.reject(new Error('unused')) };

void describe('htpasswd edits', () => {
  void it('replace, remove and append one line, keeping everything else byte for byte', () => {
    const text = '# users\nalice:a\n\n bob :b\ncarol:c';
    assert.equal(withUser(text, 'alice', 'A'), '# users\nalice:A\n\n bob :b\ncarol:c');
    assert.equal(withUser(text, ' bob ', undefined), '# users\nalice:a\n\ncarol:c');
    assert.equal(withUser(text, 'carol', 'C'), '# users\nalice:a\n\n bob :b\ncarol:C');
    assert.equal(withUser(text, 'dave', 'd'), '# users\nalice:a\n\n bob :b\ncarol:c\ndave:d\n');
    assert.equal(withUser('', 'dave', 'd'), 'dave:d\n');
    assert.equal(withUser('a:1\r\n', 'b', '2'), 'a:1\r\nb:2\r\n');
    assert.equal(withUser('a:1\rb:2\r', 'a', undefined), 'b:2\r');
    assert.equal(
      withUser('#alice:x\nalice:a\n', 'alice', 'A'),
      '#alice:x\nalice:A\n',
      'comments are not users',
    );
    assert.equal(withUser('alice:a\n', 'bob', undefined), 'alice:a\n');
  });

  void it('refuses names that would not read back as the same user', () => {
    for (const bad of ['', 'a:b', 'a\nb', 'a\rb', '#a', ' a', 'a ', 'a\u2028b']) {
      assert.ok(badUserName(bad) !== undefined, JSON.stringify(bad));
    }
    for (const good of ['alice', 'alice@example.org', 'Zoë', 'a b'])
      assert.equal(badUserName(good), undefined);
  });

  void it('hashes every writable scheme so the login check accepts it', async () => {
    for (const [scheme, prefix] of [
      ['bcrypt', '$2'],
      ['sha512', '$6$'],
      ['sha256', '$5$'],
      ['md5', '$apr1$'],
    ] as const) {
      const digest = await hashPassword(scheme, 'pässword 1');
      assert.ok(digest.startsWith(prefix), digest);
      assert.equal(await verifyPassword(scheme, digest, 'pässword 1', deps), true, scheme);
      assert.equal(await verifyPassword(scheme, digest, 'pässword 2', deps), false, scheme);
      assert.notEqual(await hashPassword(scheme, 'pässword 1'), digest, 'a fresh salt each time');
    }
  });

  void it('writes bcrypt under autodetect, and only the configured scheme otherwise', () => {
    assert.equal(writeSchemeFor('autodetect', undefined), 'bcrypt');
    assert.equal(writeSchemeFor('autodetect', 'sha512'), 'sha512');
    assert.equal(writeSchemeFor('md5', undefined), 'md5');
    assert.throws(() => writeSchemeFor('md5', 'bcrypt'), /would not check a bcrypt hash/);
    assert.throws(() => writeSchemeFor('argon2', undefined), /cannot write such hashes/);
  });
});
