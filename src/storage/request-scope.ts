/**
 * One HTTP request's scope for storage reads: a backend may keep what it read during the request
 * (the PostgreSQL storage keeps collection rows, looked up several times per request by the layers
 * above) and must forget it when it writes. Outside a request (push, CLI) there is no scope.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<Map<string, unknown>>();

/** Runs `fn` (and everything it starts) in a new request scope. */
export function inRequestScope<T>(fn: () => T): T {
  return scope.run(new Map(), fn);
}

/** Runs `fn` outside the request's scope: what it reads is read afresh. */
export function outsideRequestScope<T>(fn: () => T): T {
  return scope.exit(fn);
}

/** The current request's memo, or undefined outside a request. */
export function requestMemo(): Map<string, unknown> | undefined {
  return scope.getStore();
}

const HINT = 'storage-hint:collection-paths';

/**
 * Tells the backend which collection paths the request will likely look up (the request path and
 * its ancestors), so that it may read them together the first time it needs one.
 */
export function hintCollectionPaths(paths: readonly string[]): void {
  scope.getStore()?.set(HINT, paths);
}

/** The hinted paths, once: later calls get undefined. */
export function takeCollectionHint(): readonly string[] | undefined {
  const memo = scope.getStore();
  const paths = memo?.get(HINT) as readonly string[] | undefined;
  memo?.delete(HINT);
  return paths;
}
