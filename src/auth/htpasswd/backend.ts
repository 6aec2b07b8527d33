/** [auth] type = htpasswd. */
import type { Logger } from 'pino';
import { FAILED, type BackendResult, type PasswordBackend } from '../backend.js';
import { HtpasswdError, HtpasswdFile } from './file.js';
import { detectScheme, loadArgon2, verifyPassword, type Argon2Verify, type Scheme } from './hashes.js';

export type HtpasswdEncryption = 'plain' | 'md5' | 'sha256' | 'sha512' | 'bcrypt' | 'argon2' | 'autodetect';

export interface HtpasswdOptions {
  readonly filename: string;
  readonly encryption: string;
  readonly cache: boolean;
  /** [encoding] stock: the file's character encoding. */
  readonly encoding: string;
}

/** A fixed digest checked for unknown users, so they cost about as much as a wrong password. */
const DUMMY_PLAIN = 'x'.repeat(32);

export async function createHtpasswdBackend(opts: HtpasswdOptions, log: Logger): Promise<PasswordBackend> {
  const encryption = parseEncryption(opts.encryption);
  const file = new HtpasswdFile(opts.filename, {
    cache: opts.cache,
    encoding: opts.encoding,
    warn: (message) => log.warn(message),
  });
  // Read once at start-up so a missing or broken file is a start-up error, not a 401 for everyone.
  const entries = await file.load().catch((e: unknown) => {
    throw startupError(opts.filename, e);
  });
  let argon2: Promise<Argon2Verify> | undefined;
  const deps = { argon2: () => (argon2 ??= loadArgon2()) };
  const needsArgon2 = [...entries.values()].some((d) => schemeFor(encryption, d).scheme === 'argon2');
  if (needsArgon2) await deps.argon2();

  return {
    cacheable: true,
    async login(user: string, password: string): Promise<BackendResult> {
      let current;
      try {
        current = await file.load();
      } catch (err) {
        log.error({ err }, `htpasswd: cannot read ${opts.filename}: ${String(err)}`);
        return FAILED;
      }
      const digest = current.get(user);
      if (digest === undefined) {
        await verifyPassword('plain', DUMMY_PLAIN, password, deps);
        return FAILED;
      }
      const { scheme, value } = schemeFor(encryption, digest);
      try {
        return (await verifyPassword(scheme, value, password, deps)) ? { ok: true } : FAILED;
      } catch (err) {
        log.error({ err }, `htpasswd: cannot check the password of ${JSON.stringify(user)}: ${String(err)}`);
        return FAILED;
      }
    },
    close: () => Promise.resolve(),
  };
}

/** A file that cannot be read at start-up, said in terms of the option that names it. */
function startupError(filename: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const option = `[auth] htpasswd_filename = ${filename}`;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new HtpasswdError(
      `${option}: no such file (create it with its first user: npx almanac user add NAME)`,
    );
  if (code === 'EACCES' || code === 'EPERM')
    return new HtpasswdError(`${option}: this user (uid ${process.getuid?.() ?? '?'}) may not read it`);
  if (code === 'EISDIR') return new HtpasswdError(`${option}: is a folder, not an htpasswd file`);
  return e;
}

function parseEncryption(value: string): HtpasswdEncryption {
  const all: readonly HtpasswdEncryption[] = [
    'plain',
    'md5',
    'sha256',
    'sha512',
    'bcrypt',
    'argon2',
    'autodetect',
  ];
  const found = all.find((e) => e === value);
  if (found === undefined)
    throw new Error(`[auth] htpasswd_encryption: unknown value ${JSON.stringify(value)}`);
  return found;
}

/**
 * The scheme of a digest and the value to check: a plain password is compared exactly as written
 * (trailing spaces are part of it, as in Radicale); a hash is checked without surrounding whitespace.
 */
function schemeFor(encryption: HtpasswdEncryption, digest: string): { scheme: Scheme; value: string } {
  const trimmed = digest.trim();
  const scheme = encryption === 'autodetect' ? detectScheme(trimmed) : encryption;
  return { scheme, value: scheme === 'plain' ? digest : trimmed };
}
