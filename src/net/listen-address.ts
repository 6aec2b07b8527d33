/**
 * A `[server] hosts` entry: `host:port`, `1.2.3.4:5232`, `[::1]:5232`. One parser for the config
 * loader (which refuses an entry when the file is read, with its file and line) and the server (which
 * binds what it parses).
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses one entry (already trimmed); throws an Error naming the entry when it is not one. */
export function parseListenAddress(entry: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(entry) ?? /^([^:[\]]+):(\d+)$/.exec(entry);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new Error(`[server] hosts: invalid entry '${entry}' (expected host:port, or [ipv6]:port)`);
  }
  if (entry.startsWith('[') && isIP(host) !== 6)
    throw new Error(`[server] hosts: '${host}' is not an IPv6 address`);
  return { host, port };
}
