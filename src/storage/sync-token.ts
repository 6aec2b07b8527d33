/** What every backend's RFC 6578 sync token starts with: Radicale's namespace, so clients keep their tokens. */
export const TOKEN_PREFIX = 'http://radicale.org/ns/sync/';
