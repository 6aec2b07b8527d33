/**
 * "No single request may stall the event loop": while a heavy request runs, another client keeps
 * asking the server something small, one request after the other, and the slowest of those answers
 * is what a user would have waited. The server under test may run in this process: a blocked event
 * loop then delays the probe's answer just the same.
 */
export interface Responsiveness<T> {
  /** What the heavy request gave. */
  readonly result: T;
  /** The longest a probe waited for its answer, in milliseconds. */
  readonly slowestMs: number;
  /** How many probes were answered while the heavy request ran. */
  readonly probes: number;
}

export async function whileRunning<T>(
  heavy: Promise<T>,
  probe: () => Promise<unknown>,
): Promise<Responsiveness<T>> {
  let done = false;
  let slowestMs = 0;
  let probes = 0;
  const settled = heavy.finally(() => {
    done = true;
  });
  const probing = (async (): Promise<void> => {
    do {
      const start = performance.now();
      await probe();
      slowestMs = Math.max(slowestMs, performance.now() - start);
      probes++;
    } while (!done);
  })();
  const [result] = await Promise.all([settled, probing]);
  return { result, slowestMs, probes };
}
