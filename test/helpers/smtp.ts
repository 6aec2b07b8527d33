/**
 * A real SMTP server (the smtp-server package) on 127.0.0.1 for tests: it keeps every message it
 * receives, parsed with mailparser, with its envelope; refuses the recipients in `refuse`; records
 * logins. `options` go to smtp-server (TLS keys, secure, ...); STARTTLS is off unless a key is given.
 */
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { freePort } from './net.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  mail: ParsedMail;
}

export interface TestSmtp {
  port: number;
  received: ReceivedMail[];
  /** `user:password` of each login. */
  logins: string[];
  close(): Promise<void>;
}

export async function startSmtpServer(
  opts: { refuse?: readonly string[]; options?: Partial<SMTPServerOptions> } = {},
): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const logins: string[] = [];
  const options = opts.options ?? {};
  const refuse = opts.refuse ?? [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.secure || options.key ? [] : ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      logins.push(`${auth.username ?? ''}:${auth.password ?? ''}`);
      cb(null, { user: auth.username });
    },
    onRcptTo(address, _session, cb) {
      if (refuse.includes(address.address)) cb(new Error('550 no such user here'));
      else cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        void simpleParser(raw).then((mail) => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            mail,
          });
          cb();
        }, cb);
      });
    },
    ...options,
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    received,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
