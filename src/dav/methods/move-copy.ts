/**
 * MOVE and COPY (RFC 4918 §9.8, §9.9) of items and whole collections (Radicale can do neither for
 * collections; renaming a calendar is a MOVE of its collection).
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import {
  accessDenied,
  badRequest,
  conflict,
  DavError,
  forbidden,
  notFound,
  preconditionFailed,
} from '../errors.js';
import { resolve } from '../resource.js';
import { checkConditionalHeaders, overwriteHeader } from '../request-body.js';
import { changeContext } from '../change-context.js';
import { uidConflict } from './put.js';
import { pathPolicyViolation } from '../../config/path-policy.js';
import { hrefToSegments, hrefOf } from '../href.js';
import type { ItemConditions } from '../preconditions.js';
import type { ChangeContext, CollectionInfo, ItemMeta } from '../../storage/types.js';

/** Decoded destination segments; 502 when it points at another server. */
export function destination(req: DavRequest): string[] {
  const raw = req.header('destination');
  if (!raw) throw badRequest('Destination header is required');
  const abs = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)/i.exec(raw);
  if (abs && abs[2]?.toLowerCase() !== req.origin.host.toLowerCase()) {
    throw new DavError(502, 'Destination is on another server');
  }
  const parsed = hrefToSegments(raw, req.prefix);
  if (!parsed) throw badRequest('Destination is outside this server');
  const refused = pathPolicyViolation(parsed.segments, req.settings.validatePathValue);
  if (refused !== undefined) throw badRequest(`Destination: ${refused}`);
  return parsed.segments;
}

export async function move(req: DavRequest): Promise<DavResponse> {
  return transfer(req, true);
}

export async function copy(req: DavRequest): Promise<DavResponse> {
  return transfer(req, false);
}

async function transfer(req: DavRequest, isMove: boolean): Promise<DavResponse> {
  const src = await resolve(req, req.segments);
  if (src.kind === 'missing') throw notFound();
  const destSegments = destination(req);
  if (destSegments.join('/') === req.segments.join('/'))
    throw forbidden('Source and destination are the same');
  const dst = await resolve(req, destSegments);
  if (isMove ? !req.access.canWrite(src) : !req.access.canRead(src)) throw accessDenied();
  if (!req.access.canWrite(dst)) throw accessDenied();
  const overwrite = overwriteHeader(req);
  const toPath = hrefOf(req.prefix, destSegments, src.kind === 'collection');
  const ctx = changeContext(req, toPath);
  if (src.kind === 'collection') {
    if (destSegments.join('/').startsWith(`${src.path}/`))
      throw forbidden('Cannot move a collection into itself');
    if (dst.kind !== 'missing' && !overwrite)
      throw preconditionFailed('Destination exists and Overwrite is F');
    checkCollectionPolicy(req, src, dst, isMove);
    if (dst.kind === 'item') {
      if (dst.collection.tag !== '')
        throw forbidden('Collections cannot be put inside a calendar or address book');
      // RFC 4918 §9.8.4/§9.9.3: with Overwrite T the destination is deleted first.
      await deleteDestination(req, dst, ctx);
      const r = await transferCollection(req, src, destSegments, overwrite, isMove);
      return { ...r, status: 204 };
    }
    const dstParent = dst.kind === 'missing' ? dst.parent : undefined;
    if (dst.kind === 'missing' && !dstParent) throw conflict('The destination parent does not exist');
    if (dstParent && dstParent.tag !== '')
      throw forbidden('Collections cannot be put inside a calendar or address book');
    return transferCollection(req, src, destSegments, overwrite, isMove);
  }
  return transferItem(req, src, dst, destSegments, overwrite, isMove);
}

/**
 * permit_delete_collection / permit_overwrite_collection hold for MOVE and COPY as for DELETE and a
 * whole-collection PUT: a MOVE takes the collection away from its path (as a DELETE does), and a
 * MOVE or COPY onto an existing collection replaces it (as a PUT of the whole collection does).
 */
function checkCollectionPolicy(
  req: DavRequest,
  src: Resource & { kind: 'collection' },
  dst: Resource,
  isMove: boolean,
): void {
  if (isMove && !req.access.mayDeleteCollection(src.path))
    throw accessDenied('Moving this collection away is not allowed (it may not be deleted)');
  if (dst.kind === 'collection' && !req.access.mayOverwriteCollection(dst.path))
    throw accessDenied('Overwriting the destination collection is not allowed');
}

