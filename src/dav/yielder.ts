/** Letting other requests run while one request works through many items. */

/** A pause that gives the event loop back once this request has held it for `sliceMs`. */
export function yielder(sliceMs = 20): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < sliceMs) return;
    await new Promise((r) => setImmediate(r));
    since = performance.now();
  };
}
