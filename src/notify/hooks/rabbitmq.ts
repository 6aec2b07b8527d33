/**
 * `[hook] type = rabbitmq`: Radicale's messages (./notification.ts) published with amqplib, as
 * Radicale's pika hook does: the queue `rabbitmq_topic` declared durable with `x-queue-type` =
 * `rabbitmq_queue_type` (left out when empty: RabbitMQ refuses an empty queue type), each message
 * published on the default exchange with the topic as routing key and no properties.
 *
 * Unlike Radicale's (a blocking publish inside the request, one reconnect attempt, then the message
 * is lost), a broker that is down or slow never delays or fails a write: messages wait in a bounded
 * in-memory queue, in order, and a background loop connects (again and again, with exponential
 * backoff), declares the queue, publishes on a confirm channel and drops a message from the queue
 * only once the broker confirmed it. So messages made while the broker was away are delivered when
 * it is back (at least once: a message whose confirm was lost with the connection is sent again).
 * Past `maxQueued` waiting messages, new ones are dropped and counted in the log.
 */
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import type { Change } from '../changes.js';
import { hookItems, hookJson } from './notification.js';

export interface RabbitMqOptions {
  readonly endpoint: string;
  readonly topic: string;
  readonly queueType: string;
  readonly dryrun: boolean;
  /** Messages kept while the broker cannot be reached (default 10,000). */
  readonly maxQueued?: number;
  /** Reconnect delays: from `initialMs`, doubled after each failure, at most `maxMs`. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly log: Logger;
}

/** Messages published before waiting for the broker's confirms. */
const BATCH = 100;
/** How long close() goes on delivering what is queued. */
const CLOSE_FLUSH_MS = 3000;

export class RabbitMqHook {
  private readonly queue: Buffer[] = [];
  private readonly maxQueued: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private model: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private pumping = false;
  private closed = false;
  private delayMs: number;
  private failing = false;
  private sleeper: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  /** Dropped since the last time the loss was logged as ended. */
  private lostNow = 0;
  /** Messages dropped because the queue was full (since the start). */
  lost = 0;
  /** Messages the broker confirmed (since the start). */
  delivered = 0;

  constructor(private readonly options: RabbitMqOptions) {
    this.maxQueued = options.maxQueued ?? 10_000;
    this.initialMs = options.backoff?.initialMs ?? 250;
    this.maxMs = options.backoff?.maxMs ?? 10_000;
    this.delayMs = this.initialMs;
  }

  /** Connects and declares the queue in the background (as Radicale does at start-up). */
  start(): void {
    if (this.options.dryrun) {
      this.options.log.warn("Hook 'rabbitmq': DRY-RUN, no connection to the broker is made");
      return;
    }
    void this.pump();
  }

  /**
   * The change listener: queues the change's messages. While the broker is reachable, a change with
   * more messages than the queue holds (a big import) waits for room instead of losing them; while
   * it is away, what does not fit is dropped and counted.
   */
  readonly listener = async (change: Change): Promise<void> => {
    for (const item of hookItems(change)) {
      while (this.queue.length >= this.maxQueued && !this.failing && !this.closed && !this.options.dryrun)
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      this.send(hookJson(item));
    }
  };

  private readonly roomWaiters: (() => void)[] = [];

  /** Wakes listeners waiting for room (after a batch was delivered, or when the broker is lost). */
  private room(): void {
    for (const w of this.roomWaiters.splice(0)) w();
  }

  /** Messages waiting for the broker. */
  get queued(): number {
    return this.queue.length;
  }

