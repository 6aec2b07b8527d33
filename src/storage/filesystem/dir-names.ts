/** The names in a folder, in the raw order Radicale lists them (and so hashes them into CTags and tokens). */
import { opendirSync, type Dirent } from 'node:fs';

/**
 * Names in raw directory order (fs.readdir sorts; opendir does not, and Radicale uses the raw order),
 * optionally only of the entries `keep` accepts.
 */
export function listNames(dir: string, keep?: (entry: Dirent) => boolean): Promise<string[]> {
  // Synchronous reads in big batches: a 10,000-entry folder takes a few milliseconds, far less than
  // one promise per entry of the async iterator.
  try {
    const names: string[] = [];
    const d = opendirSync(dir, { bufferSize: 1024 });
    try {
      for (let ent = d.readSync(); ent !== null; ent = d.readSync()) {
        if (keep === undefined || keep(ent)) names.push(ent.name);
      }
    } finally {
      d.closeSync();
    }
    return Promise.resolve(names);
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/**
 * Names that may be folders: directories, symbolic links and entries whose type the filesystem does
 * not report (the caller stats those); plain files are left out, so finding the sub-collections of a
 * 10,000-item calendar costs no stat per item.
 */
export function listFolderNames(dir: string): Promise<string[]> {
  return listNames(dir, (entry) => !entry.isFile());
}
