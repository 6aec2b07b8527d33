import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '../../src/http/concurrency.js';

void test('the semaphore serves waiters in FIFO order and never exceeds its limit', async () => {
  const sem = new Semaphore(2);
  const order: number[] = [];
  const r1 = await sem.acquire();
  const r2 = await sem.acquire();
  const waiters = [3, 4, 5].map((n) => sem.acquire().then((release) => ({ n, release })));
  assert.equal(sem.active, 2);
  assert.equal(sem.waiting, 3);
  r1();
  r1(); // a second release of the same slot is ignored
  const w3 = await waiters[0];
  assert.ok(w3);
  order.push(w3.n);
  assert.equal(sem.active, 2);
  assert.equal(sem.waiting, 2);
  r2();
  w3.release();
  for (const w of await Promise.all(waiters.slice(1))) {
    order.push(w.n);
    w.release();
  }
  assert.deepEqual(order, [3, 4, 5]);
  assert.equal(sem.active, 0);
});

void test('a limit of 0 means unlimited', async () => {
  const sem = new Semaphore(0);
  await Promise.all(Array.from({ length: 50 }, () => sem.acquire()));
  assert.equal(sem.active, 50);
  assert.equal(sem.waiting, 0);
});
