/**
 * Radicale's Access check (app/base.py): whether `user` may read or write a target, from the letters on
 * the target P and on its parent Q.
 * - kind 'none' (no existing item; e.g. before creating): P has r/R (w/W), or Q has r (w)
 * - 'collection-tagged' (calendar / address book): P has the lowercase letter
 * - 'collection-plain': P has the uppercase letter
 * - 'item': the parent collection Q has the lowercase letter
 * The parent is only consulted when it differs from P (the root is its own parent).
 */
import { stripPath } from './path.js';
import type { Rights } from './types.js';

export type TargetKind = 'collection-tagged' | 'collection-plain' | 'item' | 'none';

function intersects(letters: string, wanted: string): boolean {
  for (const c of wanted) if (letters.includes(c)) return true;
  return false;
}

/** What canRead, canWrite and privilegesFor are asked: who, which target, of what kind, in which parent. */
type Question = [
  rights: Rights,
  user: string,
  groups: ReadonlySet<string>,
  path: string,
  kind: TargetKind,
  parentPath: string,
];

function check(permission: 'r' | 'w', ...[rights, user, groups, path, kind, parentPath]: Question): boolean {
  const upper = permission.toUpperCase();
  const [own, parent] =
    kind === 'none'
      ? [permission + upper, permission]
      : kind === 'collection-tagged'
        ? [permission, '']
        : kind === 'collection-plain'
          ? [upper, '']
          : ['', permission];
  const target = stripPath(path);
  const container = stripPath(parentPath);
  if (own !== '' && intersects(rights.authorization(user, groups, target), own)) return true;
  return (
    parent !== '' && target !== container && intersects(rights.authorization(user, groups, container), parent)
  );
}

export function canRead(...question: Question): boolean {
  return check('r', ...question);
}

export function canWrite(...question: Question): boolean {
  return check('w', ...question);
}

/**
 * `i`: GET of a whole calendar or address book (the export) is allowed even without `r`, but nothing
 * else (no items, PROPFIND or REPORT).
 */
export function canExportCollection(
  rights: Rights,
  user: string,
  groups: ReadonlySet<string>,
  path: string,
): boolean {
  return /[ri]/.test(rights.authorization(user, groups, stripPath(path)));
}

/** DAV privileges (local names in the DAV: namespace) for DAV:current-user-privilege-set. */
export function privilegesFor(...question: Question): string[] {
  const out: string[] = [];
  if (canRead(...question)) out.push('read');
  if (canWrite(...question)) out.push('all', 'write', 'write-properties', 'write-content', 'bind', 'unbind');
  return out;
}
