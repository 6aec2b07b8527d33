/**
 * In-process locks: an async reader/writer lock (FIFO, writer-preferring), a registry of such locks
 * per collection path (so unrelated users are never serialized), and the cross-process
 * `.Radicale.lock` flock shared with Radicale and admin scripts.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { FlockOp, Libc } from './libc.js';

export type Release = () => void;
type Mode = 'read' | 'write';

interface Waiter {
  readonly mode: Mode;
  readonly wake: () => void;
}

/**
 * FIFO reader/writer lock. A waiting writer blocks later readers (writer-preferring), so a stream
 * of readers cannot starve a write; readers queued together behind a writer are woken together.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly queue: Waiter[] = [];

  get idle(): boolean {
    return this.readers === 0 && !this.writer && this.queue.length === 0;
  }

  acquire(mode: Mode): Promise<Release> {
    if (this.queue.length === 0 && this.canGrant(mode)) {
      this.grant(mode);
      return Promise.resolve(this.releaser(mode));
    }
    return new Promise((resolve) => {
      this.queue.push({ mode, wake: () => resolve(this.releaser(mode)) });
    });
  }

  private canGrant(mode: Mode): boolean {
    return mode === 'read' ? !this.writer : !this.writer && this.readers === 0;
  }

  private grant(mode: Mode): void {
    if (mode === 'read') this.readers++;
    else this.writer = true;
  }

  private releaser(mode: Mode): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (mode === 'read') this.readers--;
      else this.writer = false;
      this.drain();
    };
  }

  private drain(): void {
    for (;;) {
      const next = this.queue[0];
      if (next === undefined || !this.canGrant(next.mode)) return;
      this.queue.shift();
      this.grant(next.mode);
      next.wake();
    }
  }
}

/** One RwLock per key, dropped when idle so the map does not grow with every path ever seen. */
export class LockRegistry {
  private readonly locks = new Map<string, RwLock>();

  /**
   * Acquires several locks in a fixed (sorted) order, so that two operations needing overlapping
   * sets cannot deadlock. A key asked for both read and write is taken for write.
   */
  async acquireAll(wanted: ReadonlyMap<string, Mode>): Promise<Release> {
    const keys = [...wanted.keys()].sort();
    const releases: Release[] = [];
    try {
      for (const key of keys) releases.push(await this.acquire(key, wanted.get(key) ?? 'write'));
    } catch (e) {
      releases.reverse().forEach((r) => r());
      throw e;
    }
    return () => releases.reverse().forEach((r) => r());
  }

  private async acquire(key: string, mode: Mode): Promise<Release> {
    let lock = this.locks.get(key);
    if (lock === undefined) {
      lock = new RwLock();
      this.locks.set(key, lock);
    }
    const l = lock;
    const release = await l.acquire(mode);
    return () => {
      release();
      if (l.idle && this.locks.get(key) === l) this.locks.delete(key);
    };
  }
}

/** Lock set for an operation on collection `path`: read locks on every ancestor, `mode` on itself. */
export function collectionLocks(paths: readonly { path: string; mode: Mode }[]): Map<string, Mode> {
  const wanted = new Map<string, Mode>();
  const add = (path: string, m: Mode): void => {
    if (wanted.get(path) !== 'write') wanted.set(path, m);
  };
  for (const { path, mode } of paths) {
    const segs = path === '' ? [] : path.split('/');
    for (let i = 0; i < segs.length; i++) add(segs.slice(0, i).join('/'), 'read');
    add(path, mode);
  }
  return wanted;
}

/** Why `.Radicale.lock` cannot be taken, with what to do about it (logged at start-up). */
export function lockUnavailableMessage(lockPath: string, problem: string, fix: string): string {
  return (
    `cannot take ${lockPath} (${problem}): Radicale or another Almanac writing to this folder at the ` +
    `same time could lose updates. Fix: ${fix}; or, when Almanac is the only program that writes to ` +
    'the folder, set [storage] type = multifilesystem_nolock'
  );
}

const REINSTALL =
  'reinstall the dependencies (`npm ci` installs koffi with its prebuilt binary for this platform)';
const LOCAL_FS = 'keep the folder on a filesystem that supports flock(2) (a local one)';

/**
 * The storage-wide `.Radicale.lock`: shared for readers, exclusive for writers, as Radicale. Within
 * this process an RwLock decides who holds it; the flock is taken when the first holder arrives and
 * dropped when the last leaves. Without flock (or for multifilesystem_nolock) only the in-process
 * lock is used.
 */
export class GlobalLock {
  private readonly inner = new RwLock();
  private file: FileHandle | undefined;
  private libc: Libc | undefined;
  private sharedHolders = 0;
  private sharedReady: Promise<void> = Promise.resolve();
  /** flock calls run one after another, so an unlock can never overtake the next lock. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly lockPath: string,
    private readonly crossProcess: boolean,
    private readonly log: Logger,
  ) {}

  /** Whether writes are serialized with other processes (Radicale, another Almanac) too. */
  get crossProcessLocked(): boolean {
    return this.file !== undefined;
  }

  /** Opens the lock file and checks that flock works on it; says at start-up when it does not. */
  async open(libc: Libc | { problem: string } = { problem: 'not loaded' }): Promise<void> {
    if (!this.crossProcess) return;
    if (!('flock' in libc)) {
      this.log.warn(lockUnavailableMessage(this.lockPath, libc.problem, REINSTALL));
      return;
    }
    const file = await open(this.lockPath, 'a+');
    try {
      await libc.flock(file.fd, 'sh');
      await libc.flock(file.fd, 'un');
    } catch (e) {
      await file.close();
      const why = `flock fails on this filesystem: ${e instanceof Error ? e.message : String(e)}`;
      this.log.warn(lockUnavailableMessage(this.lockPath, why, LOCAL_FS));
      return;
    }
    this.libc = libc;
    this.file = file;
  }

  async close(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }

  async shared(): Promise<Release> {
    const release = await this.inner.acquire('read');
    try {
      if (this.sharedHolders++ === 0) this.sharedReady = this.call('sh');
      await this.sharedReady;
    } catch (e) {
      this.sharedHolders--;
      release();
      throw e;
    }
    return once(() => {
      if (--this.sharedHolders === 0) this.unlockThen(release);
      else release();
    });
  }

  async exclusive(): Promise<Release> {
    const release = await this.inner.acquire('write');
    try {
      await this.call('ex');
    } catch (e) {
      release();
      throw e;
    }
    return once(() => this.unlockThen(release));
  }

  private unlockThen(release: Release): void {
    this.call('un').then(release, (e: unknown) => {
      this.log.error({ err: e }, 'cannot unlock .Radicale.lock');
      release();
    });
  }

  private call(op: FlockOp): Promise<void> {
    const libc = this.libc;
    const file = this.file;
    if (libc === undefined || file === undefined) return Promise.resolve();
    const run = (): Promise<void> => libc.flock(file.fd, op);
    const result = this.chain.then(run);
    this.chain = result.catch(() => undefined);
    return result;
  }
}

function once(fn: () => void): Release {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}

/** A simple FIFO mutex (an RwLock used for write only). */
export class Mutex {
  private readonly lock = new RwLock();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.lock.acquire('write');
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
