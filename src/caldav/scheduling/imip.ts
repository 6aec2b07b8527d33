/**
 * iMIP (RFC 6047): iTIP messages to calendar users outside this server, by mail. The interface the
 * scheduling code sends through; the SMTP implementation is imip-smtp.ts, NO_MAILER sends nothing.
 */
import type { DavRequest } from '../../dav/context.js';
import type { Method } from './itip.js';

export interface OutgoingMessage {
  /** The ORGANIZER (REQUEST, CANCEL) or ATTENDEE (REPLY) address the message is from. */
  readonly from: string;
  /** The recipient's calendar user address (mailto:). */
  readonly to: string;
  readonly method: Method;
  /** The iTIP message (a VCALENDAR with METHOD). */
  readonly text: string;
  /** The SCHEDULE-STATUS written into the organizer's copy before sending. */
  readonly predicted: string;
}

export interface Mailer {
  /** Whether mail can be sent at all (an SMTP server is configured). */
  readonly configured: boolean;
  /**
   * Sends the message; returns its SCHEDULE-STATUS (1.1 sent, 1.0 still pending, 5.1 not sent, 5.3
   * over the sender's rate limit). Never throws, and returns within a bounded time (the PUT or DELETE
   * that caused the message waits for it).
   */
  send(req: DavRequest, message: OutgoingMessage): Promise<string>;
  close(): Promise<void>;
}

export const NO_MAILER: Mailer = {
  configured: false,
  send: (req, m) => {
    req.log.info(`scheduling: no SMTP server configured, ${m.method} to ${m.to} not sent`);
    return Promise.resolve('5.1');
  },
  close: () => Promise.resolve(),
};
