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
import { EmailHook, unknownTemplateVariables } from './email.js';
import type { SmtpSecurity, SmtpVerifyMode } from '../../mail/smtp.js';

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
    case 'email': {
      const templates = {
        added: h.new_or_added_to_event_template,
        deleted: h.deleted_or_removed_from_event_template,
        updated: h.updated_event_template,
      };
      const problems: string[] = [];
      for (const [option, t] of [
        ['new_or_added_to_event_template', templates.added],
        ['deleted_or_removed_from_event_template', templates.deleted],
        ['updated_event_template', templates.updated],
      ] as const) {
        const bad = unknownTemplateVariables(t);
        if (bad.length > 0) problems.push(`${option} uses ${bad.map((v) => `$${v}`).join(', ')}`);
      }
      if (!h.dryrun && h.smtp_server === '') problems.push('smtp_server is empty');
      if (h.smtp_port !== '' && !/^\d+$/.test(h.smtp_port.trim())) problems.push('smtp_port is not a number');
      if (problems.length > 0) {
        log.warn(
          `[hook] type = email: ${problems.join('; ')} (the placeholders are ` +
            '$organizer_name, $from_email, $attendee_name, $event_title, $event_start_time, $event_end_time, ' +
            '$event_location); no change notifications are sent (type none)',
        );
        return undefined;
      }
      const hook = new EmailHook({
        server: h.smtp_server,
        port: h.smtp_port.trim(),
        security: h.smtp_security as SmtpSecurity,
        verifyMode: h.smtp_ssl_verify_mode as SmtpVerifyMode,
        username: h.smtp_username,
        password: h.smtp_password,
        fromEmail: h.from_email,
        massEmail: h.mass_email,
        dryrun: h.dryrun,
        templates,
        log,
      });
      log.info(
        `Email hook: SMTP ${h.smtp_server}${h.smtp_port !== '' ? `:${h.smtp_port}` : ''} (${h.smtp_security}), ` +
          `from ${h.from_email}, mass_email ${h.mass_email ? 'True' : 'False'}${h.dryrun ? ', dry run' : ''}`,
      );
      return { name: 'email', listener: hook.listener, needsContent: true, close: () => hook.close() };
    }
    default:
      log.warn(
        `${noPluginsFor('hook', h.type, 'hook').message} No change notifications are sent (type none).`,
      );
      return undefined;
  }
}
