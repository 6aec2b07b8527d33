/** The pickle reader/writer and the storage locks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpPickle, loadPickle, PickleError } from '../../src/storage/pickle.js';
import { LockRegistry, RwLock, collectionLocks } from '../../src/storage/filesystem/lock.js';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import type { ItemDescription } from '../../src/storage/types.js';

void test('pickle round-trip of list, dict and long strings', () => {
  const long = 'é'.repeat(300);
  assert.deepEqual(loadPickle(dumpPickle(['a', long, ''])), ['a', long, '']);
  const many = Array.from({ length: 2500 }, (_, i) => `s${i}`);
  assert.deepEqual(loadPickle(dumpPickle(many)), many);
  const m = new Map([
    ['x', 'y'],
    ['ü', long],
  ]);
  assert.deepEqual(loadPickle(dumpPickle(m)), m);
  assert.deepEqual(loadPickle(dumpPickle([])), []);
});

void test('sync-token states (dicts of ASCII hrefs and etags) pickle as Python does, in batches of 1000', () => {
  // pickle.dumps({'a.ics': 'x'}, protocol=4) in Python 3
  assert.equal(
    dumpPickle(new Map([['a.ics', 'x']])).toString('hex'),
    '80049510000000000000007d948c05612e696373948c017894732e',
  );
  for (const n of [0, 1, 999, 1000, 1001, 2001]) {
    const ascii = new Map(
      Array.from({ length: n }, (_, i) => [`h${i}.ics`, i.toString(16).padStart(64, '0')]),
    );
    assert.deepEqual(loadPickle(dumpPickle(ascii)), ascii, `${n} ASCII entries`);
    const mixed = new Map([...ascii, ['é.ics', 'x'.repeat(300)]]);
    assert.deepEqual(loadPickle(dumpPickle(mixed)), mixed, `${n} entries and a non-ASCII one`);
  }
});

void test('pickle reader handles Python opcodes for numbers, tuples, bytes, None, bools and memo', () => {
  // pickle.dumps((1, -2, 300, 70000, 2**70, None, True, False, 1.5, b'ab', [], {}, ('t',)*2), protocol=4)
  const p4 =
    '8004953b00000000000000284b014afeffffff4d2c014a701101008a090000000000000000404e8889473ff800000000000043026162945d947d948c0174946803869474942e';
  assert.deepEqual(loadPickle(Buffer.from(p4, 'hex')), [
    1,
    -2,
    300,
    70000,
    2n ** 70n,
    null,
    true,
    false,
    1.5,
    new Uint8Array([0x61, 0x62]),
    [],
    new Map(),
    ['t', 't'],
  ]);
  // pickle.dumps([['s','s']]*2, protocol=2): BINPUT/BINGET memo references and BINUNICODE
  const p2 = '80025d7100285d71012858010000007371026802656801652e';
  assert.deepEqual(loadPickle(Buffer.from(p2, 'hex')), [
    ['s', 's'],
    ['s', 's'],
  ]);
});

void test('pickle reader refuses code-executing opcodes and truncated input', () => {
  // cos\nsystem\n(S'id'\ntR.  (protocol 0 GLOBAL + REDUCE)
  assert.throws(() => loadPickle(Buffer.from("cos\nsystem\n(S'id'\ntR.", 'latin1')), PickleError);
  assert.throws(() => loadPickle(Buffer.from([0x80, 0x04, 0x93])), PickleError); // STACK_GLOBAL
  assert.throws(() => loadPickle(Buffer.from([0x80, 0x04, 0x8c, 0x05, 0x61])), PickleError);
  assert.throws(() => loadPickle(Buffer.from([0x80, 0x06, 0x4e, 0x2e])), PickleError);
});

void test('RwLock: readers share, a waiting writer blocks later readers, FIFO order', async () => {
  const lock = new RwLock();
  const order: string[] = [];
  const r1 = await lock.acquire('read');
  const r2 = await lock.acquire('read');
  const w = lock.acquire('write').then((rel) => {
    order.push('w');
    return rel;
  });
  const r3 = lock.acquire('read').then((rel) => {
    order.push('r3');
    return rel;
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, []);
  r1();
  r2();
  (await w)();
  (await r3)();
  assert.deepEqual(order, ['w', 'r3']);
  assert.equal(lock.idle, true);
});

void test('collection locks: ancestors read, target write; sorted acquisition avoids deadlocks', async () => {
  assert.deepEqual(
    [...collectionLocks([{ path: 'alice/work', mode: 'write' }])],
    [
      ['', 'read'],
      ['alice', 'read'],
      ['alice/work', 'write'],
    ],
  );
  const reg = new LockRegistry();
  const a = await reg.acquireAll(collectionLocks([{ path: 'alice/work', mode: 'write' }]));
  // Another collection of the same user proceeds while alice/work is write-locked.
  const b = await reg.acquireAll(collectionLocks([{ path: 'alice/home', mode: 'write' }]));
  b();
  let parentGranted = false;
  const p = reg.acquireAll(collectionLocks([{ path: 'alice', mode: 'write' }])).then((rel) => {
    parentGranted = true;
    return rel;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(parentGranted, false);
  a();
  (await p)();
  assert.equal(parentGranted, true);
});

const describe = (text: string): ItemDescription => ({
  uid: /^UID:(.*)\r?$/m.exec(text)?.[1] ?? '',
  component: 'VEVENT',
  start: 0,
  end: 0,
});

void test('a write to one collection proceeds while another collection’s write check is still running', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-lock-'));
  const s = filesystemStorage({ folder, maxResourceSize: 1e6, maxSyncTokenAge: 1000, describe });
  const ctx = { user: 'a', path: '/', request: 'PUT' };
  await s.open();
  try {
    await s.createCollection('a', {}, ctx);
    await s.createCollection('a/one', { tag: 'VCALENDAR' }, ctx);
    await s.createCollection('a/two', { tag: 'VCALENDAR' }, ctx);
    const text = 'BEGIN:VCALENDAR\r\nUID:x\r\nEND:VCALENDAR\r\n';
    const d = describe(text);
    // The first write holds a/one's write lock until `unblock` is called (its hook sleeps forever otherwise).
    let unblock: () => void = () => undefined;
    const gate = new Promise<void>((r) => (unblock = r));
    let firstDone = false;
    const first = (async () => {
      const rel = await (s.backend as unknown as { store: { locks: LockRegistry } }).store.locks.acquireAll(
        collectionLocks([{ path: 'a/one', mode: 'write' }]),
      );
      await gate;
      rel();
      firstDone = true;
    })();
    await new Promise((r) => setImmediate(r));
    const r = await s.putItem('a/two', 'x.ics', { text, description: d }, () => undefined, ctx);
    assert.equal(r.created, true);
    assert.equal(firstDone, false);
    unblock();
    await first;
    const r2 = await s.putItem('a/one', 'x.ics', { text, description: d }, () => undefined, ctx);
    assert.equal(r2.created, true);
  } finally {
    await s.close();
    await rm(folder, { recursive: true, force: true });
  }
});
