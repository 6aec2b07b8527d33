/**
 * The one SMTP transport construction (nodemailer) of the server, from Radicale's `smtp_*` options:
 * the `[hook] type = email` change hook and iMIP mail of `[scheduling]` both send through it.
 */
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';

export type SmtpSecurity = 'none' | 'tls' | 'starttls';
export type SmtpVerifyMode = 'NONE' | 'OPTIONAL' | 'REQUIRED';

export interface SmtpOptions {
  readonly server: string;
  /** '' = the default port of `security` (25, or 465 for tls). */
  readonly port: string;
  readonly security: SmtpSecurity;
  readonly verifyMode: SmtpVerifyMode;
  /** A login is made only when both are set (as Radicale's hook). */
  readonly username: string;
  readonly password: string;
}

export interface SmtpTimeouts {
  /** Milliseconds to wait for the TCP connection, the greeting, and a silent socket. */
  readonly connection: number;
  readonly greeting: number;
  readonly socket: number;
}

const DEFAULT_TIMEOUTS: SmtpTimeouts = { connection: 30_000, greeting: 30_000, socket: 60_000 };

/** The port a `smtp_port` value and `smtp_security` mean. */
export function smtpPort(options: Pick<SmtpOptions, 'port' | 'security'>): number {
  return options.port === '' ? (options.security === 'tls' ? 465 : 25) : Number(options.port);
}

export function createSmtpTransport(
  options: SmtpOptions,
  timeouts: SmtpTimeouts = DEFAULT_TIMEOUTS,
): Transporter {
  const verify = options.verifyMode !== 'NONE';
  return nodemailer.createTransport({
    host: options.server,
    port: smtpPort(options),
    secure: options.security === 'tls',
    // none: plain SMTP, no STARTTLS even when offered (smtplib.SMTP); starttls: required.
    ignoreTLS: options.security === 'none',
    requireTLS: options.security === 'starttls',
    tls: {
      rejectUnauthorized: verify,
      ...(verify ? {} : { checkServerIdentity: () => undefined }),
    },
    ...(options.username !== '' && options.password !== ''
      ? { auth: { user: options.username, pass: options.password } }
      : {}),
    connectionTimeout: timeouts.connection,
    greetingTimeout: timeouts.greeting,
    socketTimeout: timeouts.socket,
  });
}
