/**
 * Dead properties of items (WebDAV clients such as litmus set them with PROPPATCH on plain files).
 * Radicale keeps none, so they live beside the items in a sidecar `.Almanac.props` JSON file in the
 * collection folder: `{ "<href>": { "<prop key>": "<value>" } }`. A dot-file, so Radicale and our
 * listings ignore it; absent when no item has properties.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Props } from '../types.js';
import { atomicWrite, isErrno, unlinkIfExists, type FsOptions } from './fsutil.js';

export const ITEM_PROPS_FILE = '.Almanac.props';

export type ItemPropsMap = Map<string, Record<string, string>>;

/** Reads the sidecar of a collection folder; a missing or damaged file counts as empty. */
export async function readItemProps(dir: string): Promise<ItemPropsMap> {
  let text: string;
  try {
    text = await readFile(join(dir, ITEM_PROPS_FILE), 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return new Map();
    throw e;
  }
  return parseItemProps(text);
}

function parseItemProps(text: string): ItemPropsMap {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return new Map();
  }
  const out: ItemPropsMap = new Map();
  if (!isObject(raw)) return out;
  for (const [href, props] of Object.entries(raw)) {
    if (!isObject(props)) continue;
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(props)) if (typeof v === 'string') clean[k] = v;
    out.set(href, clean);
  }
  return out;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Writes the sidecar atomically (removes it when empty). */
export async function writeItemProps(dir: string, map: ItemPropsMap, fs: FsOptions): Promise<void> {
  const kept = [...map].filter(([, props]) => Object.keys(props).length > 0);
  if (kept.length === 0) {
    await unlinkIfExists(join(dir, ITEM_PROPS_FILE));
    return;
  }
  await atomicWrite(dir, ITEM_PROPS_FILE, JSON.stringify(Object.fromEntries(kept)), fs);
}

/** Applies `change` to the sidecar of `dir` when it touches anything (read-modify-write). */
export async function updateItemProps(
  dir: string,
  fs: FsOptions,
  change: (map: ItemPropsMap) => boolean,
): Promise<void> {
  const map = await readItemProps(dir);
  if (change(map)) await writeItemProps(dir, map, fs);
}

export function propsOf(map: ItemPropsMap, href: string): Props {
  return map.get(href) ?? {};
}
