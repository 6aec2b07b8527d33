/**
 * [auth] type = dovecot: the Dovecot authentication protocol (auth-client, version 1) over the unix
 * socket or TCP: the server announces VERSION/MECH/.../DONE, we send VERSION and CPID, then one
 * `AUTH <id> PLAIN service=radicale resp=<base64>` and read OK or FAIL for that id.
 */
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { FAILED, type PasswordBackend } from '../backend.js';
import { LineSocket } from './line-socket.js';

const TIMEOUT_MS = 10_000;

export type DovecotTarget = { readonly path: string } | { readonly host: string; readonly port: number };

export function createDovecotBackend(config: Config, log: Logger): Promise<PasswordBackend> {
  const a = config.auth;
  const target: DovecotTarget =
    a.dovecot_connection_type === 'AF_UNIX'
      ? { path: a.dovecot_socket }
      : { host: a.dovecot_host, port: a.dovecot_port };
  let nextId = 1;
  return Promise.resolve({
    cacheable: true,
    async login(user, password, ctx) {
      nextId = (nextId % 1_000_000) + 1;
      try {
        return (await dovecotLogin(target, user, password, ctx.clientAddress, nextId))
          ? { ok: true }
          : FAILED;
      } catch (err) {
        log.error({ err }, `dovecot: ${String(err)}`);
        return FAILED;
      }
    },
    close: () => Promise.resolve(),
  });
}

function open(target: DovecotTarget): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    socket.once('connect', () => resolveSocket(socket));
    socket.once('error', reject);
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('timeout')));
  });
}

export async function dovecotLogin(
  target: DovecotTarget,
  user: string,
  password: string,
  clientAddress: string,
  id: number,
): Promise<boolean> {
  if (/[\t\n\0]/.test(user) || /[\0]/.test(password)) return false;
  const conn = new LineSocket(await open(target), TIMEOUT_MS);
  try {
    conn.write(`VERSION\t1\t1\nCPID\t${process.pid}\n`);
    const mechs = new Set<string>();
    for (;;) {
      const fields = (await conn.readLine()).split('\t');
      if (fields[0] === 'VERSION' && fields[1] !== '1')
        throw new Error(`unsupported protocol version ${fields[1] ?? ''}`);
      if (fields[0] === 'MECH' && fields[1] !== undefined) mechs.add(fields[1].toUpperCase());
      if (fields[0] === 'DONE') break;
    }
    if (!mechs.has('PLAIN')) throw new Error('the dovecot auth server does not offer PLAIN');
    const resp = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    const rip = /^[0-9a-fA-F.:]+$/.test(clientAddress) ? `\trip=${clientAddress}` : '';
    conn.write(`AUTH\t${id}\tPLAIN\tservice=radicale${rip}\tresp=${resp}\n`);
    for (;;) {
      const fields = (await conn.readLine()).split('\t');
      if (fields[1] !== String(id)) continue;
      if (fields[0] === 'OK') return true;
      if (fields[0] === 'FAIL' || fields[0] === 'CONT') return false;
    }
  } finally {
    conn.close();
  }
}
