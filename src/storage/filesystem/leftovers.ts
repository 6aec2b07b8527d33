/**
 * What interrupted writes leave behind: item temp files and prepared collection folders
 * (`.Radicale.tmp-*`, Almanac's and Radicale's alike) and Almanac's own cache temp files
 * (`*.tmp` under `.Almanac.cache`). A process that is still writing one touches it within seconds,
 * so one untouched for an hour belongs to nobody: start-up removes those, `--verify-storage` lists
 * every one found.
 */
import { lstat, opendir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { TMP_PREFIX, isErrno, removeTree } from './fsutil.js';

/** Leftovers untouched for this long are removed at start-up. */
export const LEFTOVER_AGE_MS = 60 * 60 * 1000;

export interface Leftover {
  /** Relative to the storage folder, with `/`. */
  readonly path: string;
  readonly folder: boolean;
  readonly bytes: number;
  readonly ageMs: number;
}

/** The folders walked: collections (and their `.Radicale.cache`), Radicale's cache subfolder, ours. */
const TREES = ['collection-root', 'collection-cache', '.Almanac.cache'];

/** Every leftover in the storage folder (a walk of the collection folders, yielding as it goes). */
export async function findLeftovers(folder: string): Promise<Leftover[]> {
  const found: Leftover[] = [];
  const seen = new Set<string>();
  const now = Date.now();
  for (const tree of TREES) {
    await walk(join(folder, tree), tree === '.Almanac.cache', seen, async (path, isFolder) => {
      const st = await lstat(path).catch(() => undefined);
      if (st === undefined) return;
      found.push({
        path: relative(folder, path).split(sep).join('/'),
        folder: isFolder,
        bytes: isFolder ? await sizeOf(path) : st.size,
        ageMs: now - st.mtimeMs,
      });
    });
  }
  return found;
}

/**
 * Removes the leftovers untouched for `LEFTOVER_AGE_MS`, except folders a pending swap still needs
 * (`keep`, relative to the storage folder). Returns what was removed.
 */
export async function removeLeftovers(folder: string, keep: ReadonlySet<string>): Promise<Leftover[]> {
  const removed: Leftover[] = [];
  for (const l of await findLeftovers(folder)) {
    if (l.ageMs < LEFTOVER_AGE_MS || keep.has(l.path)) continue;
    await removeTree(join(folder, ...l.path.split('/')));
    removed.push(l);
  }
  return removed;
}

async function walk(
  dir: string,
  ours: boolean,
  seen: Set<string>,
  found: (path: string, isFolder: boolean) => Promise<void>,
): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  // Each folder once, also when symbolic links lead to it twice (or in a circle).
  if (st === undefined || !st.isDirectory() || seen.has(`${st.dev}:${st.ino}`)) return;
  seen.add(`${st.dev}:${st.ino}`);
  let handle;
  try {
    handle = await opendir(dir, { bufferSize: 256 });
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EACCES')) return;
    throw e;
  }
  const folders: string[] = [];
  for await (const entry of handle) {
    const path = join(dir, entry.name);
    if (entry.name.startsWith(TMP_PREFIX) || (ours && entry.name.endsWith('.tmp'))) {
      await found(path, entry.isDirectory());
    } else if (entry.isDirectory() || entry.isSymbolicLink()) folders.push(path);
  }
  for (const sub of folders) await walk(sub, ours, seen, found);
}

/** Bytes in a folder's files (for the report: a prepared import can weigh tens of megabytes). */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  let handle;
  try {
    handle = await opendir(dir, { bufferSize: 256 });
  } catch {
    return 0;
  }
  for await (const entry of handle) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await sizeOf(path);
    else total += (await lstat(path).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/** One line per leftover, for `--verify-storage`. */
export function describeLeftover(l: Leftover): string {
  const age =
    l.ageMs >= 3_600_000 ? `${(l.ageMs / 3_600_000).toFixed(1)} h` : `${Math.round(l.ageMs / 60_000)} min`;
  const size = l.bytes >= 1_048_576 ? `${(l.bytes / 1_048_576).toFixed(1)} MiB` : `${l.bytes} bytes`;
  const when =
    l.ageMs >= LEFTOVER_AGE_MS
      ? 'the next start removes it'
      : 'a running server may still be writing it; a start removes it once it is an hour old';
  return `${l.path}: left by an interrupted write (${l.folder ? 'folder' : 'file'}, ${size}, untouched for ${age}); ${when}`;
}
