import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { ChangeHub, type Change } from '../../src/notify/changes.js';

function logger(lines: string[]): Logger {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, cb): void {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
}

const change = (collection: string, href: string): Omit<Change, 'seq' | 'time'> => ({
  kind: 'item-put',
  collection,
  items: [{ href, uid: href, component: 'VEVENT' }],
  user: 'alice',
  method: 'PUT',
  requestPath: `/${collection}/${href}`,
});

describe('ChangeHub', () => {
  it('publish returns before any listener runs', () => {
    const hub = new ChangeHub(logger([]));
    let ran = false;
    hub.subscribe(() => {
      ran = true;
    });
    hub.publish(change('a/cal', 'x.ics'));
    assert.equal(ran, false);
  });

  it('keeps the order per collection while a slow listener holds one collection, not the others', async () => {
    const hub = new ChangeHub(logger([]));
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    hub.subscribe(async (ch) => {
      const href = ch.items[0]?.href ?? '';
      if (href === 'slow.ics') await gate;
      seen.push(`${ch.collection}/${href}`);
    });
    hub.publish(change('a/cal', 'slow.ics'));
    hub.publish(change('a/cal', 'after.ics'));
    hub.publish(change('b/cal', 'other.ics'));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, ['b/cal/other.ics'], 'b is not held up by a');
    release();
    await hub.drain();
    assert.deepEqual(seen, ['b/cal/other.ics', 'a/cal/slow.ics', 'a/cal/after.ics']);
  });

  it('logs what a listener throws and goes on with the next change', async () => {
    const lines: string[] = [];
    const hub = new ChangeHub(logger(lines));
    const seen: number[] = [];
    hub.subscribe(
      (ch) => {
        if (ch.seq === 1) throw new Error('boom');
        seen.push(ch.seq);
      },
      { name: 'flaky' },
    );
    hub.publish(change('a/cal', '1.ics'));
    hub.publish(change('a/cal', '2.ics'));
    await hub.drain();
    assert.deepEqual(seen, [2]);
    assert.ok(lines.some((l) => l.includes('flaky failed on change 1') && l.includes('boom')));
  });

  it('drops and counts changes past the bound for a listener that does not keep up', async () => {
    const lines: string[] = [];
    const hub = new ChangeHub(logger(lines), 3);
    hub.subscribe(() => new Promise<void>(() => undefined), { name: 'stuck' });
    const fine: number[] = [];
    hub.subscribe((ch) => void fine.push(ch.seq), { name: 'fine' });
    for (let i = 0; i < 13; i++) {
      hub.publish(change('a/cal', `${i}.ics`));
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fine.length, 13, 'the other listener gets every change');
    const drops = lines.filter((l) => l.includes('stuck is 3 changes behind'));
    assert.equal(drops.length, 2, 'logged at the 1st and the 10th drop');
    assert.ok(drops[1]?.includes('10 dropped'));
    // drain gives up on a listener that never finishes.
    await hub.drain(50);
    assert.ok(lines.some((l) => l.includes('not delivered at stop')));
  });

  it('unsubscribe stops delivery; wantsContent follows the subscribers', () => {
    const hub = new ChangeHub(logger([]));
    assert.equal(hub.active, false);
    const off = hub.subscribe(() => undefined, { content: true });
    assert.equal(hub.wantsContent, true);
    off();
    assert.equal(hub.active, false);
    assert.equal(hub.wantsContent, false);
  });
});
