/**
 * Publishes a `Change` (./changes.ts) for every write made through a Storage: wraps any backend
 * (filesystem, PostgreSQL), so both publish the same changes with no code of their own. A change is
 * published after the backend's write returned (it is durable), before the caller sees the result;
 * publishing only queues it. A write that fails publishes nothing.
 *
 * When a subscriber asked for content (`wantsContent`), the text an item had before it is replaced or
 * deleted is read just before the write. That read is not under the write's lock: when another
 * write came in between (the ETag the write's check saw differs from the one read), the previous
 * text is left out (debug log) rather than reported wrong.
 */
import type { Logger } from 'pino';
import type {
  ChangeContext,
  CollectionInfo,
  Item,
  ItemMeta,
  NewItem,
  NewItems,
  Props,
  PropsUpdate,
  Storage,
  WriteCheck,
} from '../storage/types.js';
import type { ChangeHub, ChangedItem } from './changes.js';
import { tapItems } from '../storage/new-items.js';

type Base = Pick<ChangeContext, 'user' | 'actor' | 'request' | 'path'>;

function who(ctx: Base): { user: string; actor?: string; method: string; requestPath: string } {
  return {
    user: ctx.user,
    ...(ctx.actor !== undefined ? { actor: ctx.actor } : {}),
    method: ctx.request,
    requestPath: ctx.path,
  };
}

