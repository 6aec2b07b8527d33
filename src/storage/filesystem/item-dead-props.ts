/**
 * Dead properties of items (PROPPATCH on an item), kept in the collection's item-props file.
 */
import { type Props, StorageError } from '../types.js';
import type { ItemCollectionCheck } from '../backend.js';
import { checkName } from '../names.js';
import { propsOf, readItemProps, updateItemProps } from './item-props.js';
import type { StoreContext } from './context.js';
import { requireItemCollection } from './collections-read.js';

export async function getItemProps(store: StoreContext, path: string, href: string): Promise<Props> {
  checkName(href);
  return store.withLock([{ path, mode: 'read' }], async () =>
    propsOf(await readItemProps(store.dirOf(path)), href),
  );
}

export async function setItemProps(
  store: StoreContext,
  path: string,
  href: string,
  props: Props,
  collection: ItemCollectionCheck,
): Promise<void> {
  await store.withLock([{ path, mode: 'write' }], async () => {
    const dir = store.dirOf(path);
    if (
      (await store.index(path).get(href, (await requireItemCollection(store, path, collection)).tag)) ===
      undefined
    ) {
      throw new StorageError('not-found', `item ${path}/${href} not found`);
    }
    await store.underFolderLock(() =>
      updateItemProps(dir, store.fsOpts, (m) => {
        m.set(href, { ...props });
        return true;
      }),
    );
  });
}
