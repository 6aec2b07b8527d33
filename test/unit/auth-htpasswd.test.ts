// Every htpasswd scheme, with vectors generated on this machine by Apache htpasswd 2.4, mkpasswd and
// openssl (see the comments), plus the file rules (comments, bad lines, duplicates, cache).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apr1 } from '../../src/auth/htpasswd/apr1.js';
import { createHtpasswdBackend } from '../../src/auth/htpasswd/backend.js';
import { parseHtpasswd } from '../../src/auth/htpasswd/file.js';
import { detectScheme, verifyPassword, type Scheme } from '../../src/auth/htpasswd/hashes.js';
import { memoryLogger } from '../helpers/logger.js';

const UTF8_PASSWORD = 'pässwörd€';
const deps = { argon2: () => Promise.reject(new Error('argon2 not installed')) };

// [scheme, digest, right password]
const VECTORS: [Scheme, string, string][] = [
  ['md5', '$apr1$piYRDpmG$AYpb/9jVsBIyg3TDCnviw0', UTF8_PASSWORD], // htpasswd -nbm
  ['md5', '$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/', 'secret'], // openssl passwd -apr1 -salt abcdefgh
  ['sha256', '$5$ZFqBTnABX9wJPN2h$KYAsxh1X9aF/z/P.nwcNDj1sNOn0xNMHzY8XVm.Cqd0', UTF8_PASSWORD], // htpasswd -2
  ['sha256', '$5$rounds=6000$fS3eeklSVwpKMTU/$fqgj0aiGp0RsrbHEJA6KzAjJ5gthIJIfL4mx2X6YU63', UTF8_PASSWORD], // mkpasswd -R 6000
  ['sha256', '$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA', 'secret'], // openssl passwd -5
  [
    'sha512',
    '$6$Dyu9cqouqPh.9h4i$cui1RSaJ82vAil7Aahlb0nCq0PnPdDWjhYem.REy8GS3YE69lwWk.zNcnRVLPFLCrHHJaVFZJN.g50.jNwSL40',
    UTF8_PASSWORD,
  ], // htpasswd -5
  [
    'sha512',
    '$6$YSUpWVtli5IINoUT$hYKlwgfaI83e8b/ijQ2OBmKKvh6gD8KUSxeTRUpLwv7Tz4K30ZT1r5D97GN1dBnN4hVwIIoB0plTNIv3ot1nf.',
    UTF8_PASSWORD,
  ], // mkpasswd -m sha-512
  ['bcrypt', '$2y$05$9N0gSvo0ip11RTCynNLJ9eQrA8KLWTst8CSUFr8rWI5FmDgx91sAq', UTF8_PASSWORD], // htpasswd -B -C 5
  ['sha1', '{SHA}WftlVS2jnC7Vz30QrXptSZ4eRyo=', UTF8_PASSWORD], // htpasswd -s
  ['plain', UTF8_PASSWORD, UTF8_PASSWORD], // htpasswd -p
];

describe('htpasswd hashes', () => {
  for (const [scheme, digest, password] of VECTORS) {
    it(`${scheme} ${digest.slice(0, 14)}… accepts the right password and refuses wrong ones`, async () => {
      assert.equal(detectScheme(digest), scheme);
      assert.equal(await verifyPassword(scheme, digest, password, deps), true);
      assert.equal(await verifyPassword(scheme, digest, `${password}x`, deps), false);
      assert.equal(await verifyPassword(scheme, digest, '', deps), false);
      assert.equal(
        await verifyPassword(scheme, digest, password.normalize('NFD'), deps),
        password === password.normalize('NFD'),
      );
    });
  }

  it('APR1 reproduces openssl passwd -apr1', () => {
    assert.equal(apr1('secret', 'abcdefgh'), '$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/');
  });

  it('bcrypt only uses the first 72 bytes (htpasswd -B with an 80-byte password)', async () => {
    const digest = '$2y$04$lbfgW7pRmIY08OkW1yPIf.HenCoKgZ6Gb0L7Xi3mecGB8Q2Xz603C';
    assert.equal(await verifyPassword('bcrypt', digest, 'x'.repeat(80), deps), true);
    assert.equal(await verifyPassword('bcrypt', digest, 'x'.repeat(72), deps), true);
    assert.equal(await verifyPassword('bcrypt', digest, 'x'.repeat(71), deps), false);
  });

  it('autodetect: unknown prefixes and bcrypt-looking digests of the wrong length are plain', () => {
    assert.equal(detectScheme('$2b$short'), 'plain');
    assert.equal(detectScheme('$1$abc$def'), 'plain');
    assert.equal(detectScheme('$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA'), 'argon2');
  });

  it('argon2 without the package gives an error naming npm install argon2', async () => {
    const { loadArgon2 } = await import('../../src/auth/htpasswd/hashes.js');
    await assert.rejects(loadArgon2(), /npm install argon2/);
  });

  it('an explicit scheme does not accept digests of another scheme', async () => {
    assert.equal(
      await verifyPassword('md5', '{SHA}WftlVS2jnC7Vz30QrXptSZ4eRyo=', UTF8_PASSWORD, deps),
      false,
    );
    assert.equal(
      await verifyPassword(
        'sha512',
        '$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA',
        'secret',
        deps,
      ),
      false,
    );
  });
});

