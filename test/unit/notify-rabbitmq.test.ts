/**
 * The rabbitmq hook's queue without a broker: bounded, the loss counted and logged; dryrun connects
 * to nothing and logs what it would publish. (test/interop/hook-rabbitmq.test.ts uses a real broker.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { RabbitMqHook } from '../../src/notify/hooks/rabbitmq.js';
import { freePort } from '../helpers/net.js';
import type { Change } from '../../src/notify/changes.js';

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

const put = (i: number): Change => ({
  seq: i,
  kind: 'item-put',
  collection: 'alice/cal',
  items: [{ href: `${i}.ics`, uid: `u${i}`, component: 'VEVENT', text: `BEGIN:VCALENDAR\r\nUID:u${i}\r\n` }],
  user: 'alice',
  method: 'PUT',
  requestPath: `/alice/cal/${i}.ics`,
  time: 0,
});

describe('RabbitMqHook queue', () => {
  it('keeps at most maxQueued messages while the broker is unreachable and counts the rest as lost', async () => {
    const lines: string[] = [];
    const port = await freePort(); // nothing listens there
    const hook = new RabbitMqHook({
      endpoint: `amqp://guest:guest@127.0.0.1:${port}/`,
      topic: 't',
      queueType: 'classic',
      dryrun: false,
      maxQueued: 2,
      backoff: { initialMs: 10, maxMs: 20 },
      log: logger(lines),
    });
    hook.start();
    // The first two wait; the third waits for room until the connection attempt has failed, then it
    // and the later ones are dropped.
    for (let i = 1; i <= 5; i++) await hook.listener(put(i));
    assert.equal(hook.queued, 2);
    assert.equal(hook.lost, 3);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      lines.some((l) => l.includes('2 messages wait for the broker (the most kept); 1 dropped so far')),
    );
    assert.ok(lines.some((l) => l.includes('cannot reach the broker')));
    await hook.close();
    assert.ok(lines.some((l) => l.includes('2 messages not delivered at stop')));
  });

  it('dryrun makes no connection and logs each message it would publish', async () => {
    const lines: string[] = [];
    const hook = new RabbitMqHook({
      endpoint: 'amqp://nowhere.invalid/',
      topic: 'topic1',
      queueType: '',
      dryrun: true,
      log: logger(lines),
    });
    hook.start();
    await hook.listener(put(1));
    assert.equal(hook.queued, 0);
    await hook.close();
    const dry = lines.filter((l) => l.includes('DRY-RUN would publish to queue topic1'));
    assert.equal(dry.length, 1);
    assert.ok(dry[0]?.includes('\\"type\\": \\"upsert\\"'));
    assert.ok(!lines.some((l) => l.includes('cannot reach')));
  });
});
