/**
 * Item texts needed while answering one request (calendar-data, address-data, filters), loaded in
 * one storage call per collection and kept for the request only.
 */
import type { DavRequest, Resource } from './context.js';
import { yielder } from './yielder.js';

const texts = new WeakMap<DavRequest, Map<string, string>>();

function key(path: string, href: string): string {
  return `${path}\u0000${href}`;
}

function cacheOf(req: DavRequest): Map<string, string> {
  let m = texts.get(req);
  if (!m) {
    m = new Map();
    texts.set(req, m);
  }
  return m;
}

/** Loads the texts of many items of one collection at once. */
export async function loadTexts(
  req: DavRequest,
  items: readonly (Resource & { kind: 'item' })[],
): Promise<void> {
  const cache = cacheOf(req);
  const byPath = new Map<string, string[]>();
  for (const i of items) {
    if (cache.has(key(i.path, i.href))) continue;
    const list = byPath.get(i.path) ?? [];
    list.push(i.href);
    byPath.set(i.path, list);
  }
  for (const [path, hrefs] of byPath) {
    for await (const item of req.storage.getItems(path, hrefs)) cache.set(key(path, item.href), item.text);
  }
}

export async function itemText(req: DavRequest, res: Resource): Promise<string> {
  if (res.kind !== 'item') return '';
  const cache = cacheOf(req);
  const k = key(res.path, res.href);
  let t = cache.get(k);
  if (t === undefined) {
    await loadTexts(req, [res]);
    t = cache.get(k) ?? '';
  }
  return t;
}

/** The text loadTexts kept for this request, or undefined (not loaded, or the file is gone). */
export function loadedText(req: DavRequest, res: Resource & { kind: 'item' }): string | undefined {
  return texts.get(req)?.get(key(res.path, res.href));
}

/** Drops the texts kept for this request (after a batch of a long answer). */
export function forgetTexts(req: DavRequest): void {
  texts.delete(req);
}

/** Texts are read this many at a time by `withTexts`. */
const BATCH = 256;

/**
 * The items with their texts, for a query that looks at every candidate: texts are read 256 at a
 * time and dropped after their batch (also when the caller stops early), and other requests run
 * between items (20 ms slices), so that a query over a huge collection never holds every text at
 * once nor the event loop for long. The caller answers an item before asking for the next one.
 */
export async function* withTexts<T extends Resource & { kind: 'item' }>(
  req: DavRequest,
  items: readonly T[],
): AsyncGenerator<{ item: T; text: string }> {
  const pause = yielder();
  for await (const batch of withTextBatches(req, items)) {
    for (const entry of batch) {
      await pause();
      yield entry;
    }
  }
}

/**
 * withTexts a batch at a time: a caller that rejects most items (a filter) looks at them without
 * a promise per item (those cost microseconds each, thousands per query). It gives the event loop
 * back between batches, and should call `pause` between items it answers (see yielder).
 */
export async function* withTextBatches<T extends Resource & { kind: 'item' }>(
  req: DavRequest,
  items: readonly T[],
): AsyncGenerator<{ item: T; text: string }[]> {
  const pause = yielder();
  try {
    for (let i = 0; i < items.length; i += BATCH) {
      const batch = items.slice(i, i + BATCH);
      await loadTexts(req, batch);
      const cache = cacheOf(req);
      const out: { item: T; text: string }[] = [];
      for (const item of batch) {
        // Missing only when the file went away since the listing (itemText then gives '').
        const text = cache.get(key(item.path, item.href)) ?? (await itemText(req, item));
        out.push({ item, text });
      }
      await pause();
      yield out;
      forgetTexts(req);
    }
  } finally {
    forgetTexts(req);
  }
}
