/**
 * Who is the real client? The TCP peer, unless the peer is a trusted reverse proxy: then the client is the
 * last hop of the one forwarding header that proxy is configured to set (`[server] client_address_header`,
 * default `X-Forwarded-For`). Only that hop was written by the proxy itself; everything left of it, and
 * every other forwarding header, may come from the client and is ignored. Headers from an untrusted peer
 * are ignored altogether, since anyone can send them.
 *
 * Network arithmetic is Node's `net.BlockList`, which also matches IPv4-mapped IPv6 addresses
 * (`::ffff:127.0.0.1`) against IPv4 networks and the other way round.
 */
import { cleanAddress, normalizeAddress } from '../net/address.js';
import { matchesAny, parseNetworks, type NetworkList } from '../net/networks.js';

export { clientBlock, normalizeAddress } from '../net/address.js';
export { matchesAny, parseNetworks, type NetworkList } from '../net/networks.js';

/** Parses `[server] trusted_proxies`; throws naming the bad entry. */
export function parseTrustedProxies(list: readonly string[]): NetworkList {
  try {
    return parseNetworks(list);
  } catch (err) {
    throw new Error(`[server] trusted_proxies: ${(err as Error).message}`, { cause: err });
  }
}

/** Hops of `X-Forwarded-For` (several headers are joined by Node with ', '), left = original client. */
export function parseXForwardedFor(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Strips quotes, brackets and a port from a node: `"[2001:db8::1]:4711"` -> `2001:db8::1`. */
function forwardedNode(raw: string): string {
  let node = raw.trim();
  if (node.startsWith('"') && node.endsWith('"') && node.length >= 2) node = node.slice(1, -1);
  if (node.startsWith('[')) {
    const end = node.indexOf(']');
    return end > 0 ? node.slice(1, end) : node;
  }
  const colon = node.indexOf(':');
  // One colon = IPv4 (or name) with a port; more than one is a bare IPv6 sent without brackets.
  if (colon >= 0 && colon === node.lastIndexOf(':')) return node.slice(0, colon);
  return node;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/**
 * The `for=` value of each element of an RFC 7239 `Forwarded` header, left = original client; an element
 * without `for=` gives ''.
 */
export function parseForwarded(value: string): string[] {
  return splitOutsideQuotes(value, ',').map((element) => {
    for (const pair of splitOutsideQuotes(element, ';')) {
      const eq = pair.indexOf('=');
      if (eq >= 0 && pair.slice(0, eq).trim().toLowerCase() === 'for')
        return forwardedNode(pair.slice(eq + 1));
    }
    return '';
  });
}

/** `[server] client_address_header`: which header the trusted proxy sets; '' = believe none. */
export function parseClientAddressHeader(value: string): string {
  const name = value.trim();
  if (name !== '' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new Error(`[server] client_address_header: '${value}' is not a header name`);
  }
  return name.toLowerCase();
}

export interface ForwardingPolicy {
  /** Peers whose forwarding headers are believed. */
  readonly trusted: NetworkList;
  /** Lower-case name of the one header that carries the client address ('' = none). */
  readonly header: string;
}

export interface ClientAddress {
  readonly clientAddress: string;
  readonly peerTrusted: boolean;
}

/** The last hop of the configured header, as the trusted proxy wrote it; undefined if absent or not an IP. */
function lastHop(value: string, header: string): string | undefined {
  const hops = header === 'forwarded' ? parseForwarded(value) : parseXForwardedFor(value).map(forwardedNode);
  const hop = hops.at(-1);
  return hop !== undefined && cleanAddress(hop) ? normalizeAddress(hop) : undefined;
}

/**
 * Decides the client address of a request from its peer address and forwarding headers. `peerVerified`: the
 * peer presented a client certificate verified against certificate_authority, which vouches for its headers
 * as much as an address in trusted_proxies does.
 */
export function resolveClientAddress(
  peerAddress: string,
  headers: { readonly [name: string]: string | string[] | undefined },
  policy: ForwardingPolicy,
  peerVerified = false,
): ClientAddress {
  const peer = normalizeAddress(peerAddress);
  const peerTrusted = matchesAny(peer, policy.trusted);
  if ((!peerTrusted && !peerVerified) || policy.header === '') return { clientAddress: peer, peerTrusted };
  const raw = headers[policy.header];
  const value = Array.isArray(raw) ? raw.join(', ') : raw;
  const hop = value === undefined ? undefined : lastHop(value, policy.header);
  return { clientAddress: hop ?? peer, peerTrusted };
}
