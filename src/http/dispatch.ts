/**
 * The application: from an HTTP request to a DAV response. Proxy prefix, path checks, method
 * dispatch, authentication, principal creation, rights, and writing the response.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { createGzip, gzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);
import type { Config } from '../config/schema.js';
import type { Auth, AuthOutcome } from '../auth/types.js';
import type { Rights } from '../rights/types.js';
import type { Storage } from '../storage/types.js';
import type { Web } from '../web/serve.js';
import type { BytesCache } from '../dav/derived-cache.js';
import { hintCollectionPaths, inRequestScope } from '../storage/request-scope.js';
import type { DavRequest, DavResponse, DavPlugins } from '../dav/context.js';
import { DavError, badRequest } from '../dav/errors.js';
import { parseRequestPath } from '../dav/href.js';
import { handleDav } from '../dav/handle.js';
import { readBody } from './body.js';
import { errorResponse, refusedTokenResponse, toDavError } from './respond-error.js';
import { davSettings, type DavSettings } from '../dav/settings.js';
import { createAccess } from './access.js';
import { configuredPrefix, prefixAndPath, proxyTrusted } from './proxy-prefix.js';
import { pathPolicyViolation } from '../config/path-policy.js';
import {
  headerLines,
  isBadPut,
  keepForLog,
  type KeptBody,
  logBadPutContent,
  logOnNotice,
  logRequestContent,
  logResponseContent,
  logResponseOnNotice,
  requestContentForNotice,
} from '../log/content.js';
import { maskHeaders } from '../log/logger.js';
import { compileNoticeConditions, type NoticeConditions, type NoticeFacts } from '../log/notice-condition.js';
import type { Metrics } from './monitoring.js';
import type { Sharing } from '../sharing/service.js';
import type { ShareView } from '../sharing/view.js';
import type { RequestContext, RequestHandler } from './types.js';

/**
 * Methods of WebDAV and its extensions that we know but do not serve: 405, not 501. POST is served
 * once a feature registers a POST target (`DavPlugin.postTargets`).
 */
const KNOWN_UNSERVED = new Set([
  'LOCK',
  'UNLOCK',
  'ACL',
  'BIND',
  'UNBIND',
  'REBIND',
  'SEARCH',
  'POST',
  'PATCH',
  'TRACE',
  'CONNECT',
  'ORDERPATCH',
  'MKREDIRECTREF',
  'UPDATEREDIRECTREF',
  'VERSION-CONTROL',
  'CHECKOUT',
  'CHECKIN',
  'UNCHECKOUT',
  'MKWORKSPACE',
  'UPDATE',
  'LABEL',
  'MERGE',
  'MKACTIVITY',
  'BASELINE-CONTROL',
  'QUERY',
]);

export interface AppDeps {
  readonly config: Config;
  readonly storage: Storage;
  readonly auth: Auth;
  readonly rights: Rights;
  readonly plugins: DavPlugins;
  readonly web: Web;
  /** Cache of whole-collection exports (none: exports are built on every GET). */
  readonly derivedCache?: BytesCache;
  /** Prometheus metrics (`[monitoring] metrics`), counted here: failed and throttled logins, storage errors. */
  readonly metrics?: Metrics;
  /** [sharing]: shares put in place per request; absent when sharing is off. */
  readonly sharing?: Sharing;
}

