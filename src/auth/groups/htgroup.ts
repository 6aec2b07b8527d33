/**
 * [group] type = htgroup: an Apache group file, `group: user1 user2` per line, `#` comments. A group may
 * appear on several lines (Apache merges them). htgroup_cache keeps it until its size or mtime changes.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { stockEncoding } from '../../storage/filesystem/stock-encoding.js';
import type { GroupSource } from './types.js';

/** user → groups. */
export type GroupTable = ReadonlyMap<string, ReadonlySet<string>>;

export function parseHtgroup(text: string, source: string): GroupTable {
  const table = new Map<string, Set<string>>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`${source}, line ${index + 1}: expected 'group: user1 user2'`);
    const group = line.slice(0, colon).trim();
    for (const user of line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)) {
      if (user === '') continue;
      let groups = table.get(user);
      if (groups === undefined) table.set(user, (groups = new Set()));
      groups.add(group);
    }
  });
  return table;
}

export async function createHtgroupSource(
  filename: string,
  cache: boolean,
  log: Logger,
  encoding = 'utf-8',
): Promise<GroupSource> {
  // Read in [encoding] stock, as Radicale reads it (and as the htpasswd file is read).
  const stock = stockEncoding(encoding);
  let table: GroupTable = new Map();
  let stamp = '';
  const load = async (): Promise<GroupTable> => {
    const st = await stat(filename, { bigint: true });
    const now = `${st.size}:${st.mtimeNs}`;
    if (cache && now === stamp) return table;
    table = parseHtgroup(stock.decode(await readFile(filename)), filename);
    stamp = now;
    return table;
  };
  await load(); // a missing or broken file is a start-up error
  const empty: ReadonlySet<string> = new Set();
  return {
    async groupsOf(user) {
      try {
        return (await load()).get(user) ?? empty;
      } catch (err) {
        log.error({ err }, `htgroup: cannot read ${filename}: ${String(err)}`);
        return empty;
      }
    },
  };
}
