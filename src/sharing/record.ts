/**
 * Radicale's share record (radicale/sharing/__init__.py DB_FIELDS_V1) and its two stored forms:
 * a row of the `;`-separated CSV file (sharing/csv.py) and the pickled `("1", {row})` of the "files"
 * backend (sharing/files.py). Both are read and written so that Radicale and Almanac share one database.
 */
import { toBool } from '../config/convert.js';
import { dumpPickleValue, loadPickle, type PickleOut, type PickleValue } from '../storage/pickle.js';
import { pyStrRepr } from '../compat/python/repr.js';

export const SHARE_FIELDS = [
  'ShareType',
  'PathOrToken',
  'PathMapped',
  'Conversion',
  'Owner',
  'User',
  'Permissions',
  'EnabledByOwner',
  'EnabledByUser',
  'HiddenByOwner',
  'HiddenByUser',
  'TimestampCreated',
  'TimestampUpdated',
  'Properties',
  'Actions',
] as const;

export type ShareField = (typeof SHARE_FIELDS)[number];
export type ShareType = 'token' | 'map';

/** A value of a dict field (Properties, Actions): what Python's repr and JSON both carry. */
export type DictValue = string | number | boolean | null | { readonly [k: string]: DictValue };
export type Dict = { readonly [k: string]: DictValue };

export interface ShareRecord {
  readonly ShareType: ShareType;
  /** map: the sharee's virtual path (`/bob/from-alice/`); token: `/.token/v1/<44>/`. */
  readonly PathOrToken: string;
  /** The owner's collection, `/alice/cal/`. */
  readonly PathMapped: string;
  readonly Conversion: string;
  readonly Owner: string;
  /** A user, `:group1,group2` or `@realm`. */
  readonly User: string;
  readonly Permissions: string;
  readonly EnabledByOwner: boolean;
  readonly EnabledByUser: boolean;
  readonly HiddenByOwner: boolean;
  readonly HiddenByUser: boolean;
  readonly TimestampCreated: number;
  readonly TimestampUpdated: number;
  /** Overlay properties; null = absent (None). */
  readonly Properties: Dict | null;
  readonly Actions: Dict | null;
}

/** Properties a sharee may overlay (Radicale's whitelist). */
export const OVERLAY_PROPERTIES = [
  'C:calendar-description',
  'ICAL:calendar-color',
  'CR:addressbook-description',
  'INF:addressbook-color',
  'D:displayname',
  'ICAL:calendar-order',
] as const;

/** A collection path as the storage names it: `/alice/cal/` → `alice/cal`. */
export function storagePath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

export const TOKEN_PATH = /^\/\.token\/v1\/[A-Za-z0-9_-]{44}\/$/;
/** Radicale's rights letters (rights/__init__.py INTERNAL_PERMISSIONS). */
export const PERMISSION_LETTERS = 'RrWwiDdOoTtMmPpEe';

/**
 * Radicale's timestamp: seconds from 1970-01-01 to the *local* naive time (not true UTC epoch seconds
 * when the server's zone is not UTC); kept so that both servers write the same numbers.
 */
export function radicaleTimestamp(now = new Date()): number {
  return Math.floor(now.getTime() / 1000) - now.getTimezoneOffset() * 60;
}

// ---------------------------------------------------------------------------------------------
// CSV (Python csv, excel dialect with ';')

/** Python's csv module, excel dialect with `;`: quoted fields with doubled quotes, CRLF or LF lines. */
export function parseSemicolonCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endField = (): void => {
    row.push(field);
    field = '';
  };
  while (i < text.length) {
    const c = text[i] ?? '';
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ';') endField();
    else if (c === '\r' || c === '\n') {
      endField();
      rows.push(row);
      row = [];
      if (c === '\r' && text[i + 1] === '\n') i++;
    } else field += c;
    i++;
  }
  if (field !== '' || row.length > 0) {
    endField();
    rows.push(row);
  }
  return rows;
}

