/**
 * The journal of collection swaps that take two renames (a MOVE over an existing collection, or a
 * replacement where the filesystem cannot exchange two folders): before the first rename, a file in
 * `<filesystem_folder>/.Almanac.journal/` names the three folders involved; it is removed once the
 * swap is done. A crash between the two renames leaves the collection's path empty and the old
 * collection under a temp name: the next start (holding `.Radicale.lock`) puts it back.
 * `--verify-storage` reports a swap still pending.
 */
import { readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { atomicWrite, isErrno, makeDirs, removeTree, syncDir, type FsOptions } from './fsutil.js';

export const JOURNAL_FOLDER = '.Almanac.journal';

/** Paths relative to `collection-root`. */
interface Entry {
  readonly v: 1;
  /** The collection's path, empty between the two renames. */
  readonly final: string;
  /** What goes there: a prepared folder, or the collection a MOVE takes. */
  readonly source: string;
  /** Where the replaced collection waits until it is removed. */
  readonly aside: string;
}

export interface PendingSwap {
  readonly journal: string;
  readonly final: string;
  /** What the next start does. */
  readonly action: 'restore' | 'finish' | 'forget';
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    (e: unknown) => {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return false;
      throw e;
    },
  );

export class SwapJournal {
  private readonly dir: string;

  constructor(
    folder: string,
    private readonly root: string,
    private readonly fs: FsOptions,
  ) {
    this.dir = join(folder, JOURNAL_FOLDER);
  }

  /** Records a swap about to start; the returned function removes the record once it is done. */
  async begin(final: string, source: string, aside: string): Promise<() => Promise<void>> {
    const entry: Entry = { v: 1, final: this.rel(final), source: this.rel(source), aside: this.rel(aside) };
    const name = `${randomBytes(8).toString('hex')}.json`;
    await makeDirs(this.dir, this.fs);
    await atomicWrite(this.dir, name, JSON.stringify(entry), this.fs);
    return async () => {
      await unlink(join(this.dir, name)).catch(() => undefined);
      await syncDir(this.dir, this.fs);
    };
  }

  /** Swaps recorded and not finished (a crash came in between), with what the next start does. */
  async pending(): Promise<PendingSwap[]> {
    const out: PendingSwap[] = [];
    for (const [journal, entry] of await this.entries()) {
      out.push({ journal, final: entry.final, action: await this.actionFor(entry) });
    }
    return out;
  }

  /**
   * Puts every interrupted swap right (call holding `.Radicale.lock` exclusively): a collection moved
   * aside and not replaced goes back to its path; one replaced has its old copy removed. Returns what
   * was done, for the log.
   */
  async recover(): Promise<PendingSwap[]> {
    const done: PendingSwap[] = [];
    for (const [journal, entry] of await this.entries()) {
      const action = await this.actionFor(entry);
      if (action === 'restore') await rename(this.abs(entry.aside), this.abs(entry.final));
      else if (action === 'finish') await removeTree(this.abs(entry.aside));
      await syncDir(join(this.abs(entry.final), '..'), this.fs);
      await unlink(join(this.dir, journal));
      done.push({ journal, final: entry.final, action });
    }
    if (done.length > 0) await syncDir(this.dir, this.fs);
    return done;
  }

  /** Folders named by pending swaps (never to be removed as leftovers), relative to collection-root. */
  async protectedPaths(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const [, e] of await this.entries()) for (const path of [e.final, e.source, e.aside]) out.add(path);
    return out;
  }

  private async actionFor(e: Entry): Promise<PendingSwap['action']> {
    const aside = await exists(this.abs(e.aside));
    if (!aside) return 'forget'; // the first rename never happened, or all was done but this record
    // The old collection is aside: put back when its path is empty, else the swap was completed.
    return (await exists(this.abs(e.final))) ? 'finish' : 'restore';
  }

  private async entries(): Promise<[string, Entry][]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json')).sort();
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    const out: [string, Entry][] = [];
    for (const name of names) {
      const entry = parseEntry(await readFile(join(this.dir, name), 'utf8').catch(() => ''));
      if (entry !== undefined) out.push([name, entry]);
    }
    return out;
  }

  private rel(path: string): string {
    return relative(this.root, path).split(sep).join('/');
  }

  private abs(path: string): string {
    return join(this.root, ...path.split('/'));
  }
}

/** A journal entry, or undefined for a file that is not one (written half, or by someone else). */
function parseEntry(text: string): Entry | undefined {
  try {
    const e = JSON.parse(text) as Partial<Entry>;
    const ok = (p: unknown): p is string =>
      typeof p === 'string' && p !== '' && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
    if (e.v === 1 && ok(e.final) && ok(e.source) && ok(e.aside))
      return { v: 1, final: e.final, source: e.source, aside: e.aside };
  } catch {
    // not JSON
  }
  return undefined;
}
