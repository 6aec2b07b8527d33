/**
 * [auth] type = imap: a login succeeds when the IMAP server accepts the credentials (RFC 9051 / 3501).
 * Own minimal client: greeting, optional STARTTLS, CAPABILITY, AUTHENTICATE PLAIN (RFC 4616) when offered,
 * else LOGIN (refused when the server says LOGINDISABLED), then LOGOUT.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { FAILED, type PasswordBackend } from '../backend.js';
import { LineSocket } from './line-socket.js';

const TIMEOUT_MS = 10_000;

export interface ImapTarget {
  readonly host: string;
  readonly port: number;
  readonly security: 'tls' | 'starttls' | 'none';
}

/** `host`, `host:port` or `[v6]:port`; default port 993 with tls, else 143. */
export function parseImapHost(value: string, security: ImapTarget['security']): ImapTarget {
  const fallback = security === 'tls' ? 993 : 143;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (v6 !== null)
    return { host: v6[1] ?? '', port: v6[2] !== undefined ? Number(v6[2]) : fallback, security };
  const parts = /^([^:]+)(?::(\d+))?$/.exec(value);
  if (parts === null) throw new Error(`[auth] imap_host: cannot parse ${JSON.stringify(value)}`);
  return { host: parts[1] ?? '', port: parts[2] !== undefined ? Number(parts[2]) : fallback, security };
}

export function createImapBackend(config: Config, log: Logger): Promise<PasswordBackend> {
  const security = config.auth.imap_security as ImapTarget['security'];
  const target = parseImapHost(config.auth.imap_host, security);
  const domain = config.auth.imap_append_domain;
  return Promise.resolve({
    cacheable: true,
    async login(user, password) {
      const login = domain !== '' && !user.includes('@') ? `${user}@${domain}` : user;
      try {
        return (await imapLogin(target, login, password)) ? { ok: true } : FAILED;
      } catch (err) {
        log.error({ err }, `imap: ${target.host}:${target.port}: ${String(err)}`);
        return FAILED;
      }
    },
    close: () => Promise.resolve(),
  });
}

function open(target: ImapTarget): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const onError = (err: Error) => reject(err);
    const socket =
      target.security === 'tls'
        ? tlsConnect({ host: target.host, port: target.port, servername: target.host }, () =>
            resolveSocket(socket),
          )
        : netConnect({ host: target.host, port: target.port }, () => resolveSocket(socket));
    socket.once('error', onError);
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('timeout')));
  });
}

function upgrade(socket: Socket, host: string): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const secure = tlsConnect({ socket, servername: host }, () => resolveSocket(secure));
    secure.once('error', reject);
  });
}

/** Sends a tagged command and returns [untagged lines, tagged status line]. */
async function command(conn: LineSocket, tag: string, text: string): Promise<[string[], string]> {
  conn.write(`${tag} ${text}\r\n`);
  return readUntilTag(conn, tag);
}

async function readUntilTag(conn: LineSocket, tag: string): Promise<[string[], string]> {
  const untagged: string[] = [];
  for (;;) {
    const line = await conn.readLine();
    if (line.startsWith(`${tag} `)) return [untagged, line.slice(tag.length + 1)];
    untagged.push(line);
  }
}

function isOk(status: string): boolean {
  return /^OK\b/i.test(status);
}

function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export async function imapLogin(target: ImapTarget, user: string, password: string): Promise<boolean> {
  if (/[\r\n\0]/.test(user + password)) return false;
  const conn = new LineSocket(await open(target), TIMEOUT_MS);
  try {
    const greeting = await conn.readLine();
    if (!/^\* (OK|PREAUTH)\b/i.test(greeting))
      throw new Error(`unexpected greeting ${JSON.stringify(greeting)}`);
    if (target.security === 'starttls') {
      const [, status] = await command(conn, 'a1', 'STARTTLS');
      if (!isOk(status)) throw new Error('STARTTLS refused');
      conn.replace(await upgrade(conn.socket, target.host));
    }
    const [lines, capStatus] = await command(conn, 'a2', 'CAPABILITY');
    if (!isOk(capStatus)) throw new Error('CAPABILITY failed');
    const caps = new Set(
      lines.filter((l) => /^\* CAPABILITY /i.test(l)).flatMap((l) => l.toUpperCase().split(' ')),
    );
    let accepted: boolean;
    if (caps.has('AUTH=PLAIN')) {
      conn.write('a3 AUTHENTICATE PLAIN\r\n');
      const cont = await conn.readLine();
      if (!cont.startsWith('+')) return false;
      conn.write(`${Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64')}\r\n`);
      accepted = isOk((await readUntilTag(conn, 'a3'))[1]);
    } else if (caps.has('LOGINDISABLED')) {
      throw new Error(
        'the server refuses LOGIN on this connection (LOGINDISABLED); use imap_security = tls or starttls',
      );
    } else {
      accepted = isOk((await command(conn, 'a3', `LOGIN ${quoted(user)} ${quoted(password)}`))[1]);
    }
    await command(conn, 'a4', 'LOGOUT').catch(() => undefined);
    return accepted;
  } finally {
    conn.close();
  }
}
