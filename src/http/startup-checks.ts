/**
 * Start-up warnings about risky deployments. Header authentication (the proxy logs users in and names them in
 * a header) is only as safe as the check on who sends that header: on a listener other clients can reach,
 * without a client-certificate check, Almanac's only defence is the `trusted_proxies` address list.
 */
import { isIP } from 'node:net';
import type { Config } from '../config/schema.js';
import { matchesAny, parseCidr } from './client-address.js';

/** `[auth] type`s that take the user from a header set by a reverse proxy. */
const HEADER_AUTH_TYPES = new Set(['http_x_remote_user', 'http_remote_user', 'remote_user']);

const LOOPBACK = [parseCidr('127.0.0.0/8'), parseCidr('::1')];

export interface Listener {
  readonly host: string;
  readonly port: number;
}

/** Only loopback addresses are private to this machine; wildcards (0.0.0.0, ::) and names are not. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || matchesAny(host, LOOPBACK);
}

/** The warnings to log for this configuration and the addresses actually bound (empty when all is well). */
export function headerAuthWarnings(
  config: Pick<Config, 'auth' | 'server'>,
  listeners: readonly Listener[],
): string[] {
  if (!HEADER_AUTH_TYPES.has(config.auth.type)) return [];
  const clientCertChecked = config.server.ssl && config.server.certificate_authority !== '';
  if (clientCertChecked) return [];
  return listeners
    .filter((l) => !isLoopbackHost(l.host))
    .map(
      (l) =>
        `[auth] type = ${config.auth.type} on ${isIP(l.host) === 6 ? `[${l.host}]` : l.host}:${l.port}, which is not a loopback address, ` +
        'without a client-certificate check ([server] ssl + certificate_authority): the user name is taken ' +
        `from a header that only the addresses in [server] trusted_proxies ` +
        `(${config.server.trusted_proxies.join(', ')}) are believed to send. Listen on 127.0.0.1 behind the ` +
        'proxy, or require the proxy to present a client certificate.',
    );
}

/** Logs each warning of headerAuthWarnings; call once the listeners are bound. */
export function warnAboutHeaderAuth(
  config: Pick<Config, 'auth' | 'server'>,
  listeners: readonly Listener[],
  log: { warn(msg: string): void },
): void {
  for (const warning of headerAuthWarnings(config, listeners)) log.warn(warning);
}
