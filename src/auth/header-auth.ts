/**
 * The `[auth] type`s with which a reverse proxy logs users in and names them in a header, and that
 * header: one table for the login pipeline (which reads it), the start-up checks (which warn when no
 * proxy is trusted to send it) and the web interface (which then shows no login form).
 */

const IDENTITY_HEADERS: ReadonlyMap<string, string> = new Map([
  ['http_x_remote_user', 'X-Remote-User'],
  ['http_remote_user', 'Remote-User'],
  // Radicale reads WSGI's REMOTE_USER here; Node has no WSGI environ, so the proxy's Remote-User
  // header is the same source (as http_remote_user).
  ['remote_user', 'Remote-User'],
]);

/** The header that names the user for this `[auth] type` (`X-Remote-User`), or undefined. */
export function identityHeader(authType: string): string | undefined {
  return IDENTITY_HEADERS.get(authType);
}

/** True when `[auth] type` takes the user from a header set by a reverse proxy. */
export function isHeaderAuth(authType: string): boolean {
  return IDENTITY_HEADERS.has(authType);
}