/** One field as csv.writer (QUOTE_MINIMAL) writes it. */
function csvField(s: string): string {
  return /[;"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvField).join(';')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// Python repr of dicts (what Radicale's csv backend writes) and a reader for it

/** Python's `str(dict)`: `{'D:displayname': 'Foo', 'n': 1, 'b': True, 'x': None}`. */
export function pyRepr(v: DictValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return pyStrRepr(v);
  return `{${Object.entries(v)
    .map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}

/** Reads a Python literal of plain data (dict, str, int, bool, None); undefined when it is not one. */
export function parsePyLiteral(text: string): DictValue | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  const value = (depth: number): DictValue => {
    if (depth > 16) throw new Error('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, DictValue> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        const k = value(depth + 1);
        if (typeof k !== 'string') throw new Error('dict key is not a string');
        ws();
        if (text[i] !== ':') throw new Error('expected :');
        i++;
        out[k] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') {
            i++;
            return out;
          }
          continue;
        }
        if (text[i] === '}') {
          i++;
          return out;
        }
        throw new Error('expected , or }');
      }
    }
    if (c === "'" || c === '"') {
      i++;
      let s = '';
      while (i < text.length && text[i] !== c) {
        let ch = text[i++] ?? '';
        if (ch === '\\') {
          const e = text[i++] ?? '';
          const simple: Record<string, string> = {
            n: '\n',
            r: '\r',
            t: '\t',
            '\\': '\\',
            "'": "'",
            '"': '"',
          };
          if (e in simple) ch = simple[e] ?? '';
          else if (e === 'x' || e === 'u' || e === 'U') {
            const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
            const hex = text.slice(i, i + n);
            if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new Error('bad escape');
            ch = String.fromCodePoint(parseInt(hex, 16));
            i += n;
          } else ch = `\\${e}`;
        }
        s += ch;
      }
      if (text[i] !== c) throw new Error('unterminated string');
      i++;
      return s;
    }
    const word = /^(True|False|None|-?\d+)/.exec(text.slice(i, i + 24));
    if (!word?.[1]) throw new Error('unexpected text');
    i += word[1].length;
    if (word[1] === 'True') return true;
    if (word[1] === 'False') return false;
    if (word[1] === 'None') return null;
    return Number(word[1]);
  };
  try {
    const v = value(0);
    ws();
    return i === text.length ? v : undefined;
  } catch {
    return undefined;
  }
}

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A dict field as read from csv: empty → {}, then JSON, then the Python repr Radicale writes. */
export function parseDictField(raw: string): Dict | undefined {
  if (raw.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(raw);
    if (isDict(v)) return v;
  } catch {
    // Python repr, below
  }
  const v = parsePyLiteral(raw.trim());
  return isDict(v) ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// record <-> row

export class ShareFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShareFormatError';
  }
}

function boolOf(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    try {
      return toBool(v);
    } catch {
      // below
    }
  }
  throw new ShareFormatError(`${field} ${JSON.stringify(String(v))} is not a boolean`);
}

function intOf(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v);
  throw new ShareFormatError(`${field} ${JSON.stringify(String(v))} is not a number`);
}

function strOf(v: unknown, field: string): string {
  if (typeof v === 'string') return v;
  throw new ShareFormatError(`${field} is not a string`);
}

/** Builds a record from one row of field values (csv: strings; files: typed values). */
export function recordOf(row: Readonly<Record<string, unknown>>): ShareRecord {
  for (const f of SHARE_FIELDS) if (!(f in row)) throw new ShareFormatError(`field ${f} is missing`);
  for (const f of Object.keys(row))
    if (!(SHARE_FIELDS as readonly string[]).includes(f)) throw new ShareFormatError(`unknown field ${f}`);
  const type = strOf(row.ShareType, 'ShareType');
  if (type !== 'token' && type !== 'map')
    throw new ShareFormatError(`ShareType ${JSON.stringify(type)} is neither token nor map`);
  const dict = (f: 'Properties' | 'Actions'): Dict | null => {
    const v = row[f];
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') {
      const d = parseDictField(v);
      if (d === undefined) throw new ShareFormatError(`${f} is not a dictionary`);
      return d;
    }
    if (v instanceof Map) return dictOfPickle(v as Map<unknown, PickleValue>, f);
    if (isDict(v)) return v;
    throw new ShareFormatError(`${f} is not a dictionary`);
  };
  return {
    ShareType: type,
    PathOrToken: strOf(row.PathOrToken, 'PathOrToken'),
    PathMapped: strOf(row.PathMapped, 'PathMapped'),
    Conversion: strOf(row.Conversion, 'Conversion') || 'none',
    Owner: strOf(row.Owner, 'Owner'),
    User: strOf(row.User, 'User'),
    Permissions: strOf(row.Permissions, 'Permissions'),
    EnabledByOwner: boolOf(row.EnabledByOwner, 'EnabledByOwner'),
    EnabledByUser: boolOf(row.EnabledByUser, 'EnabledByUser'),
    HiddenByOwner: boolOf(row.HiddenByOwner, 'HiddenByOwner'),
    HiddenByUser: boolOf(row.HiddenByUser, 'HiddenByUser'),
    TimestampCreated: intOf(row.TimestampCreated, 'TimestampCreated'),
    TimestampUpdated: intOf(row.TimestampUpdated, 'TimestampUpdated'),
    Properties: dict('Properties'),
    Actions: dict('Actions'),
  };
}

function dictOfPickle(m: Map<unknown, PickleValue>, f: string): Dict {
  const out: Record<string, DictValue> = {};
  for (const [k, v] of m) {
    if (typeof k !== 'string') throw new ShareFormatError(`${f} has a key that is not a string`);
    if (v instanceof Map) out[k] = dictOfPickle(v, f);
    else if (typeof v === 'string' || typeof v === 'boolean' || v === null) out[k] = v;
    else if (typeof v === 'number' || typeof v === 'bigint') out[k] = Number(v);
    else throw new ShareFormatError(`${f}.${k} is not plain data`);
  }
  return out;
}

/** The csv cells of a record, as Radicale's csv backend writes them. */
export function csvCells(r: ShareRecord): string[] {
  return SHARE_FIELDS.map((f) => {
    const v = r[f];
    if (v === null) return '';
    if (typeof v === 'boolean') return v ? 'True' : 'False';
    if (typeof v === 'number') return String(v);
    if (typeof v === 'string') return v;
    return pyRepr(v);
  });
}

function pickleOfDict(d: Dict): ReadonlyMap<string, PickleOut> {
  return new Map(
    Object.entries(d).map(([k, v]): [string, PickleOut] => [
      k,
      typeof v === 'object' && v !== null ? pickleOfDict(v) : v,
    ]),
  );
}

/** The bytes of a "files" backend share file: pickle of `("1", {row})`. */
export function shareFileBytes(r: ShareRecord): Buffer {
  const row = new Map<string, PickleOut>(
    SHARE_FIELDS.map((f): [string, PickleOut] => {
      const v = r[f];
      return [f, typeof v === 'object' && v !== null ? pickleOfDict(v) : v];
    }),
  );
  return dumpPickleValue({ tuple: ['1', row] });
}

/** Reads a share file; a version other than "1" (which Radicale skips) gives undefined. */
export function readShareFile(bytes: Uint8Array): ShareRecord | undefined {
  const v = loadPickle(bytes);
  if (!Array.isArray(v) || v.length !== 2) throw new ShareFormatError('not a (version, share) tuple');
  const [version, dict] = v;
  if (version !== '1') return undefined;
  if (!(dict instanceof Map)) throw new ShareFormatError('the share is not a dictionary');
  const row: Record<string, unknown> = {};
  for (const [k, val] of dict) if (typeof k === 'string') row[k] = val;
  return recordOf(row);
}

/** Python's urllib.parse.quote(s, safe=''): the name of a share file. */
export function quoteAll(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_.\-~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}
