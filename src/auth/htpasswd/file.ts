/**
 * Reading an htpasswd file as Radicale 3.8 does: `login:digest` lines, `#` comments and blank lines. The
 * login is everything before the first colon and the digest everything after it, both kept as written
 * (spaces included: a plain password may end with one, a login may start with one). At start-up a line
 * without colon, with an empty login or digest, or a duplicate login is an error naming the file and
 * line; when the file changes while the server runs, such lines are skipped with a warning and the
 * others keep working, so one bad edit does not lock every user out.
 */
import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { TextDecoder } from 'node:util';

export class HtpasswdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HtpasswdError';
  }
}

/** login → digest. */
export type HtpasswdEntries = ReadonlyMap<string, string>;

export interface ParsedHtpasswd {
  readonly entries: HtpasswdEntries;
  /** The lines skipped (lenient mode only), each naming file and line. */
  readonly problems: readonly string[];
}

/** Python's universal newlines: `\r\n`, `\r` and `\n` all end a line. */
const LINE_END = /\r\n|\r|\n/;

function lineProblem(line: string, entries: ReadonlyMap<string, string>): string | undefined {
  const colon = line.indexOf(':');
  if (colon < 0) return "expected 'user:password', found no ':'";
  if (colon === 0) return 'empty user name';
  if (colon === line.length - 1) return 'empty password';
  const login = line.slice(0, colon);
  return entries.has(login) ? `duplicate user ${JSON.stringify(login)}` : undefined;
}

/**
 * Parses the file's text. `strict` (start-up) throws on the first bad line; otherwise bad lines are
 * skipped and listed in `problems`.
 */
export function parseHtpasswd(text: string, source: string, strict = true): ParsedHtpasswd {
  const entries = new Map<string, string>();
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(LINE_END);
  lines.forEach((line, index) => {
    const content = line.trimStart();
    if (content === '' || content.startsWith('#')) return;
    const problem = lineProblem(line, entries);
    if (problem !== undefined) {
      const message = `${source}, line ${index + 1}: ${problem}`;
      if (strict) throw new HtpasswdError(message);
      problems.push(message);
      return;
    }
    const colon = line.indexOf(':');
    entries.set(line.slice(0, colon), line.slice(colon + 1));
  });
  return { entries, problems };
}

export interface HtpasswdFileOptions {
  /** Keep the parsed file and re-read it only when its size or mtime changes ([auth] htpasswd_cache). */
  readonly cache: boolean;
  /** The file's character encoding ([encoding] stock). */
  readonly encoding: string;
  /** Told about lines skipped in a file changed at run time (once per change). */
  readonly warn: (message: string) => void;
}

/**
 * Keeps the parsed file. With `cache` the file is only re-read when its size or mtime changes (one stat
 * per login); without it the file is looked at on every login (stat of inode, size, mtime and ctime in
 * nanoseconds; read again when any changed), and re-parsed only when its bytes changed. The first load
 * is strict, later ones lenient.
 */
export class HtpasswdFile {
  private entries: HtpasswdEntries | undefined;
  private stamp = '';
  private bytes: Buffer | undefined;
  private everyStamp = '';
  private readonly decoder: TextDecoder;

  constructor(
    readonly path: string,
    private readonly options: HtpasswdFileOptions,
  ) {
    try {
      this.decoder = new TextDecoder(options.encoding, { fatal: true });
    } catch {
      throw new HtpasswdError(`[encoding] stock: unknown encoding ${JSON.stringify(options.encoding)}`);
    }
  }

  async load(): Promise<HtpasswdEntries> {
    return this.options.cache ? this.loadIfChanged() : this.loadEveryTime();
  }

  private async loadIfChanged(): Promise<HtpasswdEntries> {
    const st = await stat(this.path, { bigint: true });
    const stamp = `${st.size}:${st.mtimeNs}`;
    if (this.entries !== undefined && stamp === this.stamp) return this.entries;
    const entries = this.parse(await readFile(this.path));
    this.entries = entries;
    this.stamp = stamp;
    return entries;
  }

  private async loadEveryTime(): Promise<HtpasswdEntries> {
    // Looked at on every login, as Radicale does; a stat (inode, size, modification and change times)
    // tells whether the file can have changed, so an unchanged file is not read again. The stat is
    // synchronous: microseconds, where a thread-pool round trip would add to every request. The times
    // in milliseconds keep a sub-microsecond fraction: as telling as nanoseconds, without BigInt stats.
    const st = statSync(this.path);
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    if (this.entries !== undefined && stamp === this.everyStamp) return this.entries;
    const bytes = await readFile(this.path);
    this.everyStamp = stamp;
    if (this.entries !== undefined && this.bytes?.equals(bytes) === true) return this.entries;
    const entries = this.parse(bytes);
    this.entries = entries;
    this.bytes = bytes;
    return entries;
  }

  private parse(bytes: Buffer): HtpasswdEntries {
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      throw new HtpasswdError(`${this.path}: not valid ${this.options.encoding}`);
    }
    const first = this.entries === undefined;
    const parsed = parseHtpasswd(text, this.path, first);
    for (const problem of parsed.problems) this.options.warn(`htpasswd: ${problem} (line ignored)`);
    return parsed.entries;
  }
}
