/**
 * Sets of IP addresses and networks (`[server] trusted_proxies`, the loopback check at start-up, the
 * `host` token of `[logging] *_on_notice_condition`). The arithmetic is Node's `net.BlockList`, which
 * also matches IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) against IPv4 networks and back.
 */
import { BlockList } from 'node:net';
import { cleanAddress } from './address.js';

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

/** Is `address` (IPv4, IPv6 or IPv4-mapped IPv6) inside one of the networks? */
export function matchesAny(address: string, networks: NetworkList): boolean {
  const parsed = cleanAddress(address);
  if (!parsed) return false;
  return networks.blocks.check(parsed.addr, parsed.family === 4 ? 'ipv4' : 'ipv6');
}