/** The dependencies with what is built from them once, at start-up (the DAV core's settings). */
interface AppState extends AppDeps {
  readonly davSettings: DavSettings;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Requests whose failed login was already delayed, so the 401 is not delayed twice. */
const delayed = new WeakSet<RequestContext>();
/** The body each request read, for [logging] bad_put_request_content and request_content_on_notice_condition. */
const bodies = new WeakMap<RequestContext, KeptBody>();
/** `[logging] *_on_notice_condition`, compiled once per configuration (load.ts has checked them). */
const noticeConditions = new WeakMap<Config, NoticeConditions>();

function noticeConditionsOf(config: Config): NoticeConditions {
  let conditions = noticeConditions.get(config);
  if (!conditions) {
    conditions = compileNoticeConditions(config.logging);
    noticeConditions.set(config, conditions);
  }
  return conditions;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function createApp(appDeps: AppDeps): RequestHandler {
  const deps: AppState = { ...appDeps, davSettings: davSettings(appDeps.config) };
  const scriptName = configuredPrefix(deps.config.server.script_name);
  // Storage reads are scoped to the request (a backend may keep them until it writes).
  return (req, res, ctx) => inRequestScope(() => handle(req, res, ctx));
  async function handle(...[req, res, ctx]: Parameters<RequestHandler>): Promise<void> {
    let response: DavResponse;
    try {
      const routed = prefixAndPath(req, ctx, scriptName);
      response = await route(deps, req, ctx, routed.prefix, routed.rawPath);
    } catch (err) {
      deps.metrics?.errorSeen(err);
      response = errorResponse(toDavError(err, ctx.log), {
        anonymousBasic: ctx.user === '' && deps.auth.style === 'basic',
        realm: deps.auth.realm,
      });
    }
    await finish(deps, req, res, ctx, response);
  }
}

async function finish(
  deps: AppDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  response: DavResponse,
): Promise<void> {
  if ((response.status === 401 || response.status === 403) && !delayed.has(ctx)) {
    ctx.releaseSlot?.();
    await sleep(deps.auth.deniedDelayMs());
  } else if (response.status >= 500) {
    ctx.releaseSlot?.();
    await sleep(deps.config.server.delay_on_error * 1000);
  }
  const logging = deps.config.logging;
  if (isBadPut(req.method ?? '', response.status, response.headers['Content-Type'])) {
    logBadPutContent(ctx.log, logging, req.url ?? '', bodies.get(ctx));
  }
  const notice = noticeParts(noticeConditionsOf(deps.config), req, ctx, response.status);
  const masked = (h: Parameters<typeof maskHeaders>[0]): string =>
    headerLines(maskHeaders(h, logging.mask_passwords));
  if (notice.requestHeader) logOnNotice(ctx.log, 'Request header', masked(req.headers));
  if (notice.requestContent) {
    logOnNotice(ctx.log, 'Request content', requestContentForNotice(bodies.get(ctx), logging.limit_content));
  }
  let body = logResponseContent(ctx.log, logging, response.body);
  if (notice.responseContent) body = logResponseOnNotice(ctx.log, logging.limit_content, body);
  // Logged with the head as sent ([headers], Content-Length, Content-Encoding...), before the body.
  const onHead = notice.responseHeader
    ? (sent: OutgoingHttpHeaders): void => logOnNotice(ctx.log, 'Response header', masked(sent))
    : undefined;
  await writeResponse(req, res, body === response.body ? response : { ...response, body }, onHead);
}

/** Which parts of this request `[logging] *_on_notice_condition` asks for. */
function noticeParts(
  conditions: NoticeConditions,
  req: IncomingMessage,
  ctx: RequestContext,
  status: number,
): { requestHeader: boolean; requestContent: boolean; responseHeader: boolean; responseContent: boolean } {
  let facts: NoticeFacts | undefined;
  const matches = (condition: ((f: NoticeFacts) => boolean) | undefined): boolean => {
    if (!condition) return false;
    facts ??= {
      method: (req.method ?? '').toUpperCase(),
      path: (req.url ?? '').split('?')[0] ?? '',
      useragent: header(req, 'user-agent') ?? '',
      login: ctx.user,
      host: ctx.clientAddress,
      status,
    };
    return condition(facts);
  };
  return {
    requestHeader: matches(conditions.request_header_on_notice_condition),
    requestContent: matches(conditions.request_content_on_notice_condition),
    responseHeader: matches(conditions.response_header_on_notice_condition),
    responseContent: matches(conditions.response_content_on_notice_condition),
  };
}

const acceptsGzip = (req: IncomingMessage): boolean => /\bgzip\b/.test(header(req, 'accept-encoding') ?? '');

async function writeResponse(
  req: IncomingMessage,
  res: ServerResponse,
  response: DavResponse,
  onHead?: (sent: OutgoingHttpHeaders) => void,
): Promise<void> {
  const body = response.body;
  const headers = { ...response.headers };
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    await writeStream(req, res, response.status, headers, body, onHead);
    return;
  }
  let bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (bytes && bytes.length > 1024 && acceptsGzip(req)) {
    bytes = await gzipAsync(bytes);
    headers['Content-Encoding'] = 'gzip';
    headers.Vary = 'Accept-Encoding';
  }
  if (bytes) headers['Content-Length'] = String(bytes.length);
  else if (response.status !== 304 && !('Content-Length' in headers) && req.method !== 'HEAD') {
    headers['Content-Length'] = '0';
  }
  res.writeHead(response.status, headers);
  onHead?.({ ...res.getHeaders(), ...headers });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** Resolves when `out` can take more, or when the connection is closed (then it never would). */
function drainedOrClosed(out: Writable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = (): void => {
      out.off('drain', done);
      res.off('close', done);
      resolve();
    };
    out.once('drain', done);
    res.once('close', done);
  });
}

