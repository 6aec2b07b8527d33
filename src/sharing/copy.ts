/**
 * The share database's part of `almanac storage copy`: a folder's csv file or files folder (Radicale's
 * default places under `collection-db/`) to the PostgreSQL table and back. The target is made to hold
 * exactly the source's shares, field for field.
 *   folder source  `collection-db/sharing.csv` or `collection-db/files/`; with both, `--sharing csv|files`
 *                  says which; with neither there is nothing to carry and the target keeps its shares
 *   folder target  the format it already has (or `--sharing`), csv when it has none; a source without
 *                  shares makes no database in a folder that has none
 *   table target   records the copy as the one import (a start with `[sharing] type = csv` does not
 *                  import the folder's file on top of it)
 */
import { join, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { PgShareStore } from './pg-store.js';
import { CsvStore, FilesStore, existingFolderStore, type ShareStore } from './store.js';
import type { Db } from '../storage/postgres/db.js';

export type FolderFormat = 'csv' | 'files';

/** Where a share database is for the copy: a data folder or a PostgreSQL database. */
export type ShareSide = { kind: 'folder'; folder: string } | { kind: 'table'; db: Db };

export interface ShareCopyResult {
  /** Shares the target holds now; undefined: the source has no share database (nothing done). */
  readonly shares?: number;
  /** `csv <path>`, `files <path>` or `PostgreSQL table shares`, for the report. */
  readonly from?: string;
  readonly to?: string;
}

const configFor = (folder: string): Config =>
  loadConfig({ paths: [''], args: { storage: { filesystem_folder: folder } }, env: {} }).config;

const locations = (folder: string): Record<FolderFormat, string> => ({
  csv: join(folder, 'collection-db', 'sharing.csv'),
  files: join(folder, 'collection-db', 'files'),
});

/** The formats a folder has a share database in. */
function formatsIn(folder: string): FolderFormat[] {
  const at = locations(folder);
  const out: FolderFormat[] = [];
  if (existsSync(at.csv) && statSync(at.csv).isFile()) out.push('csv');
  if (existsSync(at.files) && statSync(at.files).isDirectory()) out.push('files');
  return out;
}

/** The format of `folder` (`wanted` when given); throws when a folder holds both and none was said. */
function chosen(folder: string, wanted: FolderFormat | undefined): FolderFormat | undefined {
  if (wanted !== undefined) return wanted;
  const have = formatsIn(folder);
  if (have.length > 1)
    throw new Error(
      `${folder} has both collection-db/sharing.csv and collection-db/files/: say which with --sharing csv|files`,
    );
  return have[0];
}

const label = (s: ShareStore): string =>
  s.type === 'postgresql' ? 'PostgreSQL table shares' : `${s.type} ${s.location}`;

export async function copyShares(
  from: ShareSide,
  to: ShareSide,
  format?: FolderFormat,
): Promise<ShareCopyResult> {
  let source: ShareStore | undefined;
  if (from.kind === 'table') source = new PgShareStore(from.db);
  else {
    const f = chosen(from.folder, format);
    source = f && (await existingFolderStore(f, locations(from.folder)[f], configFor(from.folder)));
  }
  if (source === undefined) return {};
  await source.open();
  const records = await source.list();
  let target: ShareStore;
  if (to.kind === 'table') target = new PgShareStore(to.db);
  else {
    const f = chosen(to.folder, format);
    if (f === undefined && records.length === 0) return { shares: 0, from: label(source) };
    const config = configFor(to.folder);
    const where = locations(to.folder)[f ?? 'csv'];
    target = (f ?? 'csv') === 'csv' ? new CsvStore(where, config) : new FilesStore(where, config);
  }
  await target.open();
  const shares = await target.replaceAll(records);
  if (target instanceof PgShareStore)
    await target.markImported(from.kind === 'folder' ? resolve(source.location) : 'storage copy');
  return { shares, from: label(source), to: label(target) };
}