async function collect(items: AsyncIterable<Item>): Promise<Item[]> {
  const out: Item[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A WriteCheck that also remembers the ETag of the target the last (locked) run saw. */
function recording(check: WriteCheck): { check: WriteCheck; seen: () => ItemMeta | undefined } {
  let last: ItemMeta | undefined;
  return {
    check: (existing, collection, sameUid) => {
      last = existing;
      check(existing, collection, sameUid);
    },
    seen: () => last,
  };
}

export function withChangeNotifications(storage: Storage, hub: ChangeHub, log: Logger): Storage {
  /** The previous text of one item, read before a write, when a subscriber wants it. */
  async function before(path: string, href: string): Promise<Item | undefined> {
    if (!hub.wantsContent) return undefined;
    try {
      for await (const item of storage.getItems(path, [href])) return item;
    } catch (err) {
      log.debug({ err }, `change notifications: could not read /${path}/${href} before a write`);
    }
    return undefined;
  }

  async function allBefore(path: string): Promise<Item[]> {
    if (!hub.wantsContent) return [];
    try {
      if (!(await storage.getCollection(path))) return [];
      return await collect(storage.getItems(path));
    } catch (err) {
      log.debug({ err }, `change notifications: could not read /${path}/ before a write`);
      return [];
    }
  }

  function previousText(
    read: Item | undefined,
    seen: ItemMeta | undefined,
    what: string,
  ): string | undefined {
    if (!read || !seen) return undefined;
    if (read.etag === seen.etag) return read.text;
    log.debug(`change notifications: ${what} changed while it was written; its previous text is left out`);
    return undefined;
  }

  const overrides: Partial<Storage> = {
    async putItem(path, href, item, check, ctx) {
      if (!hub.active) return storage.putItem(path, href, item, check, ctx);
      const read = await before(path, href);
      const rec = recording(check);
      const result = await storage.putItem(path, href, item, rec.check, ctx);
      const prev = previousText(read, rec.seen(), `/${path}/${href}`);
      hub.publish({
        kind: 'item-put',
        collection: path,
        items: [
          {
            href,
            uid: item.description.uid,
            component: item.description.component,
            text: item.text,
            ...(prev !== undefined ? { previousText: prev } : {}),
          },
        ],
        created: result.created,
        ...who(ctx),
      });
      return result;
    },

    async deleteItem(path, href, check, ctx) {
      if (!hub.active) return storage.deleteItem(path, href, check, ctx);
      const read = await before(path, href);
      const rec = recording(check);
      await storage.deleteItem(path, href, rec.check, ctx);
      const seen = rec.seen();
      const prev = previousText(read, seen, `/${path}/${href}`);
      hub.publish({
        kind: 'item-delete',
        collection: path,
        items: [
          {
            href,
            uid: seen?.uid ?? read?.uid ?? '',
            component: seen?.component ?? read?.component ?? '',
            ...(prev !== undefined ? { previousText: prev } : {}),
          },
        ],
        ...who(ctx),
      });
    },

    async createCollection(path: string, props: Props, ctx: ChangeContext): Promise<CollectionInfo> {
      const info = await storage.createCollection(path, props, ctx);
      hub.publish({ kind: 'collection-create', collection: path, items: [], created: true, ...who(ctx) });
      return info;
    },

    async replaceCollection(path: string, props: Props, items: NewItems, ctx: ChangeContext) {
      if (!hub.active) return storage.replaceCollection(path, props, items, ctx);
      const old = await allBefore(path);
      const existed = hub.wantsContent
        ? old.length > 0 || (await storage.getCollection(path)) !== undefined
        : false;
      // The items as they pass (an upload may come in batches): the change names each of them, with
      // its text only when a listener reads it.
      const texts = hub.wantsTexts;
      const written: (Omit<NewItem, 'text'> & { text?: string })[] = [];
      const info = await storage.replaceCollection(
        path,
        props,
        tapItems(items, (batch) => {
          for (const i of batch)
            written.push(
              texts ? i : { ...(i.href === undefined ? {} : { href: i.href }), description: i.description },
            );
        }),
        ctx,
      );
      // Items the upload did not name were named by the storage: find them by UID.
      let named: Map<string, string> | undefined;
      if (written.some((i) => i.href === undefined)) {
        named = new Map();
        for (const meta of await storage.listItems(path)) if (meta.uid !== '') named.set(meta.uid, meta.href);
      }
      const oldByHref = new Map(old.map((i) => [i.href, i]));
      const changed: ChangedItem[] = written.map((i) => {
        const href = i.href ?? named?.get(i.description.uid) ?? '';
        const prev = oldByHref.get(href);
        oldByHref.delete(href);
        return {
          href,
          uid: i.description.uid,
          component: i.description.component,
          ...(i.text === undefined ? {} : { text: i.text }),
          ...(prev ? { previousText: prev.text } : {}),
        };
      });
      const removed: ChangedItem[] = [...oldByHref.values()].map((i) => ({
        href: i.href,
        uid: i.uid,
        component: i.component,
        previousText: i.text,
      }));
      hub.publish({
        kind: 'collection-replace',
        collection: path,
        items: changed,
        ...(removed.length > 0 ? { removed } : {}),
        ...(hub.wantsContent ? { created: !existed } : {}),
        ...who(ctx),
      });
      return info;
    },

    async deleteCollection(path: string, ctx: ChangeContext): Promise<void> {
      if (!hub.active) return storage.deleteCollection(path, ctx);
      const old = await allBefore(path);
      await storage.deleteCollection(path, ctx);
      hub.publish({
        kind: 'collection-delete',
        collection: path,
        items: old.map((i) => ({ href: i.href, uid: i.uid, component: i.component, previousText: i.text })),
        ...who(ctx),
      });
    },

    async setProps(path: string, props: Props | PropsUpdate, ctx: ChangeContext): Promise<CollectionInfo> {
      // An update that finds nothing to store (a PROPPATCH that failed) writes nothing: no change.
      let written = typeof props !== 'function';
      const change =
        typeof props === 'function'
          ? (current: Props): Props | undefined => {
              const next = props(current);
              written = next !== undefined;
              return next;
            }
          : props;
      const info = await storage.setProps(path, change, ctx);
      if (!written) return info;
      hub.publish({
        kind: 'collection-props',
        collection: path,
        items: [],
        ...(ctx.body !== undefined ? { requestBody: ctx.body } : {}),
        ...who(ctx),
      });
      return info;
    },

    moveItem: (from, to, check, ctx) =>
      itemTransfer('item-move', storage.moveItem(from, to, check, ctx), from, to, ctx),

    copyItem: (from, to, check, ctx) =>
      itemTransfer('item-copy', storage.copyItem(from, to, check, ctx), from, to, ctx),

    moveCollection: (from: string, to: string, overwrite: boolean, ctx: ChangeContext) =>
      collectionTransfer('collection-move', storage.moveCollection(from, to, overwrite, ctx), from, to, ctx),

    copyCollection: (from: string, to: string, overwrite: boolean, ctx: ChangeContext) =>
      collectionTransfer('collection-copy', storage.copyCollection(from, to, overwrite, ctx), from, to, ctx),
  };

  /** An item MOVE or COPY: published once the backend has done it. */
  async function itemTransfer(
    kind: 'item-move' | 'item-copy',
    done: Promise<{ meta: ItemMeta; created: boolean }>,
    from: { path: string; href: string },
    to: { path: string; href: string },
    ctx: ChangeContext,
  ): Promise<{ meta: ItemMeta; created: boolean }> {
    const result = await done;
    hub.publish({
      kind,
      collection: to.path,
      from: { collection: from.path, href: from.href },
      items: [{ href: to.href, uid: result.meta.uid, component: result.meta.component }],
      created: result.created,
      ...who(ctx),
    });
    return result;
  }

  /** A collection MOVE or COPY: published once the backend has done it. */
  async function collectionTransfer(
    kind: 'collection-move' | 'collection-copy',
    done: Promise<{ created: boolean }>,
    from: string,
    to: string,
    ctx: ChangeContext,
  ): Promise<{ created: boolean }> {
    const result = await done;
    hub.publish({
      kind,
      collection: to,
      from: { collection: from },
      items: [],
      created: result.created,
      ...who(ctx),
    });
    return result;
  }

  // Everything else goes straight to the backend (bound to it), including methods added later.
  return new Proxy(storage, {
    get(target, prop): unknown {
      if (typeof prop === 'string' && Object.prototype.hasOwnProperty.call(overrides, prop))
        return overrides[prop as keyof Storage];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
