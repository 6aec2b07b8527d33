/**
 * `[hook] type = rabbitmq` against a real RabbitMQ (Debian's rabbitmq-server, a private instance):
 * PUT, DELETE and PROPPATCH publish the message Radicale 3.8 publishes (the expected JSON is written
 * by Python's json.dumps from the stored texts, the PROPPATCH XML by Python's ElementTree), MOVE
 * publishes nothing (as Radicale's), and while the broker is down writes succeed and their messages
 * arrive, in order, once it is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { startRabbit, type RunningRabbit } from '../helpers/rabbitmq.js';
import { RabbitMqHook } from '../../src/notify/hooks/rabbitmq.js';
import type { Change } from '../../src/notify/changes.js';
import { pino } from 'pino';
import { DavClient, mkcalendar, put, vevent } from '../integration/helpers/dav-client.js';

const TOPIC = 'almanac-changes';

interface Fields {
  type: string;
  point: string;
  content: string | null;
  content_type: string | null;
  uid: string | null;
  new_content: string | null;
  old_content: string | null;
  actor: string | null;
}

/** The body Radicale publishes, written by Python itself (radicale/hook/__init__.py to_json). */
function radicaleBody(f: Fields): string {
  const script = `
import json, sys
f = json.load(sys.stdin)
d = {"_content_legacy": f["content"], "actor": f["actor"], "content_type": f["content_type"],
     "new_content": f["new_content"], "old_content": f["old_content"], "point": f["point"],
     "type": f["type"], "uid": f["uid"]}
d["content"] = f["content"] or f["uid"] or f["new_content"] or f["old_content"]
sys.stdout.write(json.dumps(d, sort_keys=True, indent=4))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(f), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function pythonEtree(xml: string): string {
  const script = `
import sys
from xml.etree import ElementTree as ET
for short, url in {"C": "urn:ietf:params:xml:ns:caldav", "CR": "urn:ietf:params:xml:ns:carddav", "D": "DAV:",
        "CS": "http://calendarserver.org/ns/", "ICAL": "http://apple.com/ns/ical/",
        "ME": "http://me.com/_namespace/", "RADICALE": "http://radicale.org/ns/"}.items():
    ET.register_namespace("" if short == "D" else short, url)
sys.stdout.write(ET.tostring(ET.fromstring(sys.stdin.read()), encoding="utf-8").decode("utf-8"))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input: xml, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** A consumer of the topic's queue that collects the messages. */
class Consumer {
  readonly messages: ConsumeMessage[] = [];
  private model: ChannelModel | undefined;
  private channel: Channel | undefined;
  constructor(private readonly url: string) {}
  async open(): Promise<void> {
    this.model = await connect(this.url);
    this.model.on('error', () => undefined);
    this.channel = await this.model.createChannel();
    this.channel.on('error', () => undefined);
    await this.channel.assertQueue(TOPIC, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    await this.channel.consume(
      TOPIC,
      (m) => {
        if (m) this.messages.push(m);
      },
      { noAck: true },
    );
  }
  async close(): Promise<void> {
    await this.model?.close().catch(() => undefined);
  }
  /** Waits (bounded) for `n` more messages than `from`; returns them as text. */
  async next(from: number, n: number, timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < from + n && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(this.messages.length >= from + n, `expected ${n} messages, got ${this.messages.length - from}`);
    return this.messages.slice(from, from + n).map((m) => m.content.toString('utf8'));
  }
}

/** Fails when a request does not finish in `ms` (a write waiting for the broker would hang). */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

describe('[hook] rabbitmq with a real RabbitMQ', () => {
  let rabbit: RunningRabbit;
  let server: RunningAlmanac;
  let c: DavClient;
  let consumer: Consumer;
  const logLines: string[] = [];

  before(async () => {
    rabbit = await startRabbit();
    server = await startAlmanac({
      logLines,
      config: {
        hook: {
          type: 'rabbitmq',
          rabbitmq_endpoint: rabbit.url,
          rabbitmq_topic: TOPIC,
          rabbitmq_queue_type: 'classic',
        },
      },
    });
    c = new DavClient(server.url);
    consumer = new Consumer(rabbit.url);
    await consumer.open();
    assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
  });
  after(async () => {
    await consumer?.close();
    await server?.stop();
    await rabbit?.destroy();
  });

  const get = async (path: string): Promise<string> => {
    const r = await c.request('GET', path, { user: 'alice' });
    assert.equal(r.status, 200);
    return r.text;
  };

  it('PUT, PUT over it, PROPPATCH, MOVE and DELETE publish what Radicale 3.8 publishes', async () => {
    const from = consumer.messages.length;
    assert.equal((await put(c, '/alice/cal/ev.ics', vevent('ev1', { summary: 'Café ☕' }))).status, 201);
    const first = await get('/alice/cal/ev.ics');
    assert.equal((await put(c, '/alice/cal/ev.ics', vevent('ev1', { summary: 'Moved' }))).status, 204);
    const second = await get('/alice/cal/ev.ics');
    const body =
      '<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate xmlns:D="DAV:" xmlns:I="http://apple.com/ns/ical/">\n  <D:set><D:prop><I:calendar-color>#00FF00</I:calendar-color></D:prop></D:set>\n</D:propertyupdate>\n';
    assert.equal(
      (
        await c.request('PROPPATCH', '/alice/cal/', {
          user: 'alice',
          body,
          headers: { 'Content-Type': 'application/xml' },
        })
      ).status,
      207,
    );
    const move = await c.request('MOVE', '/alice/cal/ev.ics', {
      user: 'alice',
      headers: { Destination: `${server.url}/alice/cal/moved.ics` },
    });
    assert.equal(move.status, 201);
    assert.equal((await c.request('DELETE', '/alice/cal/moved.ics', { user: 'alice' })).status, 200);

    const got = await consumer.next(from, 4);
    const base = { point: 'alice/cal', actor: 'alice' };
    assert.equal(
      got[0],
      radicaleBody({
        ...base,
        type: 'upsert',
        content: first,
        content_type: 'VCALENDAR',
        uid: null,
        new_content: first,
        old_content: null,
      }),
    );
    assert.match(got[0] ?? '', /Caf\\u00e9 \\u2615/, 'ASCII JSON, as json.dumps writes it');
    assert.equal(
      got[1],
      radicaleBody({
        ...base,
        type: 'upsert',
        content: second,
        content_type: 'VCALENDAR',
        uid: null,
        new_content: second,
        old_content: first,
      }),
    );
    const xml = pythonEtree(body);
    assert.equal(
      got[2],
      radicaleBody({
        ...base,
        type: 'cpatch',
        content: xml,
        content_type: null,
        uid: null,
        new_content: xml,
        old_content: null,
      }),
    );
    // Nothing for the MOVE: the next message is the DELETE's.
    assert.equal(
      got[3],
      radicaleBody({
        ...base,
        type: 'delete',
        content: 'ev1',
        content_type: 'VCALENDAR',
        uid: 'ev1',
        new_content: null,
        old_content: second,
      }),
    );
    const m = consumer.messages[from];
    assert.equal(m?.fields.exchange, '', 'the default exchange');
    assert.equal(m?.fields.routingKey, TOPIC);
    assert.equal(m?.properties.deliveryMode, undefined, 'no properties, as pika basic_publish without them');
    assert.equal(m?.properties.contentType, undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(consumer.messages.length, from + 4, 'exactly one message each, none for the MOVE');
  });

  it('a whole-calendar PUT publishes one upsert per item', async () => {
    const from = consumer.messages.length;
    const events = ['w1', 'w2', 'w3'].map((u) =>
      ['BEGIN:VEVENT', `UID:${u}`, 'DTSTAMP:20240101T000000Z', 'DTSTART:20240110T100000Z', 'END:VEVENT'].join(
        '\r\n',
      ),
    );
    const ics = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', ...events, 'END:VCALENDAR', ''].join(
      '\r\n',
    );
    const r = await c.request('PUT', '/alice/whole.ics/', {
      user: 'alice',
      body: ics,
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(r.status, 201);
    const got = (await consumer.next(from, 3)).map((t) => JSON.parse(t) as Record<string, unknown>);
    assert.deepEqual(
      got.map((g) => [g.type, g.point, g.old_content, /UID:(w\d)/.exec(String(g.new_content))?.[1]]).sort(),
      [
        ['upsert', 'alice/whole.ics', null, 'w1'],
        ['upsert', 'alice/whole.ics', null, 'w2'],
        ['upsert', 'alice/whole.ics', null, 'w3'],
      ],
    );
  });

  it('a change with more messages than the queue holds waits for room while the broker is up: none lost', async () => {
    const from = consumer.messages.length;
    const hook = new RabbitMqHook({
      endpoint: rabbit.url,
      topic: TOPIC,
      queueType: 'classic',
      dryrun: false,
      maxQueued: 5,
      log: pino({ level: 'silent' }),
    });
    hook.start();
    const items = Array.from({ length: 60 }, (_, i) => ({
      href: `b${i}.ics`,
      uid: `b${i}`,
      component: 'VEVENT',
      text: `BEGIN:VCALENDAR\r\nUID:b${i}\r\nEND:VCALENDAR\r\n`,
    }));
    const change: Change = {
      seq: 1,
      kind: 'collection-replace',
      collection: 'alice/big',
      items,
      user: 'alice',
      method: 'PUT',
      requestPath: '/alice/big/',
      time: 0,
    };
    await hook.listener(change);
    const got = await consumer.next(from, 60);
    await hook.close();
    assert.equal(hook.lost, 0);
    assert.deepEqual(
      got.map((t) => /UID:(b\d+)/.exec(t)?.[1]),
      items.map((i) => i.uid),
    );
  });

  it('with the broker down, writes succeed; their messages arrive in order when it is back', async () => {
    await consumer.close();
    await rabbit.stop();
    for (let i = 0; i < 5; i++) {
      const r = await bounded(put(c, `/alice/cal/down${i}.ics`, vevent(`down${i}`)), 15_000, `PUT ${i}`);
      assert.equal(r.status, 201, `PUT ${i} while the broker is down`);
    }
    const del = await bounded(
      c.request('DELETE', '/alice/cal/down0.ics', { user: 'alice' }),
      15_000,
      'DELETE while the broker is down',
    );
    assert.equal(del.status, 200);
    await rabbit.start();
    consumer = new Consumer(rabbit.url);
    await consumer.open();
    const got = (await consumer.next(0, 6, 60_000)).map((t) => JSON.parse(t) as Record<string, unknown>);
    assert.deepEqual(
      got.map((g) => [g.type, g.type === 'delete' ? g.uid : /UID:(down\d)/.exec(String(g.content))?.[1]]),
      [
        ['upsert', 'down0'],
        ['upsert', 'down1'],
        ['upsert', 'down2'],
        ['upsert', 'down3'],
        ['upsert', 'down4'],
        ['delete', 'down0'],
      ],
    );
    assert.ok(
      logLines.some((l) => l.includes("Hook 'rabbitmq'") && l.includes('cannot reach the broker')),
      'the outage is logged',
    );
    // Live again: a new write is published at once.
    assert.equal((await put(c, '/alice/cal/after.ics', vevent('after'))).status, 201);
    const [last] = await consumer.next(6, 1);
    assert.match(last ?? '', /UID:after/);
  });
});
