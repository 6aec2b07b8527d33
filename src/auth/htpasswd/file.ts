/**
 * Reading an htpasswd file: `login:digest` lines, `#` comments and blank lines. A malformed line or a
 * duplicate login is an error naming the file and line, because silently ignoring it would lock a user
 * out (or let an old password keep working) without anyone noticing.
 */
import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

export class HtpasswdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HtpasswdError';
  }
}

/** login → digest. */
export type HtpasswdEntries = ReadonlyMap<string, string>;

export function parseHtpasswd(text: string, source: string): HtpasswdEntries {
  const entries = new Map<string, string>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const where = `${source}, line ${index + 1}`;
    if (colon < 0) throw new HtpasswdError(`${where}: expected 'user:password', found no ':'`);
    if (colon === 0) throw new HtpasswdError(`${where}: empty user name`);
    const login = line.slice(0, colon);
    if (entries.has(login)) throw new HtpasswdError(`${where}: duplicate user ${JSON.stringify(login)}`);
    entries.set(login, line.slice(colon + 1));
  });
  return entries;
}

/**
 * Keeps the parsed file. With `cache` the file is only re-read when its size or mtime changes (one stat
 * per login); without it the file is looked at on every login (stat of inode, size, mtime and ctime in
 * nanoseconds; read again when any changed), and re-parsed only when its bytes changed.
 */
export class HtpasswdFile {
  private entries: HtpasswdEntries | undefined;
  private stamp = '';
  private bytes: Buffer | undefined;
  private everyStamp = '';

  constructor(
    readonly path: string,
    private readonly cache: boolean,
  ) {}

  async load(): Promise<HtpasswdEntries> {
    return this.cache ? this.loadIfChanged() : this.loadEveryTime();
  }

  private async loadIfChanged(): Promise<HtpasswdEntries> {
    const st = await stat(this.path, { bigint: true });
    const stamp = `${st.size}:${st.mtimeNs}`;
    if (this.entries !== undefined && stamp === this.stamp) return this.entries;
    const entries = parseHtpasswd(await this.read(), this.path);
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
    const entries = parseHtpasswd(decodeUtf8(bytes, this.path), this.path);
    this.entries = entries;
    this.bytes = bytes;
    return entries;
  }

  private async read(): Promise<string> {
    return decodeUtf8(await readFile(this.path), this.path);
  }
}

function decodeUtf8(bytes: Buffer, source: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HtpasswdError(`${source}: not valid UTF-8`);
  }
}
