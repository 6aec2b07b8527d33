/**
 * PUT: one item into a calendar or address book, or (as Radicale) a whole calendar / address book
 * onto a collection path. A plain file in a plain collection only with `[storage] plain_files`.
 */
import type {
  CollectionKind,
  DavRequest,
  DavResponse,
  ItemWrite,
  ItemWriteHook,
  ItemWritePlan,
  Resource,
} from '../context.js';
import {
  accessDenied,
  badRequest,
  conflict,
  DavError,
  forbidden,
  preconditionFailed,
  StaleWrite,
  tooLarge,
} from '../errors.js';
import { resolve } from '../resource.js';
import { bodyText, checkConditionalHeaders } from '../request-body.js';
import { changeContext } from '../change-context.js';
import { itemHref } from '../href.js';
import { setStoredLang } from '../dead-props.js';
import type { CollectionInfo, ItemMeta, NewItem } from '../../storage/types.js';
import { tapItems } from '../../storage/new-items.js';
import { normalizeItemText } from '../../content-lines/line-endings.js';

function kindForUpload(req: DavRequest, text: string): CollectionKind | undefined {
  const ct = req.header('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    req.plugins.all().find((k) => k.mediaTypes.includes(ct)) ?? req.plugins.all().find((k) => k.sniff(text))
  );
}

export async function put(req: DavRequest): Promise<DavResponse> {
  const text = await bodyText(req);
  const res = await resolve(req, req.segments);
  if (res.kind === 'collection') return putCollection(req, res, text);
  const parent = res.kind === 'item' ? res.collection : res.parent;
  const parentPath = res.kind === 'item' ? res.path : res.parentPath;
  const href = res.kind === 'item' ? res.href : res.name;
  if (!parent) {
    if (req.segments.length === 0) throw new DavError(405, 'Cannot PUT on the root');
    throw conflict('The parent collection does not exist');
  }
  const kind = req.plugins.byTag(parent.tag);
  // As Radicale: calendar or address book data put on a new name in a plain collection (a user's
  // home, or the root for a top-level calendar) creates a whole collection there.
  if (!kind && res.kind === 'missing' && kindForUpload(req, text)) return putCollection(req, res, text);
  if (!req.access.canWrite(res)) throw accessDenied();
  const itemless = req.plugins.itemless().find((k) => k.tag === parent.tag);
  if (itemless) throw forbidden(itemless.putRefusal);
  if (!kind && !req.settings.plainFiles) throw notCalendarData(text);
  const maxSize = req.settings.maxResourceSize;
  const normalized = kind ? normalizeItemText(text) : text;
  if (Buffer.byteLength(normalized) > maxSize) {
    throw tooLarge(
      `Item larger than max_resource_size (${maxSize} bytes)`,
      kind?.preconditions.maxResourceSize,
    );
  }
  const description = kind
    ? await kind.validateItem(normalized, parent)
    : { uid: '', component: '', start: 0, end: 0 };
  const strict = req.settings.strictPreconditions;
  const hooks = kind ? req.plugins.itemWriteHooks() : [];
  for (let attempt = 1; ; attempt++) {
    const plan = await planItemWrite(req, hooks, {
      path: parentPath,
      href,
      collection: parent,
      text: normalized,
    });
    const text = plan.text ?? normalized;
    const desc = kind && text !== normalized ? await kind.validateItem(text, parent) : description;
    // Runs under the collection's write lock, so the UID check and the preconditions are atomic with
    // the write; `sameUid` is another item of the collection that holds this UID.
    const check = (existing: ItemMeta | undefined, _c: CollectionInfo, sameUid?: ItemMeta): void => {
      if (sameUid) throw uidConflict(req, parentPath, desc.uid, sameUid.href, parent);
      if (strict && existing && req.header('if-match') === undefined) {
        throw preconditionFailed('strict_preconditions: If-Match is required to replace an item');
      }
      checkConditionalHeaders(req, existing?.etag);
      if (existing && kind && existing.uid && desc.uid !== existing.uid) {
        throw conflict('The UID of an item cannot change', kind.preconditions.noUidConflict, []);
      }
      plan.check?.(existing);
    };
    let stored: { meta: ItemMeta; created: boolean };
    try {
      stored = await req.storage.putItem(
        parentPath,
        href,
        { text, description: desc },
        check,
        changeContext(req),
      );
    } catch (err) {
      if (!(err instanceof StaleWrite)) throw err;
      if (attempt < MAX_PLANS) continue;
      throw conflict('The item kept changing while it was written: try again');
    }
    const extra = (await plan.after?.(stored.meta)) ?? {};
    // RFC 4791 §5.3.4: no ETag when what is stored is not what the client sent.
    const etag: Record<string, string> = text === normalized ? { ETag: stored.meta.etag } : {};
    return { status: stored.created ? 201 : 204, headers: { ...extra, ...etag, 'Content-Length': '0' } };
  }
}

/** Times a write is planned again when the item changed meanwhile (StaleWrite), before a 409. */
export const MAX_PLANS = 5;

