/**
 * `almanac --verify-storage` on PostgreSQL: every collection has its parent, every item's stored ETag,
 * size and index fields match its text as the describer reads it now, and the change log covers
 * every item (the invariant sync relies on).
 */
import type { CollectionTag, ItemDescriber } from '../types.js';
import { isTag } from '../props.js';
import type { Db } from './db.js';
import { textEtag } from './rows.js';

interface VerifyRow {
  readonly path: string;
  readonly tag: string;
  readonly href: string;
  readonly text: string;
  readonly etag: string;
  readonly uid: string;
  readonly component: string;
  readonly size: number;
}

const BATCH = 500;

async function verifyCollections(db: Db, report: (problem: string) => void): Promise<boolean> {
  let ok = true;
  const orphans = await db.query<{ path: string }>(
    `SELECT c.path FROM collections c LEFT JOIN collections p ON p.path = c.parent
     WHERE c.path <> '' AND (p.path IS NULL OR p.tag <> '')`,
  );
  for (const orphan of orphans) {
    ok = false;
    report(`collection ${orphan.path}: parent missing or not a plain collection`);
  }
  const unlogged = await db.query<{ path: string; href: string }>(
    `SELECT c.path, i.href FROM items i JOIN collections c ON c.id = i.collection_id
     LEFT JOIN changes ch ON ch.collection_id = i.collection_id AND ch.href = i.href
     WHERE ch.href IS NULL OR ch.deleted OR ch.seq > c.seq`,
  );
  for (const u of unlogged) {
    ok = false;
    report(`item ${u.path}/${u.href}: missing from the change log`);
  }
  return ok;
}

function verifyItem(r: VerifyRow, describe: ItemDescriber, report: (problem: string) => void): boolean {
  const where = `item ${r.path}/${r.href}`;
  let ok = true;
  if (textEtag(r.text) !== r.etag) {
    report(`${where}: stored ETag does not match its text`);
    ok = false;
  }
  if (Buffer.byteLength(r.text, 'utf8') !== r.size) {
    report(`${where}: stored size does not match its text`);
    ok = false;
  }
  const tag: CollectionTag = isTag(r.tag) ? r.tag : '';
  try {
    const d = describe(r.text, tag);
    if (d.uid !== r.uid || d.component !== r.component) {
      report(`${where}: index (UID/component) does not match its text`);
      ok = false;
    }
  } catch (e) {
    report(`${where}: ${e instanceof Error ? e.message : String(e)}`);
    ok = false;
  }
  return ok;
}

export async function verifyDatabase(
  db: Db,
  describe: ItemDescriber,
  report: (problem: string) => void,
): Promise<boolean> {
  let ok = await verifyCollections(db, report);
  let after: [string, string] = ['', ''];
  for (;;) {
    const rows = await db.query<VerifyRow>(
      `SELECT c.path, c.tag, i.href, i.text, i.etag, i.uid, i.component, i.size
       FROM items i JOIN collections c ON c.id = i.collection_id
       WHERE (c.path, i.href) > ($1, $2) ORDER BY c.path, i.href LIMIT $3`,
      [after[0], after[1], BATCH],
    );
    for (const r of rows) if (!verifyItem(r, describe, report)) ok = false;
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < BATCH) return ok;
    after = [last.path, last.href];
  }
}
