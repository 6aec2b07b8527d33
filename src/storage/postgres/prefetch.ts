/**
 * Batches read one ahead: the next batch is asked for as soon as the previous one has arrived, so
 * the database reads it while the caller works through the one before (a whole-collection GET
 * exports 500 items while the next 500 are read). At most one read is under way at a time.
 */
export async function* prefetched<T>(
  count: number,
  fetch: (k: number) => Promise<readonly T[]>,
): AsyncIterable<T> {
  let next = count > 0 ? started(fetch(0)) : undefined;
  for (let k = 1; next !== undefined; k++) {
    const batch = await next;
    next = k < count ? started(fetch(k)) : undefined;
    yield* batch;
  }
}

/** A read that may be left unawaited (the caller stopped early): its failure is not unhandled. */
function started<T>(read: Promise<T>): Promise<T> {
  read.catch(() => undefined);
  return read;
}
