/**
 * The built-in web interface at `/.web/`: a static, CSP-strict single page that is a pure client of
 * the DAV API. This module only serves files; it holds no state and never touches storage.
 */
import type { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { isHeaderAuth } from '../auth/header-auth.js';
import type { Config } from '../config/schema.js';
import { etagListMatches } from '../dav/etag-list.js';
import { loadAsset, type Asset } from './assets.js';

/**
 * The answer to a request under `/.web`, which the dispatcher writes like every other response (gzip,
 * HEAD, logging, delays): the body is given for HEAD too, so that its Content-Length is the GET's.
 */
export interface WebResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

export interface Web {
  /**
   * Answers GET/HEAD for `/.web` and everything below it.
   * @param subPath the percent-decoded path after `/.web` ('' for `/.web` itself, '/' for `/.web/`)
   * @param scriptName the reverse-proxy prefix without trailing slash ('' when none)
   */
  handle(
    req: Pick<IncomingMessage, 'method' | 'headers'>,
    subPath: string,
    scriptName: string,
  ): Promise<WebResponse>;
}

/** The part of the configuration the web interface reads (a full `Config` fits). */
export interface WebConfig {
  readonly web: Pick<Config['web'], 'type'> & Partial<Pick<Config['web'], 'prefer_browser_login'>>;
  readonly auth: Pick<Config['auth'], 'type'>;
}

/** Server features the page offers controls for (off unless given). */
export interface WebFeatures {
  /** The `/.sharing/v1` API answers (`[sharing]` on): the Share dialog and the shares received. */
  readonly sharing?: boolean;
  /** `[scheduling] enabled`: invitations from the schedule inbox. */
  readonly scheduling?: boolean;
}

const CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

export function createWeb(config: WebConfig, features: WebFeatures = {}): Web {
  const type = config.web.type;
  const clientConfig = asset(
    Buffer.from(
      JSON.stringify({
        externalAuth: isHeaderAuth(config.auth.type),
        // [web] prefer_browser_login: the page asks with the browser's own credentials, so that the
        // browser's login prompt (or a front proxy's single sign-on) is used instead of the form.
        browserLogin: config.web.prefer_browser_login === true,
        // Asked here rather than found by a failing request (a 404 in the browser's console).
        sharing: features.sharing === true,
        scheduling: features.scheduling === true,
      }) + '\n',
    ),
    'application/json; charset=utf-8',
  );
  return {
    async handle(req, subPath, scriptName) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return answer(405, textAsset('Method Not Allowed'), { Allow: 'GET, HEAD' });
      }
      if (subPath === '') {
        // Relative URLs in the page only resolve correctly below `/.web/`.
        const location = `${scriptName}/.web/`;
        return answer(301, textAsset(`Moved to ${location}`), { Location: location });
      }
      if (type === 'none') return answer(200, asset(Buffer.from(WORKS_PAGE), 'text/html; charset=utf-8'));
      if (type !== 'internal') {
        // A web plugin (a Python module for Radicale) is not something Almanac can run; say so rather
        // than serve the built-in interface in its place.
        return answer(501, textAsset(webPluginMessage(type)));
      }
      if (subPath === '/config.json') return cached(req, clientConfig);
      const found = await loadAsset(subPath);
      if (found === null) return answer(404, textAsset('Not Found'));
      return cached(req, found);
    },
  };
}

/** What a configured web plugin gets instead (logged at start, answered under /.web/). */
export function webPluginMessage(type: string): string {
  return (
    `[web] type = ${type} names a web interface plugin; Radicale's web plugins are Python modules and ` +
    "cannot run in Almanac. Use type = internal (Almanac's interface) or none."
  );
}

const WORKS_PAGE =
  '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Almanac</title></head>' +
  '<body>Almanac works!</body></html>\n';

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

function textAsset(text: string): Asset {
  return asset(Buffer.from(text + '\n'), 'text/plain; charset=utf-8');
}

/** An asset with revalidation: every load asks, an unchanged file costs a 304. */
function cached(req: Pick<IncomingMessage, 'headers'>, a: Asset): WebResponse {
  const headers = { ETag: a.etag, 'Cache-Control': 'no-cache' };
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, a.etag)) {
    return { status: 304, headers: { ...SECURITY_HEADERS, ...headers } };
  }
  return answer(200, a, headers);
}

function answer(status: number, a: Asset, extra: Readonly<Record<string, string>> = {}): WebResponse {
  return { status, headers: { ...SECURITY_HEADERS, 'Content-Type': a.type, ...extra }, body: a.body };
}
