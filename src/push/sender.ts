/**
 * Sends WebDAV-Push messages: Web Push (RFC 8030) requests, VAPID-signed (RFC 8292) and encrypted with
 * aes128gcm (RFC 8291) by the `web-push` package, posted with node:http(s) so that the server keeps
 * the timeouts, the retries and the concurrency in hand.
 *
 * Changes of one collection that come within `coalesce_delay` are one push (a whole-calendar import
 * is one change anyway). A push that fails for a reason that may pass (network error, timeout, 429,
 * 5xx) is retried `retries` times with a doubling delay; 404 and 410 mean the subscription is gone and
 * it is removed; any other answer is logged. Everything is bounded: collections waiting, requests
 * queued and requests in flight. Nothing here is awaited by a client's request.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import webpush from 'web-push';
import type { PushSecrets, PushStore, PushSubscriptionRecord } from '../storage/push-store.js';
import { pushMessage, type PushNews } from './message.js';
import { topicOf } from './keys.js';

export interface SenderOptions {
  readonly store: PushStore;
  readonly secrets: PushSecrets;
  readonly subject: string;
  readonly log: Logger;
  /** Seconds a collection's push waits for more changes. */
  readonly coalesceDelay: number;
  readonly retries: number;
  /** Seconds before the first retry. */
  readonly retryDelay: number;
  /** The sync token of a collection, or undefined when it has none (plain collections). */
  readonly syncToken: (collection: string) => Promise<string | undefined>;
  /**
   * The registrations a change of `collection` is pushed to (its own and those at share paths that
   * map to it, see ./audience.ts); each one's topic is that of the path it was registered at. Default:
   * the collection's own registrations.
   */
  readonly audience?: (collection: string, now: number, gone: boolean) => Promise<PushSubscriptionRecord[]>;
}

/** What changed in one collection since its last push. */
interface Pending {
  content: boolean;
  property: boolean;
  gone: boolean;
  timer: NodeJS.Timeout;
}

interface Delivery {
  readonly sub: PushSubscriptionRecord;
  readonly payload: string;
  readonly topicHeader: string | undefined;
  readonly attempt: number;
}

/** How long a push service may take to answer. */
const REQUEST_TIMEOUT_MS = 15_000;
/** How long a push service keeps a message for a device that is offline (RFC 8030 TTL). */
const TTL_SECONDS = 86_400;
/** Requests in flight at once. */
const MAX_IN_FLIGHT = 8;
/** Collections waiting for their push; deliveries waiting for a slot. Past these, pushes are dropped. */
const MAX_PENDING_COLLECTIONS = 10_000;
const MAX_QUEUED = 10_000;
/** The longest a retry waits, whatever the backoff or Retry-After says. */
const MAX_RETRY_DELAY_MS = 3_600_000;

export type Outcome =
  | { kind: 'sent' }
  | { kind: 'gone'; status: number }
  | { kind: 'retry' | 'failed'; reason: string; retryAfterMs?: number };

export class PushSender {
  private readonly pending = new Map<string, Pending>();
  private readonly queue: Delivery[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly requests = new Set<ClientRequest>();
  private closed = false;
  /** Pushes dropped because a bound was reached (logged as they happen). */
  dropped = 0;

  constructor(private readonly options: SenderOptions) {}

  /** Notes a change; the push follows after `coalesce_delay`. Never throws, never waits. */
  changed(collection: string, what: { content?: boolean; property?: boolean; gone?: boolean }): void {
    if (this.closed) return;
    let waiting = this.pending.get(collection);
    if (!waiting) {
      if (this.pending.size >= MAX_PENDING_COLLECTIONS) {
        this.drop(`too many collections waiting for a push (${MAX_PENDING_COLLECTIONS})`);
        return;
      }
      const timer = setTimeout(() => this.fire(collection), this.options.coalesceDelay * 1000);
      waiting = { content: false, property: false, gone: false, timer };
      this.pending.set(collection, waiting);
    }
    waiting.content ||= what.content === true;
    waiting.property ||= what.property === true || what.gone === true;
    waiting.gone ||= what.gone === true;
  }

  private drop(reason: string): void {
    this.dropped++;
    this.options.log.warn(`WebDAV-Push message dropped: ${reason} (${this.dropped} dropped so far)`);
  }

  private fire(collection: string): void {
    const waiting = this.pending.get(collection);
    this.pending.delete(collection);
    if (!waiting || this.closed) return;
    this.track(
      this.prepare(collection, waiting).catch((err: unknown) => {
        this.options.log.error({ err }, `WebDAV-Push for /${collection}/ failed`);
      }),
    );
  }

  private track(run: Promise<void>): void {
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async prepare(collection: string, waiting: Pending): Promise<void> {
    const now = Date.now();
    const subs = this.options.audience
      ? await this.options.audience(collection, now, waiting.gone)
      : await this.options.store.forCollection(collection, now);
    if (waiting.gone) {
      await this.options.store.removeCollections([collection]);
      // Registrations at share paths that heard the collection is gone go too.
      for (const s of subs) if (s.collection !== collection) await this.options.store.remove(s.id);
    }
    if (subs.length === 0) return;
    const content =
      waiting.content && !waiting.gone
        ? await this.options.syncToken(collection).then((t) => (t === undefined ? {} : { syncToken: t }))
        : undefined;
    // One message per path registered at: its topic is the one the client read there.
    const byPath = new Map<string, PushSubscriptionRecord[]>();
    for (const s of subs) byPath.set(s.collection, [...(byPath.get(s.collection) ?? []), s]);
    for (const [path, group] of byPath) {
      const topic = topicOf(this.options.secrets.topicSecret, path);
      const news: PushNews = {
        topic,
        ...(content ? { content } : {}),
        ...(waiting.property ? { property: { gone: waiting.gone } } : {}),
      };
      // Only a content update may replace an earlier undelivered one (RFC 8030 §5.4): it says the same, newer.
      const topicHeader = news.property ? undefined : topic;
      const payload = pushMessage(news);
      for (const sub of group) this.enqueue({ sub, payload, topicHeader, attempt: 0 });
    }
  }

  private enqueue(d: Delivery): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.drop(`too many pushes queued (${MAX_QUEUED})`);
      return;
    }
    this.queue.push(d);
    this.pump();
  }

