/**
 * The batches a whole-collection GET reads one ahead (src/storage/postgres/prefetch.ts): all items in
 * order, the next batch asked for while the previous one is consumed, never more than one read under
 * way, and a read left behind by a caller that stopped early does not fail the process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prefetched } from '../../src/storage/postgres/prefetch.js';

test('yields every batch in order, reading the next while the current one is consumed', async () => {
  const asked: number[] = [];
  let running = 0;
  let most = 0;
  const read = async (k: number): Promise<number[]> => {
    asked.push(k);
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return [k * 10, k * 10 + 1];
  };
  const seen: number[] = [];
  const askedWhenConsumed: number[] = [];
  for await (const x of prefetched(3, read)) {
    seen.push(x);
    askedWhenConsumed.push(asked.length);
  }
  assert.deepEqual(seen, [0, 1, 10, 11, 20, 21]);
  // Batch k+1 is asked for before batch k's first item is consumed.
  assert.deepEqual(askedWhenConsumed, [2, 2, 3, 3, 3, 3]);
  assert.equal(most, 1);
});

test('no batches: nothing read', async () => {
  let reads = 0;
  for await (const x of prefetched(0, () => {
    reads++;
    return Promise.resolve([1]);
  }))
    assert.fail(`yielded ${x}`);
  assert.equal(reads, 0);
});

test('a read ahead that fails after the caller stopped early is no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const read = (k: number): Promise<number[]> =>
      k === 1 ? Promise.reject(new Error('connection lost')) : Promise.resolve([k]);
    for await (const x of prefetched(2, read)) {
      assert.equal(x, 0);
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('a failing read fails the iteration where its batch is due', async () => {
  const read = (k: number): Promise<number[]> =>
    k === 1 ? Promise.reject(new Error('connection lost')) : Promise.resolve([k]);
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const x of prefetched(3, read)) seen.push(x);
  }, /connection lost/);
  assert.deepEqual(seen, [0]);
});