async function transferCollection(
  req: DavRequest,
  src: Resource & { kind: 'collection' },
  destSegments: string[],
  overwrite: boolean,
  isMove: boolean,
): Promise<DavResponse> {
  const ctx = changeContext(req, hrefOf(req.prefix, destSegments, true));
  const from = src.path;
  const to = destSegments.join('/');
  const { created } = isMove
    ? await req.storage.moveCollection(from, to, overwrite, ctx)
    : await req.storage.copyCollection(from, to, overwrite, ctx);
  return { status: created ? 201 : 204, headers: {} };
}

/** Removes an existing destination of another type (item vs collection) before an overwrite. */
async function deleteDestination(req: DavRequest, dst: Resource, ctx: ChangeContext): Promise<void> {
  if (dst.kind === 'item') {
    // If-Match / If-None-Match are about the source (checked by the caller), not this item.
    await req.storage.deleteItem(dst.path, dst.href, () => undefined, ctx);
  } else if (dst.kind === 'collection') {
    if (!req.access.mayDeleteCollection(dst.path))
      throw accessDenied('Deleting the destination is not allowed');
    await req.storage.deleteCollection(dst.path, ctx);
  }
}

async function transferItem(
  req: DavRequest,
  src: Resource & { kind: 'item' },
  dst: Resource,
  destSegments: string[],
  overwrite: boolean,
  isMove: boolean,
): Promise<DavResponse> {
  // RFC 4918 §10.4: If-Match / If-None-Match of a MOVE or COPY are about the source (the request URI).
  checkConditionalHeaders(req, src.meta.etag);
  let replaced = false;
  if (dst.kind === 'collection') {
    if (!overwrite) throw preconditionFailed('Destination exists and Overwrite is F');
    await deleteDestination(req, dst, changeContext(req, hrefOf(req.prefix, destSegments, false)));
    replaced = true;
  }
  const parent =
    dst.kind === 'item'
      ? dst.collection
      : dst.kind === 'missing'
        ? dst.parent
        : await parentOf(req, destSegments);
  if (!parent) throw conflict('The destination collection does not exist');
  if (parent.tag !== src.collection.tag)
    throw forbidden('Items can only move between collections of the same type');
  const toPath = destSegments.slice(0, -1).join('/');
  const toHref = destSegments[destSegments.length - 1] ?? '';
  const maxSize = req.settings.maxResourceSize;
  if (parent.tag !== '' && src.meta.size > maxSize) {
    throw new DavError(
      413,
      'Item larger than max_resource_size',
      itemConditions(req, parent)?.maxResourceSize,
    );
  }
  // Under the destination's write lock: `sameUid` is another item there holding the UID (for a MOVE
  // within one collection, the moved item itself does not count; a COPY there would duplicate it).
  const check = (existing: ItemMeta | undefined, _c: CollectionInfo, sameUid?: ItemMeta): void => {
    if (existing && !overwrite) throw preconditionFailed('Destination exists and Overwrite is F');
    if (sameUid) throw uidConflict(req, toPath, src.meta.uid, sameUid.href, parent);
    // RFC 4791 §5.3.2.1 / RFC 6352 §6.3.2.1: an item may not be replaced by one with another UID (as
    // a PUT would be refused).
    if (existing && parent.tag !== '' && existing.uid !== '' && existing.uid !== src.meta.uid)
      throw conflict(
        `The destination holds UID ${existing.uid}, not ${src.meta.uid}`,
        itemConditions(req, parent)?.noUidConflict,
        [],
      );
  };
  for (const hook of req.plugins.itemTransferHooks()) {
    await hook(req, { isMove, from: src, toPath, toHref, toCollection: parent });
  }
  const from = { path: src.path, href: src.href };
  const to = { path: toPath, href: toHref };
  const ctx = changeContext(req, hrefOf(req.prefix, destSegments, false));
  const { created } = isMove
    ? await req.storage.moveItem(from, to, check, ctx)
    : await req.storage.copyItem(from, to, check, ctx);
  return { status: created && !replaced ? 201 : 204, headers: {} };
}

/** The conditions the destination's kind declares for its items (none for a plain collection). */
function itemConditions(req: DavRequest, parent: CollectionInfo): ItemConditions | undefined {
  return req.plugins.byTag(parent.tag)?.preconditions;
}

async function parentOf(req: DavRequest, segments: string[]): Promise<CollectionInfo | undefined> {
  return req.storage.getCollection(segments.slice(0, -1).join('/'));
}
