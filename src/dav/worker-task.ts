/**
 * Heavy pure work of a plugin (splitting a big upload, validating a big item) in a worker thread, so
 * that other users' requests are served meanwhile. The worker module calls `serveWorkerTask` with
 * its function; the caller awaits `runInWorker`. A DavError thrown in the worker is thrown again, with
 * its status and precondition, in the caller.
 */
import { Worker, parentPort, workerData, type ResourceLimits } from 'node:worker_threads';
import { DavError } from './errors.js';
import type { Precondition } from './preconditions.js';

/** Items up to this many characters are validated in place, bigger ones in a worker thread. */
export const IN_PLACE_UP_TO = 1024 * 1024;

type Reply<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      message: string;
      dav?: { status: number; precondition?: Precondition; hrefs: readonly string[] };
    };

function startWorker(moduleUrl: URL, data: unknown, resourceLimits?: ResourceLimits): Worker {
  const options = { workerData: data, ...(resourceLimits ? { resourceLimits } : {}) };
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, options);
  // Under tsx (development, tests) the worker registers the same TypeScript loader first.
  const target = JSON.stringify(moduleUrl.href);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${target}); });`;
  return new Worker(boot, { eval: true, ...options });
}

/**
 * A streamed task's worker makes a batch (a thousand items, each parsed to be described) while the
 * caller writes the one before. With V8's default young generation, what a batch made survived two
 * scavenges and went to the old generation, which grew by about a megabyte a batch until its next
 * full collection (a 100,000-event import: +150 MB); with 64 MB it dies young.
 */
const STREAM_WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 64 };

/**
 * Runs the worker module `name` (without extension) beside the module at `baseUrl` (its
 * `import.meta.url`: `.ts` under tsx, `.js` once built) with `data`, and resolves with its result.
 */
export function runInWorker<T>(baseUrl: string, name: string, data: unknown): Promise<T> {
  const ext = baseUrl.endsWith('.ts') ? '.ts' : '.js';
  const worker = startWorker(new URL(`${name}${ext}`, baseUrl), data);
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.once('message', (m: Reply<T>) => {
      settled = true;
      void worker.terminate();
      if (m.ok) resolve(m.value);
      else reject(replyError(m));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`worker ${name} stopped with code ${code} before answering`));
    });
  });
}

function errorReply(e: unknown): Reply<never> {
  const message = e instanceof Error ? e.message : String(e);
  return e instanceof DavError
    ? {
        ok: false,
        message,
        dav: { status: e.status, precondition: e.precondition, hrefs: e.preconditionHrefs },
      }
    : { ok: false, message };
}

function replyError(m: Reply<unknown> & { ok: false }): Error {
  return m.dav
    ? new DavError(m.dav.status, m.message, m.dav.precondition, m.dav.hrefs)
    : new Error(m.message);
}

/** In a worker module: runs `task` on the worker's data and posts the result (or the error) back. */
export function serveWorkerTask(task: (data: never) => unknown): void {
  let reply: Reply<unknown>;
  try {
    reply = { ok: true, value: task(workerData as never) };
  } catch (e) {
    reply = errorReply(e);
  }
  parentPort?.postMessage(reply);
}

/** What a streamed task gives: its head at once, then its batches, each made when it is asked for. */
export interface StreamedTask<H, B> {
  readonly head: H;
  readonly batches: Iterator<B>;
}

/** The caller's side of a streamed task: the head, the batches as they come, and `close`. */
export interface StreamedResult<H, B> {
  readonly head: H;
  readonly batches: AsyncIterable<B>;
  /** Stops the worker (once the batches were read, or when they will not be): call it in any case. */
  close(): void;
}

type StreamReply<H, B> =
  Reply<never> | { ok: true; head: H } | { ok: true; batch: B } | { ok: true; done: true };

/**
 * Runs the worker module `name` (see runInWorker) on `data` as a streamed task: resolves with the
 * head once the worker has it, and gives the batches one at a time, the worker making the next one
 * while the caller uses the last, so that neither side holds all of them. The data is posted rather
 * than given as workerData, so that the worker can let it go once it is read.
 */
export function runStreamInWorker<H, B>(
  baseUrl: string,
  name: string,
  data: unknown,
): Promise<StreamedResult<H, B>> {
  const ext = baseUrl.endsWith('.ts') ? '.ts' : '.js';
  const worker = startWorker(new URL(`${name}${ext}`, baseUrl), undefined, STREAM_WORKER_LIMITS);
  const replies = streamReplies<H, B>(worker, name);
  worker.postMessage(data);
  // Not one async function: the data (a big upload) is not kept while the worker answers.
  return streamFrom(worker, name, replies);
}

interface StreamReplies<H, B> {
  readonly queue: StreamReply<H, B>[];
  failure: Error | undefined;
  wake: (() => void) | undefined;
}

function streamReplies<H, B>(worker: Worker, name: string): StreamReplies<H, B> {
  const state: StreamReplies<H, B> = { queue: [], failure: undefined, wake: undefined };
  worker.on('message', (m: StreamReply<H, B>) => {
    state.queue.push(m);
    state.wake?.();
  });
  worker.once('error', (e) => {
    state.failure ??= e;
    state.wake?.();
  });
  worker.once('exit', (code) => {
    state.failure ??= new Error(`worker ${name} stopped with code ${code} before answering`);
    state.wake?.();
  });
  return state;
}

async function streamFrom<H, B>(
  worker: Worker,
  name: string,
  state: StreamReplies<H, B>,
): Promise<StreamedResult<H, B>> {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    void worker.terminate();
  };
  const next = async (): Promise<StreamReply<H, B>> => {
    for (;;) {
      const m = state.queue.shift();
      if (m) {
        if (!m.ok) throw replyError(m);
        return m;
      }
      if (state.failure) throw state.failure;
      await new Promise<void>((resolve) => (state.wake = resolve));
      state.wake = undefined;
    }
  };
  let head: H;
  try {
    const first = await next();
    if (!('head' in first)) throw new Error(`worker ${name} answered without a head`);
    head = first.head;
  } catch (e) {
    close();
    throw e;
  }
  // The first batch is made while the caller looks at the head.
  worker.postMessage('next');
  async function* batches(): AsyncGenerator<B> {
    try {
      for (;;) {
        const m = await next();
        if ('done' in m) return;
        if (!('batch' in m)) throw new Error(`worker ${name} answered out of turn`);
        worker.postMessage('next');
        yield m.batch;
      }
    } finally {
      close();
    }
  }
  return { head, batches: batches(), close };
}

/**
 * In a worker module: runs `task` on the data posted to the worker, posts its head, then its next
 * batch each time the caller asks (an error instead, with its DavError status).
 */
export function serveWorkerStream(task: (data: never) => StreamedTask<unknown, unknown>): void {
  const port = parentPort;
  if (!port) return;
  port.once('message', (data: unknown) => {
    let batches: Iterator<unknown>;
    try {
      const result = task(data as never);
      batches = result.batches;
      port.postMessage({ ok: true, head: result.head });
    } catch (e) {
      port.postMessage(errorReply(e));
      return;
    }
    port.on('message', () => {
      try {
        const n = batches.next();
        port.postMessage(n.done ? { ok: true, done: true } : { ok: true, batch: n.value });
      } catch (e) {
        port.postMessage(errorReply(e));
      }
    });
  });
}