  private active = 0;

  private pump(): void {
    while (this.active < MAX_IN_FLIGHT && this.queue.length > 0 && !this.closed) {
      const d = this.queue.shift();
      if (!d) break;
      this.active++;
      this.track(
        this.deliver(d)
          .catch((err: unknown) => this.options.log.error({ err }, 'WebDAV-Push delivery failed'))
          .finally(() => {
            this.active--;
            this.pump();
          }),
      );
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    const { sub } = d;
    // The registration may have been removed (unregistered, gone) or have expired while this waited.
    const current = d.attempt === 0 ? sub : await this.options.store.byId(sub.id);
    if (!current || current.expires <= Date.now()) return;
    const outcome = await this.post(current, d.payload, d.topicHeader);
    const where = `subscription ${sub.id} of /${sub.collection}/`;
    switch (outcome.kind) {
      case 'sent':
        this.options.log.debug(`WebDAV-Push sent to ${where}`);
        return;
      case 'gone':
        await this.options.store.remove(sub.id);
        this.options.log.info(`WebDAV-Push: push service answered ${outcome.status}, removed ${where}`);
        return;
      case 'failed':
        this.options.log.warn(`WebDAV-Push to ${where} refused: ${outcome.reason}`);
        return;
      case 'retry': {
        if (d.attempt >= this.options.retries) {
          this.options.log.warn(
            `WebDAV-Push to ${where} failed ${d.attempt + 1} times, given up: ${outcome.reason}`,
          );
          return;
        }
        const backoff = this.options.retryDelay * 1000 * 2 ** d.attempt;
        const wait = Math.min(MAX_RETRY_DELAY_MS, Math.max(backoff, outcome.retryAfterMs ?? 0));
        this.options.log.info(
          `WebDAV-Push to ${where} failed (${outcome.reason}), retry in ${Math.round(wait / 1000)} s`,
        );
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.enqueue({ ...d, attempt: d.attempt + 1 });
        }, wait);
        this.retryTimers.add(timer);
        return;
      }
    }
  }

  /** One Web Push request. Never throws. */
  private post(
    sub: PushSubscriptionRecord,
    payload: string,
    topicHeader: string | undefined,
  ): Promise<Outcome> {
    let details: webpush.RequestDetails;
    try {
      details = webpush.generateRequestDetails(
        { endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } },
        payload,
        {
          vapidDetails: {
            subject: this.options.subject,
            publicKey: this.options.secrets.vapidPublicKey,
            privateKey: this.options.secrets.vapidPrivateKey,
          },
          TTL: TTL_SECONDS,
          contentEncoding: 'aes128gcm',
          urgency: 'normal',
          ...(topicHeader !== undefined ? { topic: topicHeader } : {}),
        },
      );
    } catch (e) {
      // Not the key material: web-push's messages name the subscription keys, never the VAPID key.
      return Promise.resolve({ kind: 'failed', reason: `cannot encrypt for it: ${(e as Error).message}` });
    }
    return new Promise((resolve) => {
      const url = new URL(details.endpoint);
      const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
      const body = details.body ?? Buffer.alloc(0);
      const req = send(
        url,
        {
          method: details.method,
          headers: { ...details.headers, 'Content-Length': String(body.length) },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res: IncomingMessage) => {
          res.resume();
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ kind: 'sent' });
          else if (status === 404 || status === 410) resolve({ kind: 'gone', status });
          else if (status === 429 || status >= 500) {
            const after = Number(res.headers['retry-after']);
            resolve({
              kind: 'retry',
              reason: `HTTP ${status}`,
              ...(Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}),
            });
          } else resolve({ kind: 'failed', reason: `HTTP ${status}` });
        },
      );
      this.requests.add(req);
      req.on('close', () => this.requests.delete(req));
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => resolve({ kind: 'retry', reason: e.message }));
      req.end(body);
    });
  }

  /** Stops: pending pushes are dropped, requests in flight get a moment to finish. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    for (const waiting of this.pending.values()) clearTimeout(waiting.timer);
    this.pending.clear();
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.queue.length = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const r of this.requests) r.destroy();
  }
}
