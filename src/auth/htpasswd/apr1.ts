/**
 * Apache's APR1 MD5 crypt (`$apr1$salt$hash`), the MD5-crypt algorithm with the `$apr1$` magic, written
 * from its published description on node:crypto md5. Passwords are hashed as UTF-8 bytes.
 */
import { createHash } from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const MAGIC = '$apr1$';

function md5(...parts: Buffer[]): Buffer {
  const h = createHash('md5');
  for (const part of parts) h.update(part);
  return h.digest();
}

function to64(value: number, count: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < count; i++) {
    out += ITOA64[v & 0x3f] ?? '';
    v >>>= 6;
  }
  return out;
}

/** The byte at `i` (always in range here; the fallback only satisfies noUncheckedIndexedAccess). */
function at(buf: Buffer, i: number): number {
  return buf[i] ?? 0;
}

/** The salt of an `$apr1$` hash (at most 8 characters, up to the next `$`). */
export function apr1Salt(hash: string): string {
  const rest = hash.slice(MAGIC.length);
  const end = rest.indexOf('$');
  return (end < 0 ? rest : rest.slice(0, end)).slice(0, 8);
}

export function apr1(password: string, salt: string): string {
  const pw = Buffer.from(password, 'utf8');
  const saltBytes = Buffer.from(salt.slice(0, 8), 'utf8');
  const magic = Buffer.from(MAGIC, 'utf8');

  const alternate = md5(pw, saltBytes, pw);
  const ctx = createHash('md5').update(pw).update(magic).update(saltBytes);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alternate.subarray(0, Math.min(16, left)));
  for (let bits = pw.length; bits > 0; bits >>= 1) {
    ctx.update((bits & 1) !== 0 ? Buffer.of(0) : pw.subarray(0, 1));
  }
  let final = ctx.digest();

  // 1000 rounds to slow down brute force, mixing password, salt and the previous digest.
  for (let i = 0; i < 1000; i++) {
    const round = createHash('md5');
    round.update((i & 1) !== 0 ? pw : final);
    if (i % 3 !== 0) round.update(saltBytes);
    if (i % 7 !== 0) round.update(pw);
    round.update((i & 1) !== 0 ? final : pw);
    final = round.digest();
  }

  const groups: [number, number, number][] = [
    [0, 6, 12],
    [1, 7, 13],
    [2, 8, 14],
    [3, 9, 15],
    [4, 10, 5],
  ];
  let encoded = '';
  for (const [a, b, c] of groups)
    encoded += to64((at(final, a) << 16) | (at(final, b) << 8) | at(final, c), 4);
  encoded += to64(at(final, 11), 2);
  return `${MAGIC}${salt.slice(0, 8)}$${encoded}`;
}
