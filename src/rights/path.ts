/** Rights work on paths without leading or trailing slashes: '' is the root, 'alice/work' a calendar. */
export function stripPath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** The parent of a stripped path ('' for the root and for principals). */
export function parentOf(path: string): string {
  const p = stripPath(path);
  const slash = p.lastIndexOf('/');
  return slash < 0 ? '' : p.slice(0, slash);
}