/** The plugins' plans for one item write, one after the other (each sees the text the previous chose). */
export async function planItemWrite(
  req: DavRequest,
  hooks: readonly ItemWriteHook[],
  write: ItemWrite,
): Promise<ItemWritePlan> {
  const plans: ItemWritePlan[] = [];
  let text = write.text;
  for (const hook of hooks) {
    const plan = await hook(req, text === undefined ? write : { ...write, text });
    if (!plan) continue;
    plans.push(plan);
    if (plan.text !== undefined) text = plan.text;
  }
  if (plans.length === 0) return {};
  return {
    ...(text !== write.text && text !== undefined ? { text } : {}),
    check: (existing) => {
      for (const plan of plans) plan.check?.(existing);
    },
    after: async (meta) => {
      let headers: Record<string, string> = {};
      for (const plan of plans) if (plan.after) headers = { ...headers, ...(await plan.after(meta)) };
      return headers;
    },
  };
}

/**
 * Radicale reads anything put into a plain collection as a whole calendar or address book and
 * answers 400 when it is neither; a file it would store there could not be read back by it.
 */
function notCalendarData(text: string): DavError {
  const what = text.trim() === '' ? 'the body is empty' : 'the body is not iCalendar or vCard data';
  return badRequest(
    `Only a calendar or an address book can be put into a plain collection (it becomes one): ${what}`,
  );
}

/** 409 with the kind's no-uid-conflict naming the item that already holds the UID. */
export function uidConflict(
  req: DavRequest,
  path: string,
  uid: string,
  otherHref: string,
  parent: CollectionInfo,
): DavError {
  return conflict(
    `UID ${uid} is already used by another item`,
    req.plugins.byTag(parent.tag)?.preconditions.noUidConflict,
    [itemHref(req.prefix, path, otherHref)],
  );
}

/**
 * A whole-collection upload replaces everything at its path. Onto a plain collection, that would be a
 * user's home (every calendar and address book in it deleted, as Radicale does) or a folder of
 * collections: refused. An empty plain collection (created by a plain MKCOL) may become a calendar.
 */
async function refuseReplacingPlainCollection(req: DavRequest, info: CollectionInfo): Promise<void> {
  const home = info.path === '' || !info.path.includes('/');
  if (!home) {
    const [collections, items] = await Promise.all([
      req.storage.listCollections(info.path),
      req.storage.listItems(info.path),
    ]);
    if (collections.length === 0 && items.length === 0) return;
  }
  throw forbidden(
    home
      ? "A calendar or address book cannot replace a user's home: PUT it to a new path inside the home"
      : 'A calendar or address book cannot replace a collection that holds other resources',
  );
}

/** Whole-collection upload (Radicale): the body replaces the collection at the target path. */
function putCollection(req: DavRequest, res: Resource, text: string): Promise<DavResponse> {
  // The text (a big import's 50 MB) is held until the split has it, not while the items are written.
  return replaceWithUpload(req, res, { text });
}

async function replaceWithUpload(
  req: DavRequest,
  res: Resource,
  body: { text: string | undefined },
): Promise<DavResponse> {
  const path = req.segments.join('/');
  const existing = res.kind === 'collection' ? res.info : undefined;
  const kind = (existing && req.plugins.byTag(existing.tag)) ?? kindForUpload(req, body.text ?? '');
  if (!kind) throw new DavError(415, 'Only calendars and address books can be uploaded as a whole');
  if (!req.access.letters(path).includes('w')) throw accessDenied();
  if (existing && !req.access.mayOverwriteCollection(path))
    throw accessDenied('Overwriting this collection is not allowed');
  if (existing && existing.tag === '') await refuseReplacingPlainCollection(req, existing);
  if (res.kind === 'missing' && res.parent === undefined)
    throw conflict('The parent collection does not exist');
  if (res.kind === 'missing' && res.parent && res.parent.tag !== '') {
    throw forbidden('Collections cannot be created inside a calendar or address book');
  }
  checkConditionalHeaders(req, existing ? await req.storage.getEtag(path) : undefined);
  const split = kind.splitUpload(normalizeItemText(body.text ?? ''));
  body.text = undefined;
  const { items, props, release } = await split;
  try {
    const maxSize = req.settings.maxResourceSize;
    const checkSizes = (batch: readonly NewItem[]): void => {
      for (const item of batch) {
        if (Buffer.byteLength(item.text) > maxSize)
          throw tooLarge(
            `An item is larger than max_resource_size (${maxSize})`,
            kind.preconditions.maxResourceSize,
          );
      }
    };
    // Items that come in batches are checked as they come: one too large aborts the replacement.
    const sized = tapItems(items, checkSizes);
    const merged: Record<string, string> = { ...(existing?.props ?? {}), ...props, tag: kind.tag };
    // A value the upload replaces (the displayname from X-WR-CALNAME) loses the language of the old one.
    for (const key of Object.keys(props)) setStoredLang(merged, key, undefined);
    const info = await req.storage.replaceCollection(path, merged, sized, changeContext(req));
    return { status: 201, headers: { ETag: await req.storage.getEtag(info.path), 'Content-Length': '0' } };
  } finally {
    release?.();
  }
}
