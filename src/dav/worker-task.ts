/**
 * Heavy pure work of a plugin (splitting a big upload, validating a big item) in a worker thread, so
 * that other users' requests are served meanwhile. The worker module calls `serveWorkerTask` with
 * its function; the caller awaits `runInWorker`. A DavError thrown in the worker is thrown again, with
 * its status and precondition, in the caller.
 */
import { Worker, parentPort, workerData } from 'node:worker_threads';
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

function startWorker(moduleUrl: URL, data: unknown): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, { workerData: data });
  // Under tsx (development, tests) the worker registers the same TypeScript loader first.
  const target = JSON.stringify(moduleUrl.href);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${target}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

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
      else if (m.dav) reject(new DavError(m.dav.status, m.message, m.dav.precondition, m.dav.hrefs));
      else reject(new Error(m.message));
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

/** In a worker module: runs `task` on the worker's data and posts the result (or the error) back. */
export function serveWorkerTask(task: (data: never) => unknown): void {
  let reply: Reply<unknown>;
  try {
    reply = { ok: true, value: task(workerData as never) };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    reply =
      e instanceof DavError
        ? {
            ok: false,
            message,
            dav: { status: e.status, precondition: e.precondition, hrefs: e.preconditionHrefs },
          }
        : { ok: false, message };
  }
  parentPort?.postMessage(reply);
}
