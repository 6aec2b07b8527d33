/**
 * Which proxies are trusted, and start-up warnings about risky deployments. Header authentication (the proxy
 * logs users in and names them in a header) is only as safe as the check on who sends that header: the
 * default `trusted_proxies` (all of loopback) would let any process on the machine name any user, so with
 * header authentication and no `trusted_proxies` set in the configuration, no proxy is trusted (only a peer
 * with a verified client certificate may send the header) and the start-up log says how to change it. On a
 * listener other clients can reach, without a client-certificate check, the address list is the only defence.
 */
import { isIP } from 'node:net';
import { identityHeader, isHeaderAuth } from '../auth/header-auth.js';
import type { Config } from '../config/schema.js';
import { matchesAny, parseNetworks } from './client-address.js';

const LOOPBACK = parseNetworks(['127.0.0.0/8', '::1']);

type Checked = Pick<Config, 'auth' | 'server' | 'sources'>;

const headerAuth = (config: Pick<Config, 'auth'>): boolean => isHeaderAuth(config.auth.type);
const trustedProxiesSet = (config: Pick<Config, 'sources'>): boolean =>
  (config.sources['server.trusted_proxies'] ?? 'default') !== 'default';
const clientCertChecked = (config: Pick<Config, 'server'>): boolean =>
  config.server.ssl && config.server.certificate_authority !== '';

/**
 * The `[server] trusted_proxies` in force: as configured, except that header authentication without the
 * option set trusts no address (the default, all of loopback, would trust every local process).
 */
export function trustedProxyList(config: Checked): readonly string[] {
  if (headerAuth(config) && !trustedProxiesSet(config)) return [];
  return config.server.trusted_proxies;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
}

/** Only loopback addresses are private to this machine; wildcards (0.0.0.0, ::) and names are not. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || matchesAny(host, LOOPBACK);
}

/** The warnings to log for this configuration and the addresses actually bound (empty when all is well). */
export function headerAuthWarnings(config: Checked, listeners: readonly Listener[]): string[] {
  if (!headerAuth(config)) return [];
  // With a client-certificate check, the verified proxy is trusted whatever its address: all is well.
  if (clientCertChecked(config)) return [];
  if (!trustedProxiesSet(config)) return [noTrustedProxyWarning(config)];
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

function noTrustedProxyWarning(config: Checked): string {
  const header = identityHeader(config.auth.type) ?? 'identity';
  return (
    `[auth] type = ${config.auth.type} takes the user name from the ${header} header, and [server] ` +
    'trusted_proxies is not set, so no address is trusted to send it: every request carrying it is ' +
    'refused (403). Set [server] trusted_proxies to the address ' +
    `your reverse proxy connects from (e.g. trusted_proxies = 127.0.0.1, or 127.0.0.2 with nginx's ` +
    `proxy_bind 127.0.0.2 so that other local processes are not trusted), or have the proxy present a ` +
    'client certificate ([server] ssl + certificate_authority).'
  );
}

/** Logs each warning of headerAuthWarnings; call once the listeners are bound. */
export function warnAboutHeaderAuth(
  config: Checked,
  listeners: readonly Listener[],
  log: { warn(msg: string): void },
): void {
  for (const warning of headerAuthWarnings(config, listeners)) log.warn(warning);
}
