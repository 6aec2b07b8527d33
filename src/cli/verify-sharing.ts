/**
 * `--verify-sharing` (Radicale 3.7+): checks the [sharing] database Radicale keeps, in either of its
 * formats (Radicale's sharing/csv.py and sharing/files.py):
 *   csv    `<filesystem_folder>/collection-db/sharing.csv` (or database_path): `;`-separated, a header
 *          of the 15 field names, one share per row
 *   files  `<filesystem_folder>/collection-db/files/{token,map}/<quote(PathOrToken)>`: a pickled tuple
 *          ("1", {15 fields})
 * Every share is checked: its type, token or path form, the owner's collection it maps to (which must
 * exist), conversion, permissions, flags, timestamps, overlay properties, duplicates. It reads only.
 *
 * With `[storage] type = postgresql` (and no database_path) the database is the table `shares`.
 * With `[sharing] type = none` there is no database to check (exit 2, nothing verified).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { toBool } from '../config/convert.js';
import type { Config } from '../config/schema.js';
import { stockEncoding } from '../storage/filesystem/stock-encoding.js';
import { loadPickle, type PickleValue } from '../storage/pickle.js';
import type { Storage } from '../storage/types.js';
import {
  PERMISSION_LETTERS,
  SHARE_FIELDS,
  TOKEN_PATH,
  parseDictField,
  parseSemicolonCsv,
  csvCells,
  quoteAll,
  type ShareField,
} from '../sharing/record.js';
import { PgShareStore } from '../sharing/pg-store.js';
import { usesTable } from '../sharing/store.js';

export { SHARE_FIELDS };

type Field = ShareField;
/** One share as read: csv gives strings; files give typed values. */
type Row = Partial<Record<Field, unknown>>;

const PERMISSION_SET = new Set(PERMISSION_LETTERS);

/** A flag as Radicale reads it: a bool (files), or a configparser boolean word (csv). */
function asBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  try {
    return toBool(v);
  } catch {
    return undefined;
  }
}

function asInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined;
}

function asDict(v: unknown): boolean {
  if (v === null || v === undefined || v instanceof Map) return true;
  return typeof v === 'string' && parseDictField(v) !== undefined;
}

/** The problems of one share (without the location prefix). */
async function shareProblems(row: Row, storage: Storage): Promise<string[]> {
  const problems: string[] = [];
  const str = (f: Field): string => {
    const v = row[f];
    return typeof v === 'string' ? v : '';
  };
  for (const f of SHARE_FIELDS) {
    if (!(f in row)) problems.push(`field ${f} is missing`);
  }
  const type = str('ShareType');
  const key = str('PathOrToken');
  const mapped = str('PathMapped');
  if (type !== 'token' && type !== 'map')
    problems.push(`ShareType ${JSON.stringify(type)} is neither token nor map`);
  if (type === 'token' && !TOKEN_PATH.test(key))
    problems.push(`token ${JSON.stringify(key)} is not /.token/v1/<44 characters>/`);
  if (type === 'map' && !(key.startsWith('/') && key.endsWith('/')))
    problems.push(`PathOrToken ${JSON.stringify(key)} does not start and end with /`);
  if (!(mapped.startsWith('/') && mapped.endsWith('/'))) {
    problems.push(`PathMapped ${JSON.stringify(mapped)} does not start and end with /`);
  } else {
    const info = await storage.getCollection(mapped.replace(/^\/+|\/+$/g, '')).catch(() => undefined);
    if (info === undefined) problems.push(`PathMapped ${mapped} is not a collection in the storage`);
    else if (str('Conversion') === 'bday' && info.tag !== 'VADDRESSBOOK')
      problems.push(
        `Conversion bday needs an address book, ${mapped} is ${info.tag || 'a plain collection'}`,
      );
  }
  const conversion = str('Conversion');
  if (conversion !== 'none' && conversion !== 'bday' && conversion !== '')
    problems.push(`Conversion ${JSON.stringify(conversion)} is neither none nor bday`);
  if (str('Owner') === '') problems.push('Owner is empty');
  const user = str('User');
  if (user === '' || user === ':' || user === '@') problems.push('User is empty');
  const perms = str('Permissions');
  const unknown = Array.from(perms).filter((c) => !PERMISSION_SET.has(c));
  if (unknown.length > 0)
    problems.push(`Permissions ${JSON.stringify(perms)}: unknown letter(s) ${unknown.join('')}`);
  if (perms.includes('P') && perms.includes('p'))
    problems.push(`Permissions ${JSON.stringify(perms)} holds both P and p`);
  if (perms.includes('E') && perms.includes('e'))
    problems.push(`Permissions ${JSON.stringify(perms)} holds both E and e`);
  for (const f of ['EnabledByOwner', 'EnabledByUser', 'HiddenByOwner', 'HiddenByUser'] as const) {
    if (f in row && asBool(row[f]) === undefined)
      problems.push(`${f} ${JSON.stringify(String(row[f]))} is not a boolean`);
  }
  for (const f of ['TimestampCreated', 'TimestampUpdated'] as const) {
    if (f in row && asInt(row[f]) === undefined)
      problems.push(`${f} ${JSON.stringify(String(row[f]))} is not a number`);
  }
  for (const f of ['Properties', 'Actions'] as const) {
    if (f in row && !asDict(row[f])) problems.push(`${f} is not a dictionary`);
  }
  return problems;
}

interface Loaded {
  readonly shares: { where: string; row: Row }[];
  readonly problems: string[];
}

