/**
 * The per-request Access object the DAV layer uses: Radicale's access rules (src/rights/access.ts)
 * for the current user, with the rights letters of each path computed once per request (a Depth 1
 * PROPFIND asks the same collection for every item).
 */
import type { Access, Resource } from '../dav/context.js';
import { canExportCollection, canRead, canWrite, privilegesFor, type TargetKind } from '../rights/access.js';
import type { Rights } from '../rights/types.js';

function memoized(rights: Rights): Rights {
  const cache = new Map<string, string>();
  return {
    authorization: (user, groups, path) => {
      let l = cache.get(path);
      if (l === undefined) {
        l = rights.authorization(user, groups, path);
        cache.set(path, l);
      }
      return l;
    },
    mayDeleteCollection: (u, g, p) => rights.mayDeleteCollection(u, g, p),
    mayOverwriteCollection: (u, g, p) => rights.mayOverwriteCollection(u, g, p),
  };
}

function target(res: Resource): { path: string; kind: TargetKind; parent: string } {
  switch (res.kind) {
    case 'collection': {
      const parent = res.path.includes('/') ? res.path.slice(0, res.path.lastIndexOf('/')) : '';
      return { path: res.path, kind: res.info.tag ? 'collection-tagged' : 'collection-plain', parent };
    }
    case 'item':
      return { path: res.path ? `${res.path}/${res.href}` : res.href, kind: 'item', parent: res.path };
    case 'missing':
      return {
        path: res.parentPath ? `${res.parentPath}/${res.name}` : res.name,
        kind: 'none',
        parent: res.parentPath,
      };
  }
}

export function createAccess(rights: Rights, user: string, groups: ReadonlySet<string>): Access {
  const r = memoized(rights);
  return {
    letters: (path) => r.authorization(user, groups, path),
    canRead: (res) => {
      const t = target(res);
      return canRead(r, user, groups, t.path, t.kind, t.parent);
    },
    canWrite: (res) => {
      const t = target(res);
      return canWrite(r, user, groups, t.path, t.kind, t.parent);
    },
    privileges: (res) => {
      const t = target(res);
      return privilegesFor(r, user, groups, t.path, t.kind, t.parent);
    },
    canExport: (res) =>
      res.kind === 'collection' && res.info.tag !== '' && canExportCollection(r, user, groups, res.path),
    mayDeleteCollection: (path) => r.mayDeleteCollection(user, groups, path),
    mayOverwriteCollection: (path) => r.mayOverwriteCollection(user, groups, path),
  };
}
