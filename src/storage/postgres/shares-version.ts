/**
 * The version of the share table (`shares_state.version`, bumped by a trigger on every change of
 * `shares`; sharing/pg-store.ts) as a request's collection lookup read it in the same statement
 * (storage.ts, collectionRow), so that a logged-in request with `[sharing]` on PostgreSQL sends no
 * query of its own for it. Kept for the request only (request-scope.ts, cleared by every storage
 * write) and not used after a write to the share table (a lookup still under way could bring back
 * the version before it).
 */
import { requestMemo } from '../request-scope.js';

const KEY = 'pg-shares-version';
/** Set by a write to the share table: the request asks for the version afresh from then on. */
const WRITTEN = Symbol('shares written');

/** SQL: the version beside a collection row. */
export const SHARES_VERSION_COL = '(SELECT version FROM shares_state) AS shares_version';

export function rememberSharesVersion(version: string | null | undefined): void {
  const memo = requestMemo();
  if (typeof version === 'string' && memo?.get(KEY) !== WRITTEN) memo?.set(KEY, version);
}

/** The version this request read, if any. */
export function requestSharesVersion(): string | undefined {
  const v = requestMemo()?.get(KEY);
  return typeof v === 'string' ? v : undefined;
}

/** Before a write to the share table: no version read with a collection counts in this request. */
export function forgetSharesVersion(): void {
  requestMemo()?.set(KEY, WRITTEN);
}
