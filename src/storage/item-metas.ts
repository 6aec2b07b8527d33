/** getItemMetas for a backend whose getItemMeta is already cheap: one lookup per href. */
import { StorageError, type ItemMeta } from './types.js';

export async function metasOneByOne(
  getItemMeta: (path: string, href: string) => Promise<ItemMeta | undefined>,
  path: string,
  hrefs: readonly string[],
): Promise<ItemMeta[]> {
  const out: ItemMeta[] = [];
  for (const href of hrefs) {
    try {
      const meta = await getItemMeta(path, href);
      if (meta !== undefined) out.push(meta);
    } catch (e) {
      if (e instanceof StorageError && e.code === 'invalid-name') continue;
      throw e;
    }
  }
  return out;
}
