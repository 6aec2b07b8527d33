/**
 * Atomic file operations: temp file in the same folder, fsync, rename, fsync of the folder (fsync
 * skipped when `_filesystem_fsync` is off), and folder creation honouring `folder_umask`.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { StorageError } from '../types.js';

export const TMP_PREFIX = '.Radicale.tmp-';

export function tmpName(): string {
  return TMP_PREFIX + randomBytes(8).toString('hex');
}

export interface FsOptions {
  readonly fsync: boolean;
  /** `folder_umask`, or undefined for the process umask. */
  readonly umask: number | undefined;
}

export function isErrno(e: unknown, ...codes: string[]): boolean {
  return e instanceof Error && 'code' in e && codes.includes(String(e.code));
}

/** Maps ENOSPC/EDQUOT to StorageError('no-space'); rethrows anything else unchanged. */
export function mapFsError(e: unknown): never {
  if (isErrno(e, 'ENOSPC', 'EDQUOT'))
    throw new StorageError('no-space', 'no space left on the storage device');
  throw e;
}

export async function syncDir(dir: string, opts: FsOptions): Promise<void> {
  if (!opts.fsync) return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to a new file (not yet at its final name), fsync'd. */
export async function writeSynced(path: string, data: Uint8Array | string, opts: FsOptions): Promise<void> {
  const fh = await open(path, 'wx', 0o666);
  try {
    await fh.writeFile(data);
    if (opts.fsync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Atomically replaces `dir/name` with `data`. */
export async function atomicWrite(
  dir: string,
  name: string,
  data: Uint8Array | string,
  opts: FsOptions,
): Promise<void> {
  const tmp = join(dir, tmpName());
  try {
    await writeSynced(tmp, data, opts);
    await rename(tmp, join(dir, name));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    mapFsError(e);
  }
  await syncDir(dir, opts);
}

/** Creates one folder with mode 0o777 & ~folder_umask (exactly, whatever the process umask). */
export async function makeDir(path: string, opts: FsOptions): Promise<void> {
  try {
    await mkdir(path, { mode: 0o777 });
  } catch (e) {
    mapFsError(e);
  }
  if (opts.umask !== undefined) await chmod(path, 0o777 & ~opts.umask);
}

/** Creates `path` and missing parents (each with makeDir's mode). */
export async function makeDirs(path: string, opts: FsOptions): Promise<void> {
  try {
    await makeDir(path, opts);
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return;
    if (!isErrno(e, 'ENOENT')) throw e;
    const parent = join(path, '..');
    if (parent === path) throw e;
    await makeDirs(parent, opts);
    await makeDir(path, opts).catch((e2: unknown) => {
      if (!isErrno(e2, 'EEXIST')) throw e2;
    });
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export async function unlinkIfExists(path: string): Promise<void> {
  await unlink(path).catch((e: unknown) => {
    if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
  });
}

/**
 * Reads a whole small file synchronously, with the stat of the very file read (taken on the open
 * handle, so a rename between the two cannot mix one file's stat with another's bytes).
 */
export function readFileAndStatSync(path: string): { bytes: Buffer; st: Stats } {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const bytes = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < bytes.length) {
      const n = readSync(fd, bytes, off, bytes.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return { bytes: off === bytes.length ? bytes : bytes.subarray(0, off), st };
  } finally {
    closeSync(fd);
  }
}
