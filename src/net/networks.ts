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

/** Answers per list and address (a list never changes): most requests come from a few peers. */
const answers = new WeakMap<NetworkList, Map<string, boolean>>();
/** Addresses remembered per list (the map is emptied when it reaches this). */
const ANSWERS_LIMIT = 1024;

/** Is `address` (IPv4, IPv6 or IPv4-mapped IPv6) inside one of the networks? */
export function matchesAny(address: string, networks: NetworkList): boolean {
  // Every request asks about its peer (trusted_proxies): parsing and BlockList.check cost
  // microseconds, an empty list or a known address nothing.
  if (networks.entries.length === 0) return false;
  let known = answers.get(networks);
  if (known === undefined) {
    known = new Map();
    answers.set(networks, known);
  }
  let answer = known.get(address);
  if (answer === undefined) {
    const parsed = cleanAddress(address);
    answer = parsed ? networks.blocks.check(parsed.addr, parsed.family === 4 ? 'ipv4' : 'ipv6') : false;
    if (known.size >= ANSWERS_LIMIT) known.clear();
    known.set(address, answer);
  }
  return answer;
}
