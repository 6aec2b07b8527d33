/** Row shapes of the PostgreSQL schema and their conversion to the storage types. */
import { createHash } from 'node:crypto';
import type { CollectionInfo, CollectionTag, Item, ItemMeta, Props } from '../types.js';
import { pythonJson } from '../../compat/python/json.js';
import { isTag } from '../props.js';
import { TOKEN_PREFIX } from '../sync-token.js';
import { StorageError } from '../types.js';

export interface CollectionRow {
  readonly id: string;
  readonly path: string;
  readonly tag: string;
  readonly props: Record<string, string>;
  readonly sync_key: string;
  readonly seq: string;
  readonly log_floor: string;
  readonly modified: Date;
}

export const COLLECTION_COLS = 'id, path, tag, props, sync_key, seq, log_floor, modified';

export interface ItemMetaRow {
  readonly href: string;
  readonly etag: string;
  readonly uid: string;
  readonly component: string;
  readonly start_time: string;
  readonly end_time: string;
  readonly size: number;
  readonly modified: Date;
}

export interface ItemRow extends ItemMetaRow {
  readonly text: string;
}

export const META_COLS = 'href, etag, uid, component, start_time, end_time, size, modified';
export const ITEM_COLS = `${META_COLS}, text`;

export function tagOf(props: Props): CollectionTag {
  const t = props.tag;
  return t !== undefined && isTag(t) ? t : '';
}

export function toCollectionInfo(r: CollectionRow): CollectionInfo {
  return { path: r.path, tag: isTag(r.tag) ? r.tag : '', props: r.props, lastModified: r.modified };
}

export function toMeta(r: ItemMetaRow): ItemMeta {
  return metaWith(r, r.modified.getTime());
}

/** An item's metadata from a row with its modification time given in milliseconds (however it was read). */
export function metaWith(r: Omit<ItemMetaRow, 'modified'>, lastModifiedMs: number): ItemMeta {
  return {
    href: r.href,
    etag: r.etag,
    uid: r.uid,
    component: r.component,
    start: Number(r.start_time),
    end: Number(r.end_time),
    size: r.size,
    lastModifiedMs,
  };
}

export function toItem(r: ItemRow): Item {
  return { ...toMeta(r), text: r.text };
}

export function textEtag(text: string): string {
  return `"${createHash('sha256').update(text, 'utf8').digest('hex')}"`;
}

/**
 * The collection ETag (ctag): a digest of the collection's identity, its change position and its
 * props, so it changes with every item change and every PROPPATCH and is the same on every instance.
 */
export function collectionEtag(r: CollectionRow): string {
  const h = createHash('sha256').update(`${r.sync_key}/${r.seq}/${pythonJson(r.props)}`, 'utf8');
  return `"${h.digest('hex')}"`;
}

/**
 * Sync token: the collection's random key and the log position, in hex (monotonic per collection),
 * padded with zeros to Radicale's 64 hex digits, so that a folder can keep its state under that name
 * after `storage copy` and Radicale and Almanac serving the folder both accept it.
 */
export function syncToken(key: string, position: number): string {
  return `${TOKEN_PREFIX}${key}${position.toString(16).padStart(16, '0')}${TOKEN_PADDING}`;
}

const TOKEN_PADDING = '0'.repeat(32);
/** This backend's tokens: key and position, padded (tokens issued before the padding have none). */
const OWN_TOKEN = new RegExp(`^([0-9a-f]{16})([0-9a-f]{16})(?:${TOKEN_PADDING})?$`);

const badToken = (token: string): never => {
  throw new StorageError('invalid-sync-token', `unknown sync token ${token}`);
};

/** Key and position of a token in this backend's own format, whichever collection; else undefined. */
function ownToken(token: string): { key: string; position: number } | undefined {
  const m = token.startsWith(TOKEN_PREFIX) ? OWN_TOKEN.exec(token.slice(TOKEN_PREFIX.length)) : null;
  return m?.[1] === undefined || m[2] === undefined
    ? undefined
    : { key: m[1], position: Number.parseInt(m[2], 16) };
}

/** True for a token this collection issued (a token of another collection or storage is not). */
export function isOwnToken(token: string, r: Pick<CollectionRow, 'sync_key'>): boolean {
  return ownToken(token)?.key === r.sync_key;
}

/**
 * The log position a token stands for in this collection (`alias`: the position an imported foreign
 * token maps to); invalid-sync-token when it is not this collection's or is older than the log.
 */
export function tokenPosition(token: string, r: CollectionRow, alias?: number): number {
  const own = ownToken(token);
  const pos = own !== undefined && own.key === r.sync_key ? own.position : (alias ?? badToken(token));
  if (!Number.isSafeInteger(pos) || pos > Number(r.seq) || pos < Number(r.log_floor)) badToken(token);
  return pos;
}
