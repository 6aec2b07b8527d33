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
import { BlockList } from 'node:net';
import { cleanAddress, normalizeAddress } from '../net/address.js';

export { clientBlock, normalizeAddress } from '../net/address.js';

/** A set of addresses and networks (e.g. `[server] trusted_proxies`), with the entries as written. */
export interface NetworkList {
  readonly entries: readonly string[];
  readonly blocks: BlockList;
}

/** Adds `1.2.3.4`, `10.0.0.0/8`, `::1` or `fd00::/8` to `blocks`; throws on anything else. */
function addEntry(blocks: BlockList, text: string): void {
  const [addrPart = '', bitsPart, extra] = text.trim().split('/');
  const parsed = cleanAddress(addrPart);
  if (!parsed || extra !== undefined) throw new Error(`invalid address or network '${text}'`);
  const width = parsed.family === 4 ? 32 : 128;
  const bits = bitsPart === undefined ? width : Number(bitsPart);
  if (!/^\d+$/.test(bitsPart ?? '0') || !Number.isInteger(bits) || bits > width) {
    throw new Error(`invalid prefix length in '${text}'`);
  }
  blocks.addSubnet(parsed.addr, bits, parsed.family === 4 ? 'ipv4' : 'ipv6');
}

/** Parses a list of addresses and networks; throws naming the bad entry. */
export function parseNetworks(list: readonly string[]): NetworkList {
  const blocks = new BlockList();
  const entries = list.map((s) => s.trim()).filter((s) => s !== '');
  for (const entry of entries) addEntry(blocks, entry);
  return { entries, blocks };
}

/** Parses `[server] trusted_proxies`; throws naming the bad entry. */
export function parseTrustedProxies(list: readonly string[]): NetworkList {
  try {
    return parseNetworks(list);
  } catch (err) {
    throw new Error(`[server] trusted_proxies: ${(err as Error).message}`, { cause: err });
  }
}

/** Is `address` (IPv4, IPv6 or IPv4-mapped IPv6) inside one of the networks? */
export function matchesAny(address: string, networks: NetworkList): boolean {
  const parsed = cleanAddress(address);
  if (!parsed) return false;
  return networks.blocks.check(parsed.addr, parsed.family === 4 ? 'ipv4' : 'ipv6');
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
