/**
 * Which names may be stored, whatever the backend: path segments of collections and item hrefs must
 * be safe file names (Radicale's is_safe_filesystem_path_component plus defence in depth), so that a
 * collection can go from one storage to another (`almanac storage copy`) and back to Radicale; and
 * the whole-collection upload naming rules of Radicale's upload.py.
 */
import { createHash, randomUUID } from 'node:crypto';
import { StorageError } from './types.js';

const MAX_NAME_BYTES = 255;

/** True for a name Radicale would store as a file or folder (and list back). */
export function isSafeName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    !name.startsWith('.') &&
    !name.endsWith('~') &&
    !/[/\\\0]/.test(name) &&
    Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES
  );
}

export function checkName(name: string): void {
  if (!isSafeName(name)) throw new StorageError('invalid-name', `unsafe name: ${JSON.stringify(name)}`);
}

/** Splits a collection path ('' = root) into checked segments. */
export function pathSegments(path: string): string[] {
  if (path === '') return [];
  const segs = path.split('/');
  segs.forEach(checkName);
  return segs;
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True when `inner` is `outer` or lies below it. */
export function isWithin(inner: string, outer: string): boolean {
  return outer === '' || inner === outer || inner.startsWith(`${outer}/`);
}

/**
 * The file name for an uploaded item without href: `<UID><suffix>`, else sha256(UID) + suffix when
 * the UID is not a safe name, else a random UUID name; candidates already `taken` are skipped.
 */
export function uploadName(uid: string, suffix: '.ics' | '.vcf', taken: ReadonlySet<string>): string {
  const candidates: string[] = [];
  if (uid !== '') {
    candidates.push(uid.toLowerCase().endsWith(suffix) ? uid : uid + suffix);
    candidates.push(createHash('sha256').update(uid, 'utf8').digest('hex') + suffix);
  }
  for (const c of candidates) if (isSafeName(c) && !taken.has(c)) return c;
  for (;;) {
    const c = randomUUID() + suffix;
    if (!taken.has(c)) return c;
  }
}