function loadCsv(path: string, decode: (bytes: Uint8Array) => string): Loaded {
  const problems: string[] = [];
  let text: string;
  try {
    text = decode(readFileSync(path));
  } catch (e) {
    return { shares: [], problems: [`${path}: cannot read the sharing database: ${String(e)}`] };
  }
  const rows = parseSemicolonCsv(text.replace(/^\uFEFF/, ''));
  const header = rows.shift() ?? [];
  if (header.join(';') !== SHARE_FIELDS.join(';')) {
    problems.push(`${path}: the header is not ${SHARE_FIELDS.join(';')}`);
    return { shares: [], problems };
  }
  const seen = new Set<string>();
  const shares: { where: string; row: Row }[] = [];
  rows.forEach((cells, i) => {
    const where = `${path}, line ${i + 2}`;
    if (cells.length === 1 && cells[0] === '') return;
    if (cells.length !== SHARE_FIELDS.length) {
      problems.push(`${where}: ${cells.length} fields, expected ${SHARE_FIELDS.length}`);
      return;
    }
    const line = cells.join(';');
    if (seen.has(line)) problems.push(`${where}: duplicate row`);
    seen.add(line);
    shares.push({ where, row: Object.fromEntries(SHARE_FIELDS.map((f, k) => [f, cells[k]])) });
  });
  return { shares, problems };
}

function rowOfPickle(v: PickleValue): Row | string {
  if (!Array.isArray(v) || v.length !== 2) return 'not a (version, share) tuple';
  const [version, dict] = v;
  if (version !== '1') return `database version ${JSON.stringify(version)}, expected "1" (Radicale skips it)`;
  if (!(dict instanceof Map)) return 'the share is not a dictionary';
  const row: Row = {};
  for (const [k, val] of dict) if (typeof k === 'string') (row as Record<string, unknown>)[k] = val;
  return row;
}

function loadFiles(folder: string): Loaded {
  const problems: string[] = [];
  const shares: { where: string; row: Row }[] = [];
  try {
    if (!statSync(folder).isDirectory()) throw new Error('not a folder');
  } catch (e) {
    return { shares, problems: [`${folder}: cannot read the sharing database: ${String(e)}`] };
  }
  for (const type of ['token', 'map']) {
    let names: string[];
    try {
      names = readdirSync(join(folder, type));
    } catch {
      continue; // Radicale creates the sub-folders when it starts
    }
    for (const name of names) {
      const where = join(folder, type, name);
      let parsed: Row | string;
      try {
        parsed = rowOfPickle(loadPickle(readFileSync(where)));
      } catch (e) {
        parsed = `unreadable: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (typeof parsed === 'string') {
        problems.push(`${where}: ${parsed}`);
        continue;
      }
      if (parsed.ShareType !== type)
        problems.push(`${where}: ShareType ${String(parsed.ShareType)} in the ${type}/ folder`);
      if (typeof parsed.PathOrToken === 'string' && quoteAll(parsed.PathOrToken) !== name)
        problems.push(
          `${where}: the file name is not the quoted PathOrToken (${quoteAll(parsed.PathOrToken)})`,
        );
      shares.push({ where, row: parsed });
    }
  }
  return { shares, problems };
}

/** The table of PostgreSQL storage (usesTable): each row checked in its csv form. */
async function loadTable(url: string): Promise<Loaded> {
  const store = PgShareStore.connect(url, pino({ level: 'silent' }));
  try {
    await store.open();
    const records = await store.list();
    return {
      shares: records.map((r) => ({
        where: `share ${r.ShareType} ${r.PathOrToken}`,
        row: Object.fromEntries(csvCells(r).map((v, i) => [SHARE_FIELDS[i], v])) as Row,
      })),
      problems: [],
    };
  } catch (e) {
    return { shares: [], problems: [`PostgreSQL table shares: cannot read it: ${String(e)}`] };
  } finally {
    await store.close();
  }
}

export interface SharingReport {
  readonly status: number;
  readonly lines: string[];
}

/** Verifies the sharing database of `config`; `storage` (opened) tells which collections exist. */
export async function verifySharing(config: Config, storage: Storage): Promise<SharingReport> {
  const type = config.sharing.type;
  const base = join(config.storage.filesystem_folder, 'collection-db');
  if (type === 'none') {
    return {
      status: 2,
      lines: ['Sharing is off ([sharing] type = none): there is no sharing database, nothing was verified.'],
    };
  }
  if (type !== 'csv' && type !== 'files') {
    return {
      status: 2,
      lines: [
        `[sharing] type = ${type} is a plugin: Almanac cannot read its database, nothing was verified.`,
      ],
    };
  }
  const table = usesTable(config);
  const where = table
    ? 'PostgreSQL table shares'
    : config.sharing.database_path || join(base, type === 'csv' ? 'sharing.csv' : 'files');
  // Radicale reads the csv file in [encoding] stock.
  const decode = (bytes: Uint8Array): string => stockEncoding(config.encoding.stock).decode(bytes);
  const loaded = table
    ? await loadTable(config.storage.postgresql_url)
    : type === 'csv'
      ? loadCsv(where, decode)
      : loadFiles(where);
  const lines = [...loaded.problems];
  const keys = new Map<string, string>();
  for (const { where: at, row } of loaded.shares) {
    for (const problem of await shareProblems(row, storage)) lines.push(`${at}: ${problem}`);
    const key = `${String(row.ShareType)} ${String(row.PathOrToken)}`;
    const first = keys.get(key);
    if (first !== undefined)
      lines.push(`${at}: PathOrToken ${String(row.PathOrToken)} is already the key of ${first}`);
    else keys.set(key, at);
  }
  const problems = lines.length;
  lines.push(
    problems === 0
      ? `Sharing database ${where} (${table ? 'postgresql' : type}): ${loaded.shares.length} share(s), no problems found`
      : `Sharing database ${where} (${table ? 'postgresql' : type}): ${loaded.shares.length} share(s), ${problems} problem(s)`,
  );
  return { status: problems === 0 ? 0 : 1, lines };
}
