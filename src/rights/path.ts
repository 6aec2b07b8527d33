/** Rights work on paths without leading or trailing slashes: '' is the root, 'alice/work' a calendar. */
export function stripPath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}