  send(json: string): void {
    if (this.options.dryrun) {
      this.options.log.warn(`Hook 'rabbitmq': DRY-RUN would publish to queue ${this.options.topic}: ${json}`);
      return;
    }
    if (this.closed) return;
    if (this.queue.length >= this.maxQueued) {
      this.lost += 1;
      this.lostNow += 1;
      if (Number.isInteger(Math.log10(this.lostNow)))
        this.options.log.error(
          `Hook 'rabbitmq': ${this.queue.length} messages wait for the broker (the most kept); ${this.lostNow} dropped so far`,
        );
      return;
    }
    this.queue.push(Buffer.from(json, 'utf8'));
    // Starts the loop when idle; while it waits to reconnect, the message waits with the others.
    void this.pump();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleeper = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeper = { timer, wake };
    });
  }

  private async connectOnce(): Promise<ConfirmChannel> {
    const model = await connect(this.options.endpoint);
    model.on('error', (err: Error) => this.options.log.debug({ err }, "Hook 'rabbitmq': connection error"));
    model.on('close', () => {
      if (this.model === model) {
        this.model = undefined;
        this.channel = undefined;
      }
    });
    try {
      const channel = await model.createConfirmChannel();
      channel.on('error', (err: Error) => this.options.log.debug({ err }, "Hook 'rabbitmq': channel error"));
      channel.on('close', () => {
        if (this.channel === channel) this.channel = undefined;
      });
      await channel.assertQueue(this.options.topic, {
        durable: true,
        ...(this.options.queueType !== '' ? { arguments: { 'x-queue-type': this.options.queueType } } : {}),
      });
      this.model = model;
      this.channel = channel;
      return channel;
    } catch (err) {
      await model.close().catch(() => undefined);
      throw err;
    }
  }

  private async ensureChannel(): Promise<ConfirmChannel | undefined> {
    if (this.channel) return this.channel;
    try {
      const channel = await this.connectOnce();
      if (this.closed) {
        // close() ran while connecting: leave nothing open behind it.
        const model = this.model;
        this.model = undefined;
        this.channel = undefined;
        await model?.close().catch(() => undefined);
        return undefined;
      }
      if (this.failing) this.options.log.info(`Hook 'rabbitmq': connected to the broker again`);
      else this.options.log.debug(`Hook 'rabbitmq': connected, queue ${this.options.topic} declared`);
      this.failing = false;
      this.delayMs = this.initialMs;
      return channel;
    } catch (err) {
      if (!this.failing)
        this.options.log.error(
          { err },
          `Hook 'rabbitmq': cannot reach the broker (${String(err)}); ${this.queue.length} messages wait, retrying`,
        );
      else this.options.log.debug({ err }, `Hook 'rabbitmq': still cannot reach the broker`);
      this.failing = true;
      this.room();
      return undefined;
    }
  }

  /** Publishes a batch and waits for the broker's confirms (rejects when the connection goes). */
  private async publish(channel: ConfirmChannel, batch: readonly Buffer[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onClose = (): void => reject(new Error('channel closed before the broker confirmed'));
      channel.once('close', onClose);
      for (const body of batch) channel.publish('', this.options.topic, body);
      channel.waitForConfirms().then(
        () => {
          channel.removeListener('close', onClose);
          resolve();
        },
        (err: unknown) => {
          channel.removeListener('close', onClose);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      // Connects even with nothing to send (at start-up), so the queue exists before the first change.
      while (!this.closed) {
        const channel = await this.ensureChannel();
        if (!channel) {
          await this.sleep(this.delayMs);
          this.delayMs = Math.min(this.maxMs, this.delayMs * 2);
          continue;
        }
        if (this.queue.length === 0) break;
        const batch = this.queue.slice(0, BATCH);
        try {
          await this.publish(channel, batch);
          this.queue.splice(0, batch.length);
          this.delivered += batch.length;
          this.room();
          if (this.lostNow > 0) {
            this.options.log.error(
              `Hook 'rabbitmq': ${this.lostNow} messages were lost while the broker was away`,
            );
            this.lostNow = 0;
          }
        } catch (err) {
          this.options.log.warn(
            { err },
            `Hook 'rabbitmq': publishing failed (${String(err)}); ${this.queue.length} messages wait`,
          );
          if (this.channel === channel) this.channel = undefined;
          const model = this.model;
          this.model = undefined;
          await model?.close().catch(() => undefined);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Delivers what is queued (for a short while), then disconnects; logs what is left undelivered. */
  async close(): Promise<void> {
    if (this.options.dryrun) return;
    const deadline = Date.now() + CLOSE_FLUSH_MS;
    while (this.queue.length > 0 && this.channel && Date.now() < deadline) {
      if (!this.pumping) void this.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    this.sleeper?.wake();
    this.room();
    if (this.queue.length > 0)
      this.options.log.error(`Hook 'rabbitmq': ${this.queue.length} messages not delivered at stop`);
    const model = this.model;
    this.model = undefined;
    this.channel = undefined;
    await model?.close().catch(() => undefined);
  }
}
