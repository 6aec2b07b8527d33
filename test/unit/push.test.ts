/**
 * WebDAV-Push pieces on their own: which push resources are refused, topics, the push message, the
 * filesystem store (corrupt files, two stores on one folder), and the sender's coalescing, bounds and
 * the payload it encrypts (checked with the test push service's own RFC 8291 decryption).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { endpointProblem } from '../../src/push/register.js';
import { generateSecrets, topicOf } from '../../src/push/keys.js';
import { pushMessage } from '../../src/push/message.js';
import { PushSender } from '../../src/push/sender.js';
import { FilePushStore } from '../../src/storage/filesystem/push-store.js';
import type { PushSubscriptionRecord } from '../../src/storage/push-store.js';
import { TestPushService } from '../helpers/push-service.js';

function logger(lines: string[] = []): Logger {
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

const FS = { fsync: false, umask: undefined };
const LIMITS = { perUser: 10, perCollection: 10 };

function tempFolder(): string {
  return mkdtempSync(join(tmpdir(), 'almanac-push-unit-'));
}

describe('push resources', () => {
  it('refuses what is not an absolute https: URL on a public host, unless allow_http_endpoints', () => {
    assert.equal(endpointProblem('https://up.example.net/x', false), undefined);
    for (const bad of [
      'http://up.example.net/x',
      'https://127.0.0.1/x',
      'https://127.1.2.3:8443/x',
      'https://[::1]/x',
      'https://[fe80::1]/x',
      'https://[::ffff:10.0.0.1]/x',
      'https://10.0.0.1/x',
      'https://192.168.1.1/x',
      'https://172.20.0.1/x',
      'https://169.254.169.254/latest',
      'https://localhost/x',
      'https://a.localhost/x',
      'https://user:pw@up.example.net/x',
      'ftp://up.example.net/x',
      'relative/path',
      `https://up.example.net/${'x'.repeat(2100)}`,
    ]) {
      assert.notEqual(endpointProblem(bad, false), undefined, bad);
    }
    assert.equal(endpointProblem('http://127.0.0.1:8080/x', true), undefined);
    assert.notEqual(endpointProblem('ftp://127.0.0.1/x', true), undefined);
  });
});

describe('topics and messages', () => {
  it('a topic is 22 base64url characters, the same for a path and secret, different otherwise', () => {
    const s = generateSecrets();
    const t = topicOf(s.topicSecret, 'alice/cal');
    assert.match(t, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(topicOf(s.topicSecret, 'alice/cal'), t);
    assert.notEqual(topicOf(s.topicSecret, 'alice/cal2'), t);
    assert.notEqual(topicOf(generateSecrets().topicSecret, 'alice/cal'), t);
  });

  it('the push message names the topic, the sync token and a removal', () => {
    const m = pushMessage({ topic: 'T', content: { syncToken: 'http://radicale.org/ns/sync/1' } });
    assert.match(m, /<P:push-message xmlns:D="DAV:" xmlns:P="https:\/\/bitfire.at\/webdav-push">/);
    assert.match(
      m,
      /<P:topic>T<\/P:topic><P:content-update><D:sync-token>http:\/\/radicale.org\/ns\/sync\/1</,
    );
    const gone = pushMessage({ topic: 'T', property: { gone: true } });
    assert.match(
      gone,
      /<P:property-update><D:status>HTTP\/1.1 404 Not Found<\/D:status><\/P:property-update>/,
    );
    assert.doesNotMatch(gone, /content-update/);
  });
});

describe('FilePushStore', () => {
  const record = (id: string, over: Partial<PushSubscriptionRecord> = {}): PushSubscriptionRecord => ({
    id,
    user: 'alice',
    collection: 'alice/cal',
    endpoint: `https://up.example.net/${id}`,
    p256dh: 'k',
    auth: 'a',
    expires: Date.now() + 60_000,
    ...over,
  });

  it('two stores on one folder (two processes) share the keys and see each other’s registrations', async () => {
    const folder = tempFolder();
    try {
      const a = new FilePushStore(folder, FS);
      const b = new FilePushStore(folder, FS);
      const [ka, kb] = await Promise.all([a.secrets(generateSecrets), b.secrets(generateSecrets)]);
      assert.deepEqual(ka, kb);
      assert.equal((await a.register(record('r1'), LIMITS, Date.now())).kind, 'created');
      assert.deepEqual(
        (await b.forCollection('alice/cal', Date.now())).map((r) => r.id),
        ['r1'],
      );
      assert.equal(await b.remove('r1'), true);
      assert.equal(await a.byId('r1'), undefined);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('removes a collection’s registrations with those inside it, and expired ones', async () => {
    const folder = tempFolder();
    try {
      const s = new FilePushStore(folder, FS);
      const now = Date.now();
      await s.register(record('a', { collection: 'alice' }), LIMITS, now);
      await s.register(record('b', { collection: 'alice/cal' }), LIMITS, now);
      await s.register(record('c', { collection: 'alice2/cal' }), LIMITS, now);
      await s.register(record('d', { collection: 'bob/cal', expires: now + 10 }), LIMITS, now);
      assert.equal(await s.removeCollections(['alice']), 2);
      assert.deepEqual((await s.forCollection('alice2/cal', now)).length, 1);
      assert.equal(await s.removeExpired(now + 20), 1);
      assert.equal((await s.forCollection('bob/cal', now)).length, 0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a broken subscriptions file is read as none; a broken secrets file stops the start with its name', async () => {
    const folder = tempFolder();
    try {
      mkdirSync(join(folder, '.Almanac.push'));
      writeFileSync(join(folder, '.Almanac.push', 'subscriptions.json'), '{not json');
      writeFileSync(join(folder, '.Almanac.push', 'secrets.json'), '{"vapidPrivateKey": "SECRET-TEXT"');
      const s = new FilePushStore(folder, FS);
      assert.deepEqual(await s.forCollection('alice/cal', Date.now()), []);
      await assert.rejects(
        s.secrets(generateSecrets),
        (e: Error) =>
          /secrets\.json does not hold WebDAV-Push keys/.test(e.message) && !e.message.includes('SECRET'),
      );
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('PushSender', () => {
  it('changes of one collection in a burst are one push, which says the state when it is sent', async () => {
    const folder = tempFolder();
    const service = await TestPushService.start();
    try {
      const store = new FilePushStore(folder, FS);
      const secrets = await store.secrets(generateSecrets);
      const sub = service.subscribe();
      await store.register(
        {
          id: 'sub1',
          user: 'alice',
          collection: 'alice/cal',
          endpoint: sub.endpoint,
          p256dh: sub.p256dh,
          auth: sub.auth,
          expires: Date.now() + 60_000,
        },
        LIMITS,
        Date.now(),
      );
      let token = 0;
      const sender = new PushSender({
        store,
        secrets,
        subject: 'mailto:test@example.org',
        log: logger(),
        coalesceDelay: 0.05,
        retries: 0,
        retryDelay: 0,
        syncToken: () => Promise.resolve(`http://radicale.org/ns/sync/${token}`),
      });
      for (token = 1; token <= 50; token++) sender.changed('alice/cal', { content: true });
      token = 50;
      const [p] = await service.waitFor(sub, 1);
      assert.match(p?.message ?? '', /<D:sync-token>http:\/\/radicale.org\/ns\/sync\/50</);
      assert.equal(p?.headers.topic, topicOf(secrets.topicSecret, 'alice/cal'));
      assert.equal(p?.vapid.sub, 'mailto:test@example.org');
      // A later change is a push of its own.
      sender.changed('alice/cal', { property: true });
      const both = await service.waitFor(sub, 2);
      assert.match(both[1]?.message ?? '', /<P:property-update\/>/);
      assert.equal(both[1]?.headers.topic, undefined, 'only a pure content update may replace an older one');
      assert.equal(service.received.length, 2);
      await sender.close();
    } finally {
      await service.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
