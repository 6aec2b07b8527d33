/**
 * Changing an htpasswd file (`almanac user add|passwd|remove`): one line added, replaced or removed,
 * everything else (comments, blank lines, order, line endings) kept byte for byte. The file is parsed
 * strictly first, as the server does at start-up, so a file the server would refuse is never edited,
 * and written atomically (a temporary file beside it, fsync, rename) with its mode and owner kept.
 */
import { randomBytes } from 'node:crypto';
import { chown, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import bcrypt from 'bcryptjs';
import { encrypt as shaCrypt } from 'unixcrypt';
import { apr1 } from './apr1.js';
import { HtpasswdError, parseHtpasswd, type HtpasswdEntries } from './file.js';
import { detectScheme } from './hashes.js';

/** The schemes new passwords can be stored with. */
export type WriteScheme = 'bcrypt' | 'sha512' | 'sha256' | 'md5' | 'plain';
export const WRITE_SCHEMES: readonly WriteScheme[] = ['bcrypt', 'sha512', 'sha256', 'md5', 'plain'];

/** bcrypt's cost: about 60-80 ms per check in bcryptjs, as `htpasswd -B -C 10`. */
const BCRYPT_COST = 10;

const SALT_CHARS = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function salt(length: number): string {
  return Array.from(randomBytes(length), (b) => SALT_CHARS[b & 0x3f] ?? '.').join('');
}

/** The htpasswd digest of `password` in `scheme`, with a fresh random salt. */
export async function hashPassword(scheme: WriteScheme, password: string): Promise<string> {
  switch (scheme) {
    case 'bcrypt':
      return bcrypt.hash(password, BCRYPT_COST);
    case 'sha512':
      return shaCrypt(password, `$6$${salt(16)}`);
    case 'sha256':
      return shaCrypt(password, `$5$${salt(16)}`);
    case 'md5':
      return apr1(password, salt(8));
    case 'plain':
      return password;
  }
}

/**
 * The scheme to store new passwords with, given `[auth] htpasswd_encryption`: with autodetect (the
 * default) bcrypt unless asked otherwise; a fixed encryption is the only one the server then checks,
 * so only that one can be written.
 */
export function writeSchemeFor(encryption: string, wanted: WriteScheme | undefined): WriteScheme {
  if (encryption === 'autodetect') return wanted ?? 'bcrypt';
  const fixed = WRITE_SCHEMES.find((s) => s === encryption);
  if (fixed === undefined) {
    throw new HtpasswdError(
      `[auth] htpasswd_encryption = ${encryption}: Almanac cannot write such hashes; ` +
        'set htpasswd_encryption = autodetect to store bcrypt hashes',
    );
  }
  if (wanted !== undefined && wanted !== fixed) {
    throw new HtpasswdError(
      `[auth] htpasswd_encryption = ${encryption}: the server would not check a ${wanted} hash; ` +
        'set htpasswd_encryption = autodetect to mix schemes',
    );
  }
  return fixed;
}

/** Why a user name cannot go into an htpasswd file, or undefined when it can. */
export function badUserName(name: string): string | undefined {
  if (name === '') return 'the user name is empty';
  if (name.includes(':')) return "a user name cannot contain ':'";
  if (/[\p{Cc}\p{Zl}\p{Zp}]/u.test(name)) return 'a user name cannot contain control characters';
  if (name.trim() !== name) return 'a user name cannot start or end with spaces';
  if (name.startsWith('#')) return "a user name cannot start with '#' (the line would be a comment)";
  return undefined;
}

export interface HtpasswdText {
  readonly path: string;
  /** The file's text ('' when it does not exist yet). */
  readonly text: string;
  readonly entries: HtpasswdEntries;
  readonly exists: boolean;
}

const isUtf8 = (encoding: string): boolean => /^utf-?8$/i.test(encoding);

/** Reads and strictly parses the file in `encoding` ([encoding] stock); a missing file is an empty one. */
export async function readHtpasswd(path: string, encoding = 'utf-8'): Promise<HtpasswdText> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      return { path, text: '', entries: new Map(), exists: false };
    throw e;
  }
  let text: string;
  try {
    text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new HtpasswdError(`${path}: not valid ${encoding}`);
  }
  return { path, text, entries: parseHtpasswd(text, path).entries, exists: true };
}

/** The scheme of a stored digest, for `user list`. */
export function schemeOf(digest: string, encryption: string): string {
  return encryption === 'autodetect' ? detectScheme(digest.trim()) : encryption;
}

const LINE = /[^\r\n]*(\r\n|\r|\n|$)/g;

/** The file's lines with their endings, in order. */
function lines(text: string): string[] {
  return (text.match(LINE) ?? []).filter((l) => l !== '');
}

function loginOf(line: string): string | undefined {
  const content = line.replace(/(\r\n|\r|\n)$/, '');
  if (content.trimStart() === '' || content.trimStart().startsWith('#')) return undefined;
  const colon = content.indexOf(':');
  return colon > 0 ? content.slice(0, colon) : undefined;
}

/** The text with the line of `user` replaced by `user:digest` (undefined digest: removed), or appended. */
export function withUser(text: string, user: string, digest: string | undefined): string {
  const all = lines(text);
  const at = all.findIndex((l) => loginOf(l) === user);
  const ending = /\r\n|\r|\n/.exec(text)?.[0] ?? '\n';
  if (at >= 0) {
    const old = all[at] ?? '';
    const keep = /(\r\n|\r|\n)$/.exec(old)?.[0] ?? '';
    if (digest === undefined) all.splice(at, 1);
    else all[at] = `${user}:${digest}${keep}`;
    return all.join('');
  }
  if (digest === undefined) return text;
  const joined = all.join('');
  const sep = joined === '' || /(\r\n|\r|\n)$/.test(joined) ? '' : ending;
  return `${joined}${sep}${user}:${digest}${ending}`;
}

/**
 * Replaces the file with `text` atomically. A new file is made readable by its owner only; an existing
 * one keeps its mode, and its owner and group when this process may set them (root editing a file that
 * belongs to the server's user).
 */
export async function writeHtpasswd(path: string, text: string, encoding = 'utf-8'): Promise<void> {
  // ASCII is the same bytes in every encoding a config can name for the file; beyond it, only UTF-8.
  if (!isUtf8(encoding) && Buffer.byteLength(text, 'utf8') !== text.length) {
    throw new HtpasswdError(
      `${path}: can write non-ASCII user names and passwords in UTF-8 only ([encoding] stock = ${encoding})`,
    );
  }
  const before = await stat(path).catch(() => undefined);
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(temp, 'wx', before ? before.mode & 0o7777 : 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    if (before) {
      await fh.chmod(before.mode & 0o7777);
      if (process.getuid?.() === 0) await chown(temp, before.uid, before.gid);
    }
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(temp, path);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
