/**
 * Password checks for every htpasswd scheme Radicale accepts. Every comparison is constant-time
 * (crypto.timingSafeEqual on equal-length digests) so a timing side channel does not reveal how much of
 * a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { encrypt as shaCrypt } from 'unixcrypt';
import { apr1, apr1Salt } from './apr1.js';

export type Scheme = 'plain' | 'md5' | 'sha256' | 'sha512' | 'bcrypt' | 'argon2' | 'sha1';

/** The scheme of one htpasswd digest, by prefix (htpasswd_encryption = autodetect). */
export function detectScheme(digest: string): Scheme {
  if (digest.startsWith('$apr1$')) return 'md5';
  if (digest.startsWith('$5$')) return 'sha256';
  if (digest.startsWith('$6$')) return 'sha512';
  // A bcrypt-looking digest of the wrong length is a plain password that happens to start with `$2`.
  if (/^\$2[aby]\$/.test(digest)) return digest.length === 60 ? 'bcrypt' : 'plain';
  if (/^\$argon2(i|d|id)\$/.test(digest)) return 'argon2';
  if (digest.startsWith('{SHA}')) return 'sha1';
  return 'plain';
}

/** Constant-time string equality: both sides are hashed to equal-length digests first. */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export type Argon2Verify = (hash: string, password: string) => Promise<boolean>;

/** Loads the optional `argon2` package on first use. */
export async function loadArgon2(): Promise<Argon2Verify> {
  const name = 'argon2';
  let mod: unknown;
  try {
    mod = await import(name);
  } catch {
    throw new Error(
      'htpasswd: argon2 hashes need the optional package "argon2": run `npm install argon2` next to Almanac',
    );
  }
  const verify = findVerify(mod);
  if (verify === undefined) throw new Error('htpasswd: the installed "argon2" package has no verify()');
  return verify;
}

function findVerify(mod: unknown): Argon2Verify | undefined {
  for (const candidate of [mod, (mod as { default?: unknown } | null)?.default]) {
    const fn = (candidate as { verify?: unknown } | null | undefined)?.verify;
    if (typeof fn === 'function')
      return (hash, password) => Promise.resolve(fn.call(candidate, hash, password));
  }
  return undefined;
}

export interface VerifyDeps {
  readonly argon2: () => Promise<Argon2Verify>;
}

/** Checks `password` against `digest` with `scheme`. */
export async function verifyPassword(
  scheme: Scheme,
  digest: string,
  password: string,
  deps: VerifyDeps,
): Promise<boolean> {
  switch (scheme) {
    case 'plain':
      return safeEqual(password, digest);
    case 'sha1':
      return (
        digest.startsWith('{SHA}') &&
        safeEqual(createHash('sha1').update(password, 'utf8').digest('base64'), digest.slice(5))
      );
    case 'md5':
      return digest.startsWith('$apr1$') && safeEqual(apr1(password, apr1Salt(digest)), digest);
    case 'sha256':
    case 'sha512':
      return verifyShaCrypt(scheme === 'sha256' ? '$5$' : '$6$', digest, password);
    case 'bcrypt':
      return verifyBcrypt(digest, password);
    case 'argon2':
      return /^\$argon2(i|d|id)\$/.test(digest) && (await deps.argon2())(digest, password);
  }
}

function verifyShaCrypt(prefix: string, digest: string, password: string): boolean {
  if (!digest.startsWith(prefix)) return false;
  try {
    // unixcrypt wants only the settings (`$5$rounds=N$salt`), not the whole digest.
    const settings = digest.slice(0, digest.lastIndexOf('$'));
    return safeEqual(shaCrypt(password, settings), digest);
  } catch {
    return false; // malformed salt or rounds
  }
}

async function verifyBcrypt(digest: string, password: string): Promise<boolean> {
  if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(digest)) return false;
  // $2y$ (PHP, Apache) is the same algorithm as $2b$; bcrypt only ever uses the first 72 bytes.
  const normalised = digest.startsWith('$2y$') ? `$2b$${digest.slice(4)}` : digest;
  try {
    return await bcrypt.compare(password, normalised);
  } catch {
    return false;
  }
}
