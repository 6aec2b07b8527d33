import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TextCache } from '../../src/storage/text-cache.js';

describe('TextCache', () => {
  it('serves a text only for the ETag it was stored with', () => {
    const c = new TextCache(1 << 20);
    c.set('/a.ics', '"1"', 'BEGIN:VCALENDAR');
    assert.equal(c.get('/a.ics', '"1"'), 'BEGIN:VCALENDAR');
    assert.equal(c.get('/a.ics', '"2"'), undefined);
    assert.equal(c.get('/b.ics', '"1"'), undefined);
  });

  it('counts keys and bookkeeping, not only the texts, against its budget', () => {
    const c = new TextCache(1 << 20);
    c.set('/some/long/key.ics', '"1"', 'x'.repeat(100));
    assert.ok(c.size > 100 + '/some/long/key.ics'.length);
    c.delete('/some/long/key.ics');
    assert.equal(c.size, 0);
  });

  it('evicts the least recently used entries beyond its budget', () => {
    const c = new TextCache(16 * 1024);
    const text = 'y'.repeat(900);
    for (let i = 0; i < 10; i++) c.set(`/${i}`, '"e"', text);
    assert.ok(c.get('/0', '"e"') !== undefined);
    for (let i = 10; i < 40; i++) c.set(`/${i}`, '"e"', text);
    assert.ok(c.size <= 16 * 1024);
    assert.equal(c.get('/1', '"e"'), undefined);
    assert.equal(c.get('/39', '"e"'), text);
  });

  it('does not keep a text bigger than a sixteenth of its budget', () => {
    const c = new TextCache(16 * 1024);
    c.set('/big', '"e"', 'z'.repeat(2000));
    assert.equal(c.get('/big', '"e"'), undefined);
    assert.equal(c.size, 0);
  });

  it('replacing an entry does not count it twice', () => {
    const c = new TextCache(1 << 20);
    c.set('/a', '"1"', 'one');
    const once = c.size;
    c.set('/a', '"2"', 'two');
    assert.equal(c.size, once);
    c.clear();
    assert.equal(c.size, 0);
  });
});
