/**
 * Radicale's `[hook]` notification items (radicale/hook/__init__.py HookNotificationItem), built from
 * Almanac's changes with Radicale 3.8's triggers:
 *
 * - PUT of an item: `upsert` (content = new_content = the stored text, old_content = the text it
 *   replaced or null, content_type = its component name, VCALENDAR or VCARD);
 * - PUT of a whole collection: one `upsert` per item; when an item of the same href existed, content
 *   and old_content are its OLD text (as Radicale), otherwise content is the new text;
 * - DELETE of an item: `delete` (content = uid = the item's UID, old_content = its text); of a
 *   collection: one `delete` per item it held;
 * - PROPPATCH of a collection: `cpatch` (content = new_content = the request XML as Python's
 *   ElementTree writes it, see ./etree.ts);
 * - MOVE, COPY, MKCOL, MKCALENDAR and principal creation: nothing (Radicale's MOVE, MKCOL and
 *   MKCALENDAR fire no [hook]; it has no COPY). A DELETE done by an overwriting MOVE or COPY is
 *   part of that MOVE/COPY and also sends nothing.
 */
import type { Change, ChangedItem } from '../changes.js';
import { pythonEtreeString } from './etree.js';

export type HookItemType = 'upsert' | 'delete' | 'cpatch';

export interface HookItem {
  readonly type: HookItemType;
  /**
   * The first two segments of the request path (`alice/calendar.ics`), '' when fewer; through a share,
   * of the owner's path the share maps to (Radicale's access.path).
   */
  readonly point: string;
  /** The `content` argument Radicale passes (`_content_legacy` in the JSON). */
  readonly content: string | null;
  readonly content_type: string | null;
  readonly uid: string | null;
  readonly new_content: string | null;
  readonly old_content: string | null;
  readonly actor: string | null;
}

/** Radicale's point: the first two segments of the access path, joined with '/'. */
export function pointOf(requestPath: string): string {
  const parts = requestPath.split('/').filter((s) => s !== '');
  return parts.length < 2 ? '' : `${parts[0]}/${parts[1]}`;
}

/** The component name Radicale's item has (`item.name`): the outer BEGIN of the text. */
export function componentName(text: string | undefined, fallback: string): string | null {
  const m = text === undefined ? null : /^BEGIN:([A-Za-z0-9-]+)/i.exec(text.trimStart());
  if (m?.[1]) return m[1].toUpperCase();
  if (fallback === 'VCARD') return 'VCARD';
  return fallback === '' ? null : 'VCALENDAR';
}

/** Namespace operations: Radicale's hook sees none of what they do. */
const SILENT_METHODS = new Set(['MOVE', 'COPY']);

export function hookItems(change: Change): HookItem[] {
  if (SILENT_METHODS.has(change.method)) return [];
  // Through a share: the owner's path (the storage path written) and the sharee who wrote, as Radicale 3.8.
  const base = { point: pointOf(change.requestPath), actor: change.actor ?? change.user };
  const upsert = (i: ChangedItem, legacy: string | null): HookItem => ({
    ...base,
    type: 'upsert',
    content: legacy,
    content_type: componentName(i.text, i.component),
    uid: null,
    new_content: i.text ?? null,
    old_content: i.previousText ?? null,
  });
  const del = (i: ChangedItem): HookItem => ({
    ...base,
    type: 'delete',
    content: i.uid,
    content_type: componentName(i.previousText, i.component),
    uid: i.uid,
    new_content: null,
    old_content: i.previousText ?? null,
  });
  switch (change.kind) {
    case 'item-put':
      return change.items.map((i) => upsert(i, i.text ?? null));
    case 'collection-replace':
      return change.items.map((i) => upsert(i, i.previousText ?? i.text ?? null));
    case 'item-delete':
    case 'collection-delete':
      return change.items.map(del);
    case 'collection-props': {
      const xml = change.requestBody === undefined ? null : pythonEtreeString(change.requestBody);
      return [
        {
          ...base,
          type: 'cpatch',
          content: xml,
          content_type: null,
          uid: null,
          new_content: xml,
          old_content: null,
        },
      ];
    }
    default:
      return [];
  }
}

/** A JSON string as Python's json.dumps writes it with ensure_ascii (every non-ASCII as \uXXXX). */
export function pythonJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += String.fromCharCode(c);
  }
  return `${out}"`;
}

/**
 * The message body Radicale's rabbitmq hook publishes: `json.dumps(obj, sort_keys=True, indent=4)`
 * of the item's attributes plus `content` (`_content_legacy or uid or new_content or old_content`).
 */
export function hookJson(item: HookItem): string {
  const content = item.content || item.uid || item.new_content || item.old_content || null;
  const obj: Record<string, string | null> = {
    _content_legacy: item.content,
    actor: item.actor,
    content,
    content_type: item.content_type,
    new_content: item.new_content,
    old_content: item.old_content,
    point: item.point,
    type: item.type,
    uid: item.uid,
  };
  const lines = Object.keys(obj)
    .sort()
    .map((k) => {
      const v = obj[k];
      return `    ${pythonJsonString(k)}: ${v === null || v === undefined ? 'null' : pythonJsonString(v)}`;
    });
  return `{\n${lines.join(',\n')}\n}`;
}
