/**
 * In-process locks: an async reader/writer lock (FIFO, writer-preferring), a registry of such locks
 * per collection path (so unrelated users are never serialized), and the cross-process
 * `.Radicale.lock` flock shared with Radicale and admin scripts.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';

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
  const add = (p: string, m: Mode): void => {
    if (wanted.get(p) !== 'write') wanted.set(p, m);
  };
  for (const { path, mode } of paths) {
    const segs = path === '' ? [] : path.split('/');
    for (let i = 0; i < segs.length; i++) add(segs.slice(0, i).join('/'), 'read');
    add(path, mode);
  }
  return wanted;
}

type FlockFn = (fd: number, flags: 'sh' | 'ex' | 'un', cb: (err: Error | null) => void) => void;

async function loadFlock(): Promise<FlockFn | undefined> {
  const name = 'fs-ext';
  try {
    const mod = (await import(name)) as unknown as { flock?: FlockFn; default?: { flock?: FlockFn } };
    return mod.flock ?? mod.default?.flock;
  } catch {
    return undefined;
  }
}

/**
 * The storage-wide `.Radicale.lock`: shared for readers, exclusive for writers, as Radicale. Within
 * this process an RwLock decides who holds it; the flock is taken when the first holder arrives and
 * dropped when the last leaves. Without fs-ext (or for multifilesystem_nolock) only the in-process
 * lock is used.
 */
export class GlobalLock {
  private readonly inner = new RwLock();
  private file: FileHandle | undefined;
  private flock: FlockFn | undefined;
  private sharedHolders = 0;
  private sharedReady: Promise<void> = Promise.resolve();
  /** flock calls run one after another, so an unlock can never overtake the next lock. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly lockPath: string,
    private readonly crossProcess: boolean,
    private readonly log: Logger,
  ) {}

  async open(): Promise<void> {
    if (!this.crossProcess) return;
    this.flock = await loadFlock();
    if (this.flock === undefined) {
      this.log.warn(
        'fs-ext is not installed: .Radicale.lock is not taken; do not run other writers on the folder',
      );
      return;
    }
    this.file = await open(this.lockPath, 'a+');
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

  private call(flags: 'sh' | 'ex' | 'un'): Promise<void> {
    const flock = this.flock;
    const file = this.file;
    if (flock === undefined || file === undefined) return Promise.resolve();
    const run = (): Promise<void> =>
      new Promise((resolve, reject) => flock(file.fd, flags, (err) => (err ? reject(err) : resolve())));
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
