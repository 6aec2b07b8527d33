/** UTC date-time values as used in CalDAV XML attributes. */

/** Parses `YYYYMMDDTHHMMSSZ` (the Z may be omitted; the value is UTC anyway) to POSIX seconds. */
export function parseUtcDateTime(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?$/i.exec(s.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return undefined;
  return Math.floor(Date.UTC(y, mo - 1, d, h, mi, se) / 1000);
}

/** POSIX seconds to `YYYYMMDDTHHMMSSZ`. */
export function formatUtcDateTime(sec: number): string {
  return new Date(sec * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
