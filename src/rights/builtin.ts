/**
 * The built-in rights backends (Radicale rights/authenticated.py, owner_only.py, owner_write.py).
 * Depth 0 = root, 1 = principal ('alice'), 2 = calendars and address books ('alice/work'); deeper paths
 * (items) get nothing of their own: item access comes from the parent collection (see access.ts).
 * With [auth] type = none there is no real identity, so ownership is not checked (as Radicale).
 */

export type LetterFunction = (user: string, path: string) => string;

function depth(path: string): number {
  return path === '' ? 0 : path.split('/').length;
}

function owner(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? path : path.slice(0, slash);
}

export function authenticatedRights(verifyUser: boolean): LetterFunction {
  return (user, path) => {
    if (verifyUser && user === '') return '';
    const d = depth(path);
    if (d <= 1) return 'RW';
    return d === 2 ? 'rw' : '';
  };
}

export function ownerOnlyRights(verifyUser: boolean): LetterFunction {
  return (user, path) => {
    if (verifyUser && user === '') return '';
    if (path === '') return 'R';
    if (verifyUser && user !== owner(path)) return '';
    const d = depth(path);
    if (d === 1) return 'RW';
    return d === 2 ? 'rw' : '';
  };
}

export function ownerWriteRights(verifyUser: boolean): LetterFunction {
  return (user, path) => {
    if (verifyUser && user === '') return '';
    if (path === '') return 'R';
    const owned = !verifyUser || user === owner(path);
    const d = depth(path);
    if (d === 1) return owned ? 'RW' : 'R';
    if (d === 2) return owned ? 'rw' : 'r';
    return '';
  };
}