/** A streamed body: chunked, gzipped when the client accepts it, with backpressure. */
async function writeStream(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: AsyncIterable<string | Uint8Array>,
  onHead?: (sent: OutgoingHttpHeaders) => void,
): Promise<void> {
  const gzip = acceptsGzip(req) ? createGzip() : undefined;
  if (gzip) {
    // A length given for the plain bytes does not hold for the compressed ones.
    delete headers['Content-Length'];
    headers['Content-Encoding'] = 'gzip';
    headers.Vary = 'Accept-Encoding';
  }
  res.writeHead(status, headers);
  onHead?.({ ...res.getHeaders(), ...headers });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const out: Writable = gzip ?? res;
  if (gzip) gzip.pipe(res);
  try {
    for await (const chunk of body) {
      if (!out.write(chunk)) await drainedOrClosed(out, res);
      // The client went away: leaving the loop ends the body's iterator, so its files are closed.
      if (res.destroyed) break;
    }
    if (res.destroyed) gzip?.destroy();
    else out.end();
  } catch (err) {
    // Too late for an error status: cut the connection so the client cannot take half an answer as whole.
    (res as { destroy(e?: Error): void }).destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

async function route(
  deps: AppState,
  req: IncomingMessage,
  ctx: RequestContext,
  prefix: string,
  rawPath: string,
): Promise<DavResponse> {
  const method = (req.method ?? 'GET').toUpperCase();
  if (/(^|\/)\.well-known\/(caldav|carddav)\/?$/.test(rawPath)) {
    return { status: 301, headers: { Location: `${prefix}/` } };
  }
  if (rawPath.includes('/.well-known/') || rawPath.startsWith('/.well-known'))
    throw new DavError(404, 'Not Found');
  if (rawPath === '/.web' || rawPath.startsWith('/.web/')) {
    if (method !== 'GET' && method !== 'HEAD') {
      throw new DavError(405, 'Method not allowed', undefined, [], { Allow: 'GET, HEAD' });
    }
    let subPath: string;
    try {
      subPath = decodeURIComponent(rawPath.slice('/.web'.length));
    } catch {
      throw badRequest('Invalid percent-encoding in path');
    }
    return deps.web.handle(req, subPath, prefix);
  }
  if (rawPath === '/' && (method === 'GET' || method === 'HEAD') && deps.config.web.type !== 'none') {
    return { status: 302, headers: { Location: `${prefix}/.web/` } };
  }
  if (!deps.plugins.method(method)) {
    if (KNOWN_UNSERVED.has(method)) {
      throw new DavError(405, `${method} is not supported`, undefined, [], {
        Allow: deps.plugins.methods().join(', '),
      });
    }
    throw new DavError(501, `Unknown method ${method}`);
  }
  const path = parseRequestPath(rawPath);
  const refused = pathPolicyViolation(path.segments, deps.config.server.validate_path_value);
  if (refused !== undefined) throw badRequest(refused);
  // The principal, the collection and the item (or child collection) this request is about.
  hintCollectionPaths(path.segments.map((_, i) => path.segments.slice(0, i + 1).join('/')));
  if (method === 'OPTIONS') return handleDav(davRequest(deps, req, ctx, prefix, path, method, '', new Set()));
  const outcome = await deps.auth.authenticate({
    authorization: header(req, 'authorization'),
    headers: req.headers,
    clientAddress: ctx.clientAddress,
    identityHeadersTrusted: proxyTrusted(ctx),
  });
  const who = await loginOutcome(deps, ctx, outcome);
  if (who instanceof DavError) throw who;
  ctx.user = who.user;
  if (who.user) await ensurePrincipal(deps, ctx, who.user, who.groups);
  const view = await deps.sharing?.viewFor(who.user, who.groups, path.segments);
  if (deps.sharing?.byToken && path.segments[0] === '.token' && view?.token === undefined) {
    ctx.log.info(`sharing: no enabled token share for ${rawPath}`);
    return refusedTokenResponse(who.user === '');
  }
  return handleDav(davRequest(deps, req, ctx, prefix, path, method, who.user, who.groups, view));
}

async function loginOutcome(
  deps: AppDeps,
  ctx: RequestContext,
  outcome: AuthOutcome,
): Promise<{ user: string; groups: ReadonlySet<string> } | DavError> {
  switch (outcome.kind) {
    case 'anonymous':
      return { user: '', groups: new Set() };
    case 'user':
      return { user: outcome.user, groups: outcome.groups };
    case 'failed':
      deps.metrics?.loginFailed();
      ctx.releaseSlot?.();
      await sleep(outcome.delayMs);
      delayed.add(ctx);
      return new DavError(401, 'Wrong user name or password');
    case 'throttled':
      deps.metrics?.loginThrottled();
      ctx.limitHit = 'failed-login rate';
      ctx.log.warn(`too many failed logins from ${ctx.clientAddress}, throttled for ${outcome.retryAfter}s`);
      return new DavError(429, 'Too many failed login attempts', undefined, [], {
        'Retry-After': String(outcome.retryAfter),
      });
    case 'forbidden':
      ctx.log.warn(`refused identity header from ${ctx.peerAddress}: ${outcome.reason}`);
      return new DavError(403, 'Identity headers are only accepted from a trusted proxy');
  }
}

/**
 * Creates `/<user>/` (and predefined collections) on first login, when rights allow. As in Radicale,
 * the storage hook runs once for the whole creation (%(request)s = NONE, %(path)s = the collection
 * root), and a predefined collection that cannot be created is a warning, not a failed request.
 */
async function ensurePrincipal(
  deps: AppDeps,
  ctx: RequestContext,
  user: string,
  groups: ReadonlySet<string>,
): Promise<void> {
  if (user.includes('/')) return;
  if (await deps.storage.getCollection(user)) return;
  if (!deps.rights.authorization(user, groups, user).includes('W')) return;
  const change = { user, path: '', request: 'NONE' };
  try {
    await deps.storage.createCollection(user, {}, { ...change, deferHook: true });
  } catch (err) {
    if (await deps.storage.getCollection(user)) return; // created by a concurrent request
    throw err;
  }
  ctx.log.info(`created principal collection /${user}/`);
  const predefined = deps.config.storage.predefined_collections;
  if (predefined && typeof predefined === 'object') {
    for (const [name, props] of Object.entries(predefined as Record<string, Record<string, string>>)) {
      try {
        await deps.storage.createCollection(`${user}/${name}`, props, { ...change, deferHook: true });
      } catch (err) {
        ctx.log.warn(`failed to create predefined collection /${user}/${name}/: ${String(err)}`);
      }
    }
  }
  await deps.storage.runHook(change);
}

function davRequest(
  deps: AppState,
  req: IncomingMessage,
  ctx: RequestContext,
  prefix: string,
  path: { segments: string[]; trailingSlash: boolean },
  method: string,
  user: string,
  groups: ReadonlySet<string>,
  view?: ShareView,
): DavRequest {
  const trusted = proxyTrusted(ctx);
  const fwdHost = trusted ? header(req, 'x-forwarded-host')?.split(',')[0]?.trim() : undefined;
  const fwdPort = trusted ? header(req, 'x-forwarded-port')?.split(',')[0]?.trim() : undefined;
  const fwdProto = trusted ? header(req, 'x-forwarded-proto')?.split(',')[0]?.trim() : undefined;
  let host = fwdHost ?? header(req, 'host') ?? '';
  if (fwdHost && fwdPort && !host.includes(':')) host = `${host}:${fwdPort}`;
  // Read once: a second call gets the same bytes, not an empty body.
  let body: Promise<Buffer> | undefined;
  const keepBody =
    method === 'PUT' || noticeConditionsOf(deps.config).request_content_on_notice_condition !== undefined;
  const read = ctx.readBody ?? ((max: number) => readBody(req, max));
  return {
    method,
    segments: path.segments,
    trailingSlash: path.trailingSlash,
    prefix,
    headers: req.headers,
    user,
    groups,
    access: createAccess(view?.rights ?? deps.rights, user, groups),
    storage: view?.storage ?? deps.storage,
    settings: deps.davSettings,
    log: ctx.log,
    plugins: deps.plugins,
    ...(deps.derivedCache ? { derivedCache: deps.derivedCache } : {}),
    body: () =>
      (body ??= read(deps.config.server.max_content_length).then((bytes) => {
        if (keepBody) bodies.set(ctx, keepForLog(bytes, deps.config.logging.limit_content));
        logRequestContent(ctx.log, deps.config.logging, bytes);
        return bytes;
      })),
    origin: { host, proto: fwdProto ?? (ctx.secure ? 'https' : 'http') },
    header: (name) => header(req, name),
  };
}
