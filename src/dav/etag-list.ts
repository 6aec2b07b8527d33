/**
 * The entity-tag lists of If-Match and If-None-Match (RFC 9110 §13.1.1, §13.1.2): `*` or tags
 * separated by commas. Tags are compared by their opaque part, `W/` dropped on both sides (the weak
 * comparison); the tags this server issues are strong anyway. One parser for the DAV methods and the
 * web interface's assets.
 */

const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');

/** The tags of a header value (`*` kept as a tag), weakness dropped, empty entries left out. */
export function parseEtagList(header: string): string[] {
  return header
    .split(',')
    .map(opaque)
    .filter((t) => t !== '');
}

/** True when the header value is `*` or lists `etag`. */
export function etagListMatches(header: string, etag: string): boolean {
  const wanted = opaque(etag);
  return parseEtagList(header).some((t) => t === '*' || t === wanted);
}