describe('htpasswd file', () => {
  it('skips comments and blank lines, keeps everything after the first colon', () => {
    const { entries } = parseHtpasswd('# users\n\n  # indented comment\nalice:a:b\r\nbob:pw\n', 'users');
    assert.deepEqual(
      [...entries],
      [
        ['alice', 'a:b'],
        ['bob', 'pw'],
      ],
    );
  });

  it('keeps spaces around the login and the digest, as Radicale does', () => {
    const { entries } = parseHtpasswd(' alice :pass word \r\nbob:pw\rcarol:x\n', 'users');
    assert.deepEqual(
      [...entries],
      [
        [' alice ', 'pass word '],
        ['bob', 'pw'],
        ['carol', 'x'],
      ],
    );
  });

  it('names file and line for a line without colon, an empty user or password, and a duplicate', () => {
    assert.throws(() => parseHtpasswd('alice:x\ngarbage\n', '/etc/u'), /\/etc\/u, line 2: .*no ':'/);
    assert.throws(() => parseHtpasswd(':x\n', '/etc/u'), /\/etc\/u, line 1: empty user name/);
    assert.throws(() => parseHtpasswd('a:x\nbob:\n', '/etc/u'), /\/etc\/u, line 2: empty password/);
    assert.throws(() => parseHtpasswd('a:x\n#\na:y\n', '/etc/u'), /\/etc\/u, line 3: duplicate user "a"/);
  });

  it('lenient parsing (a file changed at run time) skips the bad lines and lists them', () => {
    const { entries, problems } = parseHtpasswd('a:x\nbroken\nb:\na:y\nc:z\n', 'u', false);
    assert.deepEqual(
      [...entries],
      [
        ['a', 'x'],
        ['c', 'z'],
      ],
    );
    assert.deepEqual(problems, [
      "u, line 2: expected 'user:password', found no ':'",
      'u, line 3: empty password',
      'u, line 4: duplicate user "a"',
    ]);
  });

  it('an empty password or user name stops the start, as in Radicale', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'almanac-htpasswd-'));
    try {
      const file = join(dir, 'users');
      const { log } = memoryLogger();
      for (const text of ['alice:pw\nbob:\n', ':pw\n']) {
        await writeFile(file, text);
        await assert.rejects(
          createHtpasswdBackend(
            { filename: file, encryption: 'plain', cache: false, encoding: 'utf-8' },
            log,
          ),
          /empty (password|user name)/,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('logins and passwords with leading or trailing spaces log in as written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'almanac-htpasswd-'));
    try {
      const file = join(dir, 'users');
      // A hashed digest with a trailing space (an editor's doing) still checks as the hash.
      await writeFile(file, ` spacey : pass word \nhashed:${VECTORS[1]?.[1] ?? ''} \n`);
      const { log } = memoryLogger();
      const backend = await createHtpasswdBackend(
        { filename: file, encryption: 'autodetect', cache: false, encoding: 'utf-8' },
        log,
      );
      const ctx = { clientAddress: '127.0.0.1' };
      assert.equal((await backend.login(' spacey ', ' pass word ', ctx)).ok, true);
      assert.equal((await backend.login('spacey', ' pass word ', ctx)).ok, false);
      assert.equal((await backend.login(' spacey ', 'pass word', ctx)).ok, false);
      assert.equal((await backend.login('hashed', 'secret', ctx)).ok, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the file in [encoding] stock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'almanac-htpasswd-'));
    try {
      const file = join(dir, 'users');
      await writeFile(file, Buffer.from('jürgen:pässwörd\n', 'latin1'));
      const { log } = memoryLogger();
      await assert.rejects(
        createHtpasswdBackend({ filename: file, encryption: 'plain', cache: false, encoding: 'utf-8' }, log),
        /not valid utf-8/,
      );
      const backend = await createHtpasswdBackend(
        { filename: file, encryption: 'plain', cache: true, encoding: 'iso-8859-1' },
        log,
      );
      assert.equal((await backend.login('jürgen', 'pässwörd', { clientAddress: '127.0.0.1' })).ok, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  for (const cache of [false, true]) {
    it(`backend (htpasswd_cache=${cache}) logs in, refuses unknown users and sees file changes`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'almanac-htpasswd-'));
      try {
        const file = join(dir, 'users');
        await writeFile(file, `alice:${VECTORS[0]?.[1] ?? ''}\nbob:plainpw\n`);
        const { log, lines } = memoryLogger();
        const backend = await createHtpasswdBackend(
          { filename: file, encryption: 'autodetect', cache, encoding: 'utf-8' },
          log,
        );
        const ctx = { clientAddress: '127.0.0.1' };
        assert.equal((await backend.login('alice', UTF8_PASSWORD, ctx)).ok, true);
        assert.equal((await backend.login('alice', 'nope', ctx)).ok, false);
        assert.equal((await backend.login('carol', UTF8_PASSWORD, ctx)).ok, false);
        assert.equal((await backend.login('bob', 'plainpw', ctx)).ok, true);
        await writeFile(file, 'bob:newpassword\n');
        await utimes(file, new Date(), new Date(Date.now() + 5000));
        assert.equal((await backend.login('bob', 'plainpw', ctx)).ok, false);
        assert.equal((await backend.login('bob', 'newpassword', ctx)).ok, true);
        // A line broken at run time is skipped with a warning; the other users still log in (Radicale).
        await writeFile(file, 'bob:newpassword\nbroken\n');
        await utimes(file, new Date(), new Date(Date.now() + 10000));
        assert.equal((await backend.login('bob', 'newpassword', ctx)).ok, true);
        assert.ok(lines.some((l) => /line 2: expected 'user:password'.*\(line ignored\)/.test(l)));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('a missing or broken file is a start-up error', async () => {
    const { log } = memoryLogger();
    await assert.rejects(
      createHtpasswdBackend(
        { filename: '/nonexistent/users', encryption: 'autodetect', cache: false, encoding: 'utf-8' },
        log,
      ),
      /^HtpasswdError: \[auth\] htpasswd_filename = \/nonexistent\/users: no such file/,
    );
  });
});
