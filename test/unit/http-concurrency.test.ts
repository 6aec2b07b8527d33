import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairPool, type Release } from '../../src/http/concurrency.js';

/** Acquires for `key` and records the order in which grants arrive. */
function waiter(pool: FairPool, key: string, order: string[]): Promise<Release> {
  return pool.acquire(key).then((release) => {
    order.push(key);
    return release;
  });
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

void test('one key: FIFO, never more than the limit, a second release is ignored', async () => {
  const pool = new FairPool(2);
  const order: string[] = [];
  const r1 = await pool.acquire('a');
  const r2 = await pool.acquire('a');
  const waiters = ['a', 'a', 'a'].map(() => waiter(pool, 'a', order));
  assert.equal(pool.active, 2);
  assert.equal(pool.waiting, 3);
  r1();
  r1();
  await tick();
  assert.equal(pool.active, 2);
  assert.equal(pool.waiting, 2);
  r2();
  for (const w of waiters) (await w)();
  assert.equal(order.length, 3);
  assert.equal(pool.active, 0);
});

void test('a freed permit goes to the waiting key holding the fewest, not to the longest queue', async () => {
  const pool = new FairPool(2);
  const order: string[] = [];
  const held = [await pool.acquire('busy'), await pool.acquire('busy')];
  const busyMore = [waiter(pool, 'busy', order), waiter(pool, 'busy', order)];
  const quiet = waiter(pool, 'quiet', order);
  held[0]?.();
  await tick();
  assert.deepEqual(order, ['quiet'], 'the newcomer with nothing overtakes the busy key');
  (await quiet)();
  held[1]?.();
  for (const w of busyMore) (await w)();
  assert.deepEqual(order, ['quiet', 'busy', 'busy']);
});

void test('perKey caps what one key holds even when permits are free', async () => {
  const pool = new FairPool(4, 2);
  const order: string[] = [];
  const a1 = await pool.acquire('a');
  await pool.acquire('a');
  const a3 = waiter(pool, 'a', order);
  await tick();
  assert.deepEqual(order, [], 'a holds its share: the third waits although two permits are free');
  assert.equal(pool.heldBy('a'), 2);
  await pool.acquire('b');
  await pool.acquire('b');
  assert.equal(pool.active, 4);
  a1();
  (await a3)();
  assert.deepEqual(order, ['a']);
});

void test('a limit of 0 means unlimited', async () => {
  const pool = new FairPool(0);
  await Promise.all(Array.from({ length: 50 }, () => pool.acquire('same')));
  assert.equal(pool.active, 50);
  assert.equal(pool.waiting, 0);
});
