/**
 * IP address text, shared by the HTTP layer (client address, trusted proxies) and the login throttle:
 * cleaning (`[::1]`, zone ids), the canonical form (IPv4-mapped IPv6 as IPv4), and the block a client
 * is counted under (an IPv6 /64).
 */
import { isIP } from 'node:net';

export type Family = 4 | 6;

/** Strips brackets and an IPv6 zone id; returns the address and its family, or undefined if not an IP. */
export function cleanAddress(raw: string): { addr: string; family: Family } | undefined {
  let addr = raw.trim();
  if (addr.startsWith('[') && addr.endsWith(']')) addr = addr.slice(1, -1);
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  const family = isIP(addr);
  if (family === 4 || family === 6) return { addr, family };
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail counts as two). */
function ipv6Groups(addr: string): number[] {
  let text = addr;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  return [...headGroups, ...Array<string>(fill).fill('0'), ...restGroups].map((g) => parseInt(g, 16));
}

/** The canonical form used for comparisons and logs: IPv4-mapped IPv6 becomes plain IPv4. */
export function normalizeAddress(raw: string): string {
  const parsed = cleanAddress(raw);
  if (!parsed) return raw.trim();
  if (parsed.family === 6) {
    const g = ipv6Groups(parsed.addr);
    if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
      const [hi = 0, lo = 0] = g.slice(6);
      return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
    }
  }
  return parsed.addr;
}

/**
 * The address block a client is counted under (failed-login throttling): an IPv4 address itself, the /64
 * of an IPv6 address (one subscriber usually gets a whole /64, so its addresses are one client).
 */
export function clientBlock(address: string): string {
  const normalized = normalizeAddress(address);
  const parsed = cleanAddress(normalized);
  if (parsed?.family !== 6) return normalized;
  const g = ipv6Groups(parsed.addr);
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}
