/**
 * Who is the real client? The TCP peer, unless the peer is a trusted reverse proxy: then the client is taken
 * from `Forwarded: for=` (RFC 7239) or `X-Forwarded-For`, walking the hops from the right and skipping the
 * ones that are themselves trusted proxies. Headers from an untrusted peer are ignored, since anyone can
 * send them.
 */
import { isIP } from 'node:net';

type Family = 4 | 6;

/** A parsed address or network: `bits` significant leading bits of `value`. */
export interface Cidr {
  readonly family: Family;
  readonly value: bigint;
  readonly bits: number;
  readonly text: string;
}

const WIDTH: Record<Family, number> = { 4: 32, 6: 128 };
const MAPPED_PREFIX = 0xffffn << 32n;

function ipv4ToBigint(addr: string): bigint {
  return addr.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigint(addr: string): bigint {
  let text = addr;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipv4ToBigint(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(fill).fill('0'), ...restGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Strips brackets and an IPv6 zone id; returns the address and its family, or undefined if not an IP. */
function cleanAddress(raw: string): { addr: string; family: Family } | undefined {
  let addr = raw.trim();
  if (addr.startsWith('[') && addr.endsWith(']')) addr = addr.slice(1, -1);
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  const family = isIP(addr);
  if (family === 4 || family === 6) return { addr, family };
  return undefined;
}

/** Parses `1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`; throws on anything else. */
export function parseCidr(text: string): Cidr {
  const [addrPart = '', bitsPart, extra] = text.trim().split('/');
  const parsed = cleanAddress(addrPart);
  if (!parsed || extra !== undefined) throw new Error(`invalid address or network '${text}'`);
  const width = WIDTH[parsed.family];
  const bits = bitsPart === undefined ? width : Number(bitsPart);
  if (!/^\d+$/.test(bitsPart ?? '0') || !Number.isInteger(bits) || bits < 0 || bits > width) {
    throw new Error(`invalid prefix length in '${text}'`);
  }
  const value = parsed.family === 4 ? ipv4ToBigint(parsed.addr) : ipv6ToBigint(parsed.addr);
  return { family: parsed.family, value, bits, text: text.trim() };
}

/** Parses `[server] trusted_proxies`; throws naming the bad entry. */
export function parseTrustedProxies(list: readonly string[]): Cidr[] {
  return list
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return parseCidr(s);
      } catch (err) {
        throw new Error(`[server] trusted_proxies: ${(err as Error).message}`, { cause: err });
      }
    });
}

function inNetwork(family: Family, value: bigint, net: Cidr): boolean {
  if (family !== net.family) return false;
  const shift = BigInt(WIDTH[family] - net.bits);
  return value >> shift === net.value >> shift;
}

/** The canonical form used for comparisons and logs: IPv4-mapped IPv6 becomes plain IPv4. */
export function normalizeAddress(raw: string): string {
  const parsed = cleanAddress(raw);
  if (!parsed) return raw.trim();
  if (parsed.family === 6) {
    const value = ipv6ToBigint(parsed.addr);
    if (value >> 32n === 0xffffn) {
      const v4 = value & 0xffffffffn;
      return [24n, 16n, 8n, 0n].map((s) => String((v4 >> s) & 0xffn)).join('.');
    }
  }
  return parsed.addr;
}

/** Is `address` (IPv4, IPv6 or IPv4-mapped IPv6) inside one of `networks`? */
export function matchesAny(address: string, networks: readonly Cidr[]): boolean {
  const parsed = cleanAddress(normalizeAddress(address));
  if (!parsed) return false;
  const value = parsed.family === 4 ? ipv4ToBigint(parsed.addr) : ipv6ToBigint(parsed.addr);
  return networks.some(
    (net) =>
      inNetwork(parsed.family, value, net) ||
      // An IPv4 client also matches a network written in IPv4-mapped IPv6 form.
      (parsed.family === 4 && inNetwork(6, MAPPED_PREFIX | value, net)),
  );
}

/** Hops of `X-Forwarded-For` (several headers are joined by Node with ', '), left = original client. */
export function parseXForwardedFor(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Strips quotes, brackets and a port from a `for=` node: `"[2001:db8::1]:4711"` -> `2001:db8::1`. */
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

/** The `for=` values of an RFC 7239 `Forwarded` header, one per element, left = original client. */
export function parseForwarded(value: string): string[] {
  const hops: string[] = [];
  for (const element of splitOutsideQuotes(value, ',')) {
    for (const pair of splitOutsideQuotes(element, ';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim().toLowerCase() === 'for') hops.push(forwardedNode(pair.slice(eq + 1)));
    }
  }
  return hops;
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
 * Walks the hops from the right: each trusted proxy is skipped, the first untrusted hop is the client. If
 * every hop is trusted, the leftmost one is. A hop that is not an IP address (`unknown`, `_hidden`) ends
 * the walk: the client stays the last trusted hop seen, as nothing left of it can be believed.
 */
function walkHops(peer: string, hops: readonly string[], trusted: readonly Cidr[]): string {
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] ?? '';
    if (!cleanAddress(hop)) break;
    client = normalizeAddress(hop);
    if (!matchesAny(client, trusted)) break;
  }
  return client;
}

export interface ClientAddress {
  readonly clientAddress: string;
  readonly peerTrusted: boolean;
}

/**
 * Decides the client address of a request from its peer address and forwarding headers. `peerVerified`: the
 * peer presented a client certificate verified against certificate_authority, which vouches for its headers
 * as much as an address in trusted_proxies does.
 */
export function resolveClientAddress(
  peerAddress: string,
  headers: { readonly [name: string]: string | string[] | undefined },
  trusted: readonly Cidr[],
  peerVerified = false,
): ClientAddress {
  const peer = normalizeAddress(peerAddress);
  const peerTrusted = matchesAny(peer, trusted);
  if (!peerTrusted && !peerVerified) return { clientAddress: peer, peerTrusted };
  const join = (v: string | string[] | undefined): string | undefined =>
    Array.isArray(v) ? v.join(', ') : v;
  const forwarded = join(headers['forwarded']);
  const xff = join(headers['x-forwarded-for']);
  // The standard header wins when a proxy sends both.
  const hops = forwarded ? parseForwarded(forwarded) : xff ? parseXForwardedFor(xff) : [];
  return { clientAddress: walkHops(peer, hops, trusted), peerTrusted };
}
