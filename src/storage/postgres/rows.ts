/** Row shapes of the PostgreSQL schema and their conversion to the storage types. */
import { createHash } from 'node:crypto';
import type { CollectionInfo, CollectionTag, Item, ItemMeta, Props } from '../types.js';
import { isTag, pythonJson } from '../filesystem/props-json.js';
import { TOKEN_PREFIX } from '../filesystem/history.js';
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
  return {
    href: r.href,
    etag: r.etag,
    uid: r.uid,
    component: r.component,
    start: Number(r.start_time),
    end: Number(r.end_time),
    size: r.size,
    lastModifiedMs: r.modified.getTime(),
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

/** Sync token: the collection's random key and the log position, in hex (monotonic per collection). */
export function syncToken(key: string, position: number): string {
  return `${TOKEN_PREFIX}${key}${position.toString(16).padStart(16, '0')}`;
}

const badToken = (token: string): never => {
  throw new StorageError('invalid-sync-token', `unknown sync token ${token}`);
};

/** True for a token in this backend's own format (key + position), whichever collection. */
export function isOwnToken(token: string): boolean {
  return token.startsWith(TOKEN_PREFIX) && /^[0-9a-f]{32}$/.test(token.slice(TOKEN_PREFIX.length));
}

/**
 * The log position a token stands for in this collection (`alias`: the position an imported foreign
 * token maps to); invalid-sync-token when it is not this collection's or is older than the log.
 */
export function tokenPosition(token: string, r: CollectionRow, alias?: number): number {
  let pos: number;
  if (isOwnToken(token)) {
    const hex = token.slice(TOKEN_PREFIX.length);
    if (hex.slice(0, 16) !== r.sync_key) badToken(token);
    pos = Number.parseInt(hex.slice(16), 16);
  } else {
    pos = alias ?? badToken(token);
  }
  if (!Number.isSafeInteger(pos) || pos > Number(r.seq) || pos < Number(r.log_floor)) badToken(token);
  return pos;
}
