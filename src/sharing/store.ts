/**
 * The share database, in Radicale's own formats and places ([sharing] type, database_path):
 *   csv    `<filesystem_folder>/collection-db/sharing.csv` (or database_path): header + one row a share,
 *          kept in memory from start-up (as Radicale's), the whole file rewritten atomically on a change
 *   files  `<filesystem_folder>/collection-db/files/{token,map}/<quote(PathOrToken)>` (or database_path
 *          as the folder): one pickled `("1", {row})` a share, written atomically
 *   table  with `[storage] type = postgresql` (and no database_path): the table `shares` (pg-store.ts)
 * Writes are serialized in the process. Nothing here knows HTTP or rights.
 */
import { mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { atomicWrite, isErrno, type FsOptions } from '../storage/filesystem/fsutil.js';
import { stockEncoding } from '../storage/filesystem/stock-encoding.js';
import {
  SHARE_FIELDS,
  ShareFormatError,
  csvCells,
  csvLine,
  parseSemicolonCsv,
  quoteAll,
  readShareFile,
  recordOf,
  shareFileBytes,
  type ShareRecord,
  type ShareType,
} from './record.js';
import { PgShareStore } from './pg-store.js';

export type StoreResult = 'ok' | 'conflict' | 'not-found';

export interface ShareStore {
  readonly type: 'csv' | 'files' | 'postgresql';
  /** Where the database is (file, folder or table). */
  readonly location: string;
  /** Loads (csv), creates the folders (files) or checks the table; throws when it cannot be used. */
  open(): Promise<void>;
  /** Lets go of what open() took (the PostgreSQL store's connections). */
  close(): Promise<void>;
  /** Every share (files whose version Radicale skips are left out). */
  list(): Promise<ShareRecord[]>;
  get(type: ShareType, pathOrToken: string): Promise<ShareRecord | undefined>;
  /** Adds a share; 'conflict' when its type and PathOrToken are taken. */
  create(r: ShareRecord): Promise<StoreResult>;
  /** Replaces a share through `change` (given the stored one); 'not-found' when there is none. */
  update(type: ShareType, pathOrToken: string, change: (r: ShareRecord) => ShareRecord): Promise<StoreResult>;
  delete(type: ShareType, pathOrToken: string): Promise<StoreResult>;
  /** Makes the database hold exactly `records` (`almanac storage copy`); returns their number. */
  replaceAll(records: readonly ShareRecord[]): Promise<number>;
}

/** Runs tasks one after another (the writes of one store). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export function defaultLocation(config: Config): string {
  const databasePath = config.sharing.database_path;
  if (databasePath) return resolve(databasePath);
  const base = join(config.storage.filesystem_folder, 'collection-db');
  return join(base, config.sharing.type === 'csv' ? 'sharing.csv' : 'files');
}

function fsOptions(config: Config): FsOptions {
  const umask = config.storage.folder_umask;
  return { fsync: config.storage._filesystem_fsync, umask: typeof umask === 'number' ? umask : undefined };
}

/**
 * The store of `[sharing] type`, or undefined for `none` (sharing off). With `[storage] type =
 * postgresql` the shares are in the database's table whatever csv/files says, unless database_path
 * names a file or folder of its own (docs/sharing.md, "With PostgreSQL storage").
 */
export function createShareStore(config: Config, log: Logger): ShareStore | undefined {
  const type = config.sharing.type;
  if (type === 'none') return undefined;
  if (type !== 'csv' && type !== 'files')
    throw new Error(`[sharing] type = ${type}: sharing plugins are not supported (use csv or files)`);
  if (usesTable(config)) return PgShareStore.connect(config.storage.postgresql_url, log);
  return type === 'csv'
    ? new CsvStore(defaultLocation(config), config)
    : new FilesStore(defaultLocation(config), config);
}

/** Whether the shares of `config` live in the PostgreSQL table. */
export function usesTable(config: Config): boolean {
  return config.storage.type === 'postgresql' && config.sharing.database_path === '';
}

/** The csv file or files folder at `location`, read as it is (undefined when there is none). */
export async function existingFolderStore(
  type: 'csv' | 'files',
  location: string,
  config: Config,
): Promise<ShareStore | undefined> {
  try {
    const st = await stat(location);
    if (type === 'files' ? !st.isDirectory() : !st.isFile()) return undefined;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw e;
  }
  const store = type === 'csv' ? new CsvStore(location, config) : new FilesStore(location, config);
  await store.open();
  return store;
}

/**
 * The first start with the table imports the database `[sharing] type` names at its default place
 * (`<filesystem_folder>/collection-db/sharing.csv` or `files/`), when there is one: a Radicale folder's
 * shares come along on the move to PostgreSQL. Only once (the table records it, and so does `almanac
 * storage copy`): later the table is the database and the file is not read again.
 */
export async function importFolderShares(store: PgShareStore, config: Config, log: Logger): Promise<void> {
  const type = config.sharing.type;
  if (type !== 'csv' && type !== 'files') return;
  const location = resolve(defaultLocation(config));
  const added = await store.importOnce(location, async () => {
    const from = await existingFolderStore(type, location, config);
    return from === undefined ? undefined : from.list();
  });
  if (added !== undefined)
    log.info(`sharing: imported ${added} share(s) from ${location} into the PostgreSQL table (once)`);
}

export class CsvStore implements ShareStore {
  readonly type = 'csv';
  private rows: ShareRecord[] = [];
  private readonly serial = new Serial();
  private readonly codec;
  constructor(
    readonly location: string,
    private readonly config: Config,
  ) {
    this.codec = stockEncoding(config.encoding.stock);
  }

  async open(): Promise<void> {
    let bytes: Buffer | undefined;
    try {
      bytes = await readFile(this.location);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    if (bytes === undefined) {
      // As Radicale: the folder is made (its parent must exist), the new file holds the header only.
      // With PostgreSQL storage the default parent (filesystem_folder) holds no collections and need
      // not exist: it is made too.
      const recursive = this.config.storage.type === 'postgresql';
      await mkdir(dirname(this.location), { recursive }).catch((e: unknown) => {
        if (!isErrno(e, 'EEXIST')) throw e;
      });
      this.rows = [];
      await this.save();
      return;
    }
    this.rows = parseCsvDatabase(this.codec.decode(bytes), this.location);
  }

  list(): Promise<ShareRecord[]> {
    return Promise.resolve([...this.rows]);
  }

  get(type: ShareType, key: string): Promise<ShareRecord | undefined> {
    return Promise.resolve(this.rows.find((r) => r.ShareType === type && r.PathOrToken === key));
  }

  create(r: ShareRecord): Promise<StoreResult> {
    return this.serial.run(async () => {
      if (this.rows.some((x) => x.ShareType === r.ShareType && x.PathOrToken === r.PathOrToken))
        return 'conflict';
      const before = this.rows;
      this.rows = [...before, r];
      await this.saveOrRestore(before);
      return 'ok';
    });
  }

  update(type: ShareType, key: string, change: (r: ShareRecord) => ShareRecord): Promise<StoreResult> {
    return this.serial.run(async () => {
      const i = this.rows.findIndex((x) => x.ShareType === type && x.PathOrToken === key);
      const old = this.rows[i];
      if (old === undefined) return 'not-found';
      const before = this.rows;
      this.rows = before.map((x, k) => (k === i ? change(old) : x));
      await this.saveOrRestore(before);
      return 'ok';
    });
  }

  delete(type: ShareType, key: string): Promise<StoreResult> {
    return this.serial.run(async () => {
      const before = this.rows;
      const rest = before.filter((x) => !(x.ShareType === type && x.PathOrToken === key));
      if (rest.length === before.length) return 'not-found';
      this.rows = rest;
      await this.saveOrRestore(before);
      return 'ok';
    });
  }

  close(): Promise<void> {
    return this.serial.run(() => Promise.resolve());
  }

  replaceAll(records: readonly ShareRecord[]): Promise<number> {
    return this.serial.run(async () => {
      const before = this.rows;
      this.rows = [...records];
      await this.saveOrRestore(before);
      return records.length;
    });
  }

  private async saveOrRestore(before: ShareRecord[]): Promise<void> {
    try {
      await this.save();
    } catch (e) {
      this.rows = before;
      throw e;
    }
  }

  private async save(): Promise<void> {
    const text = csvLine(SHARE_FIELDS) + this.rows.map((r) => csvLine(csvCells(r))).join('');
    await atomicWrite(
      dirname(this.location),
      this.location.slice(dirname(this.location).length + 1),
      this.codec.encode(text),
      fsOptions(this.config),
    );
  }
}

/** Parses a whole csv database; throws ShareFormatError (with the line) as Radicale refuses to load it. */
export function parseCsvDatabase(text: string, where: string): ShareRecord[] {
  const rows = parseSemicolonCsv(text.replace(/^\uFEFF/, ''));
  const header = rows.shift() ?? [];
  if (header.join(';') !== SHARE_FIELDS.join(';'))
    throw new ShareFormatError(`${where}: the header is not ${SHARE_FIELDS.join(';')}`);
  const seen = new Set<string>();
  const out: ShareRecord[] = [];
  rows.forEach((cells, i) => {
    if (cells.length === 1 && cells[0] === '') return;
    const at = `${where}, line ${i + 2}`;
    if (cells.length !== SHARE_FIELDS.length)
      throw new ShareFormatError(`${at}: ${cells.length} fields, expected ${SHARE_FIELDS.length}`);
    const line = cells.join(';');
    if (seen.has(line)) throw new ShareFormatError(`${at}: duplicate row`);
    seen.add(line);
    try {
      out.push(recordOf(Object.fromEntries(SHARE_FIELDS.map((f, k) => [f, cells[k]]))));
    } catch (e) {
      throw new ShareFormatError(`${at}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return out;
}

export class FilesStore implements ShareStore {
  readonly type = 'files';
  private readonly serial = new Serial();
  constructor(
    readonly location: string,
    private readonly config: Config,
  ) {}

  private file(type: ShareType, key: string): { dir: string; name: string } {
    return { dir: join(this.location, type), name: quoteAll(key) };
  }

  async open(): Promise<void> {
    await mkdir(this.location, { recursive: true });
    for (const t of ['token', 'map']) await mkdir(join(this.location, t), { recursive: true });
  }

  async list(): Promise<ShareRecord[]> {
    const out: ShareRecord[] = [];
    for (const type of ['token', 'map'] as const) {
      let names: string[];
      try {
        names = await readdir(join(this.location, type));
      } catch (e) {
        if (isErrno(e, 'ENOENT')) continue;
        throw e;
      }
      for (const name of names.sort()) {
        if (name.startsWith('.')) continue; // temp files of a write
        const r = await this.read(join(this.location, type, name));
        if (r?.ShareType === type) out.push(r);
      }
    }
    return out;
  }

  private async read(path: string): Promise<ShareRecord | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'EISDIR')) return undefined;
      throw e;
    }
    try {
      return readShareFile(bytes);
    } catch (e) {
      throw new ShareFormatError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  get(type: ShareType, key: string): Promise<ShareRecord | undefined> {
    const f = this.file(type, key);
    return this.read(join(f.dir, f.name));
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
  }

  create(r: ShareRecord): Promise<StoreResult> {
    return this.serial.run(async () => {
      const f = this.file(r.ShareType, r.PathOrToken);
      if (await this.exists(join(f.dir, f.name))) return 'conflict';
      await mkdir(f.dir, { recursive: true });
      await atomicWrite(f.dir, f.name, shareFileBytes(r), fsOptions(this.config));
      return 'ok';
    });
  }

  update(type: ShareType, key: string, change: (r: ShareRecord) => ShareRecord): Promise<StoreResult> {
    return this.serial.run(async () => {
      const f = this.file(type, key);
      const old = await this.read(join(f.dir, f.name));
      if (old === undefined) return 'not-found';
      await atomicWrite(f.dir, f.name, shareFileBytes(change(old)), fsOptions(this.config));
      return 'ok';
    });
  }

  close(): Promise<void> {
    return this.serial.run(() => Promise.resolve());
  }

  replaceAll(records: readonly ShareRecord[]): Promise<number> {
    return this.serial.run(async () => {
      const keep = new Set(records.map((r) => `${r.ShareType}/${quoteAll(r.PathOrToken)}`));
      for (const type of ['token', 'map'] as const) {
        await mkdir(join(this.location, type), { recursive: true });
        for (const name of await readdir(join(this.location, type)))
          if (!name.startsWith('.') && !keep.has(`${type}/${name}`))
            await unlink(join(this.location, type, name)).catch((e: unknown) => {
              if (!isErrno(e, 'ENOENT', 'EISDIR')) throw e;
            });
      }
      for (const r of records) {
        const f = this.file(r.ShareType, r.PathOrToken);
        await atomicWrite(f.dir, f.name, shareFileBytes(r), fsOptions(this.config));
      }
      return records.length;
    });
  }

  delete(type: ShareType, key: string): Promise<StoreResult> {
    return this.serial.run(async () => {
      const f = this.file(type, key);
      try {
        await unlink(join(f.dir, f.name));
        return 'ok';
      } catch (e) {
        if (isErrno(e, 'ENOENT')) return 'not-found';
        throw e;
      }
    });
  }
}
