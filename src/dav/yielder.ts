/** Letting other requests run while one request works through many items. */

/** A pause, and whether it is due (a loop over many items awaits only then: no promise per item). */
export interface Yielder {
  (): Promise<void>;
  due(): boolean;
}

/** A pause that gives the event loop back once this request has held it for `sliceMs`. */
export function yielder(sliceMs = 20): Yielder {
  let since = performance.now();
  const due = (): boolean => performance.now() - since >= sliceMs;
  const pause = async (): Promise<void> => {
    if (!due()) return;
    await new Promise((r) => setImmediate(r));
    since = performance.now();
  };
  return Object.assign(pause, { due });
}
