/**
 * Radicale's access check on top of the rights letters (app/base.py Access): a tagged collection
 * needs the lower-case letter on itself, a plain collection the upper-case one, an item the lower-case
 * letter on its collection; a resource that does not exist yet passes with the letter (either case) on
 * its own path or the lower-case letter on its parent.
 */
import type { Config } from '../config/schema.js';
import type { Access, Resource } from '../dav/context.js';
import type { Rights } from '../rights/types.js';

export function createAccess(
  rights: Rights,
  _config: Config,
  user: string,
  groups: ReadonlySet<string>,
): Access {
  const cache = new Map<string, string>();
  const letters = (path: string): string => {
    let l = cache.get(path);
    if (l === undefined) {
      l = rights.authorization(user, groups, path);
      cache.set(path, l);
    }
    return l;
  };
  const check = (perm: 'r' | 'w', res: Resource): boolean => {
    switch (res.kind) {
      case 'collection':
        return letters(res.path).includes(res.info.tag ? perm : perm.toUpperCase());
      case 'item':
        return letters(res.path).includes(perm);
      case 'missing': {
        const own = letters(res.parentPath ? `${res.parentPath}/${res.name}` : res.name);
        return (
          own.includes(perm) || own.includes(perm.toUpperCase()) || letters(res.parentPath).includes(perm)
        );
      }
    }
  };
  return {
    letters,
    canRead: (res) => check('r', res),
    canWrite: (res) => check('w', res),
    canExport: (res) => res.kind === 'collection' && res.info.tag !== '' && letters(res.path).includes('i'),
    mayDeleteCollection: (path) => rights.mayDeleteCollection(user, groups, path),
    mayOverwriteCollection: (path) => rights.mayOverwriteCollection(user, groups, path),
  };
}
