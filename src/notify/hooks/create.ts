/**
 * The `[hook]` plugin the configuration names, as a change listener. As in Radicale, a hook that
 * cannot be set up (an unknown type, an endpoint that is not an AMQP URL, a bad template) is a
 * warning and `none` is used: the server starts anyway.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { noPluginsFor } from '../../config/plugin.js';
import type { ChangeListener } from '../changes.js';
import { RabbitMqHook } from './rabbitmq.js';

export interface Hook {
  readonly name: string;
  readonly listener: ChangeListener;
  /** Whether it needs the texts items had before a change (old_content). */
  readonly needsContent: boolean;
  close(): Promise<void>;
}

function amqpUrlProblem(endpoint: string): string | undefined {
  if (endpoint === '') return 'rabbitmq_endpoint is empty';
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'amqp:' && u.protocol !== 'amqps:') return `not an amqp:// or amqps:// URL`;
  } catch {
    return 'not a URL';
  }
  return undefined;
}

export function createHook(config: Config, log: Logger): Hook | undefined {
  const h = config.hook;
  switch (h.type) {
    case 'none':
      return undefined;
    case 'rabbitmq': {
      const problem = h.dryrun ? undefined : amqpUrlProblem(h.rabbitmq_endpoint);
      if (problem !== undefined) {
        log.warn(`[hook] type = rabbitmq: ${problem}; no change notifications are sent (type none)`);
        return undefined;
      }
      const hook = new RabbitMqHook({
        endpoint: h.rabbitmq_endpoint,
        topic: h.rabbitmq_topic,
        queueType: h.rabbitmq_queue_type,
        dryrun: h.dryrun,
        log,
      });
      hook.start();
      return { name: 'rabbitmq', listener: hook.listener, needsContent: true, close: () => hook.close() };
    }
    default:
      log.warn(
        `${noPluginsFor('hook', h.type, 'hook').message} No change notifications are sent (type none).`,
      );
      return undefined;
  }
}
