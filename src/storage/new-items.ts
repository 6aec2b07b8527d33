/** The two forms of `NewItems` (types.ts), read the same way by every backend. */
import type { NewItem, NewItems } from './types.js';

/** Items all at once or in batches: NewItems, or the NamedItems checkedStorage hands a backend. */
type Batched<T> = readonly T[] | AsyncIterable<readonly T[]>;

/** The items batch by batch (an array is one batch). */
export async function* itemBatches<T>(items: Batched<T>): AsyncGenerator<readonly T[]> {
  if (isItemArray(items)) {
    yield items;
    return;
  }
  for await (const batch of items) yield batch;
}

/** All the items in one array (a backend that writes them in one statement). */
export async function allItems<T>(items: Batched<T>): Promise<readonly T[]> {
  if (isItemArray(items)) return items;
  const all: T[] = [];
  for await (const batch of items) for (const item of batch) all.push(item);
  return all;
}

/** The same items, `seen` called with each batch as it passes. */
export function tapItems(items: NewItems, seen: (batch: readonly NewItem[]) => void): NewItems {
  if (isItemArray(items)) {
    seen(items);
    return items;
  }
  return (async function* tapped() {
    for await (const batch of items) {
      seen(batch);
      yield batch;
    }
  })();
}

/** The same items, each batch through `map` as it passes (an array: at once, so its errors come first). */
export function mapBatches<T, U>(items: Batched<T>, map: (batch: readonly T[]) => U[]): Batched<U> {
  if (isItemArray(items)) return map(items);
  return (async function* mapped() {
    for await (const batch of items) yield map(batch);
  })();
}

export function isItemArray<T>(items: Batched<T>): items is readonly T[] {
  return Array.isArray(items);
}
