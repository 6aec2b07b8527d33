/**
 * Three system calls Node does not offer, called through koffi (an FFI whose prebuilt binaries come
 * from the npm registry, so nothing is compiled or downloaded at install): `flock(2)`, the lock
 * Radicale takes on `.Radicale.lock`, Linux's `renameat2(RENAME_EXCHANGE)`, which swaps two
 * folders in one step (a whole-collection replacement that a crash cannot leave half done), and
 * Linux's `syncfs(2)`, which makes a 100,000-file upload durable in one call instead of 100,000 fsyncs.
 */
import { constants } from 'node:os';

export type FlockOp = 'sh' | 'ex' | 'un';

export interface Libc {
  /** flock(2) on an open file; a lock that has to wait is waited for on a koffi worker thread. */
  flock(fd: number, op: FlockOp): Promise<void>;
  /**
   * Swaps two existing paths atomically; false when this system or filesystem cannot (the caller
   * then swaps another way). Other failures throw an error with Node's `code` (ENOENT, EXDEV...).
   */
  exchange(a: string, b: string): boolean;
  /**
   * syncfs(2) on the filesystem holding the open `fd`, on a koffi worker thread (it may take seconds);
   * false when this system has no syncfs (the caller fsyncs file by file).
   */
  syncfs(fd: number): Promise<boolean>;
}

type Native = (...args: unknown[]) => unknown;
interface NativeFn extends Native {
  async: (...args: unknown[]) => void;
}

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
const OPS: Record<FlockOp, number> = { sh: LOCK_SH, ex: LOCK_EX, un: LOCK_UN };

const codeOf = (errno: number): string =>
  Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;

/** An error shaped as Node's own system errors, so callers test `code` the same way. */
export function systemError(errno: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const code = codeOf(errno);
  const e: NodeJS.ErrnoException = new Error(`${code}: ${syscall} failed${path ? ` on ${path}` : ''}`);
  Object.assign(e, { code, errno: -errno, syscall, ...(path ? { path } : {}) });
  return e;
}

class KoffiLibc implements Libc {
  constructor(
    private readonly errno: () => number,
    private readonly flockFn: NativeFn,
    private readonly renameat2: NativeFn | undefined,
    private readonly syncfsFn: NativeFn | undefined,
  ) {}

  async syncfs(fd: number): Promise<boolean> {
    const fn = this.syncfsFn;
    if (fn === undefined) return false;
    const { result, errno } = await new Promise<{ result: number; errno: number }>((resolve, reject) =>
      fn.async(fd, (err: unknown, result: number) => {
        if (err) reject(err instanceof Error ? err : new Error('syncfs: the call failed'));
        else resolve({ result, errno: result === 0 ? 0 : this.errno() });
      }),
    );
    if (result === 0) return true;
    if (errno === constants.errno.ENOSYS) return false;
    throw systemError(errno, 'syncfs');
  }

  async flock(fd: number, op: FlockOp): Promise<void> {
    // Untaken locks (the usual case) are taken at once on this thread, without a round trip.
    if (this.flockFn(fd, OPS[op] | LOCK_NB) === 0) return;
    const first = this.errno();
    if (first !== constants.errno.EWOULDBLOCK && first !== constants.errno.EINTR)
      throw systemError(first, 'flock');
    for (let attempt = 0; ; attempt++) {
      const { result, errno } = await new Promise<{ result: number; errno: number }>((resolve, reject) =>
        this.flockFn.async(fd, OPS[op], (err: unknown, result: number) => {
          if (err) reject(err instanceof Error ? err : new Error('flock: the call failed'));
          else resolve({ result, errno: result === 0 ? 0 : this.errno() });
        }),
      );
      if (result === 0) return;
      // A signal may interrupt the wait; anything else is a real failure.
      if (errno !== constants.errno.EINTR || attempt >= 100) throw systemError(errno, 'flock');
    }
  }

  exchange(a: string, b: string): boolean {
    if (this.renameat2 === undefined) return false;
    if (this.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) === 0) return true;
    const errno = this.errno();
    // EINVAL: the filesystem has no exchange; ENOSYS: the kernel has no renameat2.
    if (errno === constants.errno.EINVAL || errno === constants.errno.ENOSYS) return false;
    throw systemError(errno, 'renameat2', a);
  }
}

let loaded: Promise<Libc | { problem: string }> | undefined;

/** The C library of this process, or why it cannot be used (said at start-up by the caller). */
export function loadLibc(): Promise<Libc | { problem: string }> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<Libc | { problem: string }> {
  if (process.platform === 'win32') return { problem: 'flock(2) does not exist on Windows' };
  try {
    const koffi = (await import('koffi')).default;
    // The process itself: the C library it is linked with, whatever its file name (glibc, musl).
    const self = koffi.load(null);
    const flockFn: NativeFn = self.func('int flock(int fd, int op)');
    let renameat2: NativeFn | undefined;
    let syncfs: NativeFn | undefined;
    try {
      if (process.platform === 'linux')
        renameat2 = self.func(
          'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
        );
    } catch {
      // a C library without renameat2 (glibc < 2.28): collections are swapped with a journal
    }
    try {
      if (process.platform === 'linux') syncfs = self.func('int syncfs(int fd)');
    } catch {
      // no syncfs (glibc < 2.14): big uploads are fsynced file by file
    }
    return new KoffiLibc(() => koffi.errno(), flockFn, renameat2, syncfs);
  } catch (e) {
    return { problem: `the koffi module cannot be loaded (${e instanceof Error ? e.message : String(e)})` };
  }
}
