/**
 * The HTTP(S) server: binds `[server] hosts`, applies the connection-level limits (max_connections,
 * max_content_length, timeout), TLS, the `[headers]` section and per-request logging, then hands each request
 * to the RequestHandler (the DAV dispatcher).
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import {
  createServer as createHttpServer,
  validateHeaderName,
  validateHeaderValue,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Config } from '../config/schema.js';
import { parseListenAddress, type ListenAddress } from '../net/listen-address.js';
import { asPinoLogger, maskHeaders, type Logger } from '../log/logger.js';
import { declaredLength, hasBodyToRead, onBodyAbort, readBody, type BodyRate } from './body.js';
import {
  clientBlock,
  normalizeAddress,
  parseClientAddressHeader,
  parseTrustedProxies,
  resolveClientAddress,
  type ForwardingPolicy,
} from './client-address.js';
import { FairPool, type Release } from './concurrency.js';
import { DavError } from '../dav/errors.js';
import type { Monitoring } from './monitoring.js';
import { trustedProxyList } from './startup-checks.js';
import { buildTlsOptions, clientCertVerified } from './tls.js';
import type { RequestContext, RequestHandler } from './types.js';

/**
 * Request ids for the logs: 8 hex digits counting up from a random start (random bytes per request
 * would cost a getpid() and the random generator on every request).
 */
let lastRequestId = randomBytes(4).readUInt32BE(0);
function nextRequestId(): string {
  lastRequestId = (lastRequestId + 1) % 0x100000000;
  return lastRequestId.toString(16).padStart(8, '0');
}
export interface RunningServer {
  /** The bound addresses with their real ports (port 0 in the configuration gets a free port). */
  readonly addresses: ListenAddress[];
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops what is left. */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 10_000;

/** Parses `[server] hosts` entries (empty ones left out). */
export function parseHosts(list: readonly string[]): ListenAddress[] {
  const entries = list.map((s) => s.trim()).filter((s) => s !== '');
  if (entries.length === 0) throw new Error('[server] hosts: no address to listen on');
  return entries.map(parseListenAddress);
}

/** `localhost` and other names bind every address they resolve to, as Radicale does with getaddrinfo. */
async function resolveBindAddresses(entry: ListenAddress): Promise<ListenAddress[]> {
  if (isIP(entry.host) !== 0) return [entry];
  try {
    const found = await lookup(entry.host, { all: true, verbatim: true });
    const unique = [...new Set(found.map((a) => a.address))];
    return unique.map((host) => ({ host, port: entry.port }));
  } catch (err) {
    throw new Error(`[server] hosts: cannot resolve '${entry.host}': ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function formatAddress(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function checkConfigHeaders(headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) {
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch (err) {
      throw new Error(`[headers] ${name}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** What the socket timeout handler needs to know about the request in progress on a socket. */
interface InFlight {
  /** Waiting for a slot or a body permit, reading the body, or in the handler. */
  phase: 'queued' | 'reading' | 'handling';
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: RequestContext;
}

/** State and behaviour shared by all listening sockets. */
class ServerCore {
  /** `max_connections` slots for requests being handled, shared fairly between clients and users. */
  readonly slots: FairPool;
  /** Permits to read a body (as many as slots); one user or client holds at most half of them. */
  readonly bodies: FairPool;
  readonly bodyRate: BodyRate;
  readonly forwarding: ForwardingPolicy;
  readonly timeoutMs: number;
  readonly keepAliveMs: number;
  closing = false;
  private readonly inFlight = new Map<Socket, InFlight>();
  private readonly onIdle = new Set<() => void>();

  readonly settings: Config['server'];
  readonly logging: Config['logging'];
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    config: Config,
    readonly handler: RequestHandler,
    readonly log: Logger,
    readonly monitoring?: Monitoring,
  ) {
    this.settings = config.server;
    this.logging = config.logging;
    this.headers = config.headers;
    checkConfigHeaders(this.headers);
    const max = this.settings.max_connections;
    this.slots = new FairPool(max);
    this.bodies = new FairPool(max, Math.ceil(max / 2));
    monitoring?.metrics?.watchPool('slots', 'max_connections slots', this.slots);
    monitoring?.metrics?.watchPool('body_permits', 'Body permits', this.bodies);
    this.forwarding = {
      trusted: parseTrustedProxies(trustedProxyList(config)),
      header: parseClientAddressHeader(this.settings.client_address_header),
    };
    this.timeoutMs = Math.max(0, Math.round(this.settings.timeout * 1000));
    this.keepAliveMs = Math.max(0, Math.round(this.settings.keepalive_timeout * 1000));
    this.bodyRate = { minRate: Math.max(0, this.settings.body_min_rate), graceMs: this.timeoutMs || 30_000 };
  }

  serverOptions(): ServerOptions {
    const t = this.timeoutMs;
    return {
      // headersTimeout bounds a client trickling its headers; the body is guarded by the idle timeout
      // below (a total requestTimeout would cut big uploads on slow links).
      headersTimeout: t,
      requestTimeout: 0,
      // An idle connection stays open for keepalive_timeout (Node announces it in `Keep-Alive:
      // timeout=`, so clients stop reusing it in time); a client that builds a big body for several
      // seconds still finds its connection open.
      keepAliveTimeout: this.keepAliveMs,
      connectionsCheckingInterval: t > 0 ? Math.min(30_000, Math.max(100, Math.floor(t / 4))) : 30_000,
    };
  }

  attach(server: Server): void {
    server.timeout = this.timeoutMs;
    // A client may shut its sending side once the request is out (shutdown(SHUT_WR), as `nc -N` and
    // some scripts do) and still wait for the answer. Node's HTTP server aborts such a request unless
    // httpAllowHalfOpen is set (a property of http.Server that its types do not declare).
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('timeout', (socket: Socket) => this.onSocketTimeout(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res, false));
    server.on(
      'checkContinue',
      (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res, true),
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    // Before the TLS layer takes the socket: reading the peer now keeps it known after a failed handshake
    // (a client that sends a refused certificate and hangs up leaves a socket without an address).
    server.prependListener('connection', (socket: Socket) => {
      const metrics = this.monitoring?.metrics;
      if (socket.remoteAddress !== undefined && metrics) {
        metrics.connectionOpened();
        socket.once('close', () => metrics.connectionClosed());
      }
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.log.info(`TLS handshake with ${tlsPeer(socket)} failed: ${err.message}`);
    });
  }

  /**
   * The socket was idle for `timeout`. A client stalling while sending headers or body is cut; a request
   * waiting for a slot, or whose body is in and whose handler is working (e.g. waiting for a lock), is not:
   * the timer is simply re-armed. A client that stopped reading our response is cut too.
   */
  private onSocketTimeout(socket: Socket): void {
    const state = this.inFlight.get(socket);
    const waitingForUs =
      state !== undefined &&
      (state.phase === 'queued' || (state.req.complete && socket.writableLength === 0));
    if (waitingForUs) {
      socket.setTimeout(this.timeoutMs);
      return;
    }
    if (state) {
      // Says in the request's end-of-request log line which limit cut it.
      state.ctx.limitHit ??= 'timeout';
      state.ctx.log.info(
        `client sent nothing for ${this.timeoutMs / 1000} s (timeout): closing the connection`,
      );
    }
    socket.destroy();
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    // A response already under way cannot be followed by another status line (Node's own check).
    const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || current?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[
      status
    ];
    this.log.info(`${status} ${reason} for ${normalizeAddress(socket.remoteAddress ?? '?')}: ${err.message}`);
    const extra = Object.entries(this.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\n${extra}` +
        `Content-Length: ${reason.length}\r\nConnection: close\r\n\r\n${reason}`,
    );
  }

  private buildContext(req: IncomingMessage): RequestContext {
    const socket = req.socket;
    const peerAddress = normalizeAddress(socket.remoteAddress ?? '');
    const secure = socket instanceof TLSSocket;
    const verified = secure && clientCertVerified(socket);
    const { clientAddress, peerTrusted } = resolveClientAddress(
      peerAddress,
      req.headers,
      this.forwarding,
      verified,
    );
    const id = nextRequestId();
    return {
      id,
      peerAddress,
      clientAddress,
      peerTrusted,
      secure,
      clientCertVerified: verified,
      log: asPinoLogger(this.log.child({ reqId: id })),
      user: '',
    };
  }

  private logArrival(req: IncomingMessage, ctx: RequestContext): void {
    if (!ctx.log.isLevelEnabled('info')) return;
    const via = ctx.clientAddress !== ctx.peerAddress ? ` (via ${ctx.peerAddress})` : '';
    const agent = req.headers['user-agent'];
    ctx.log.info(
      `${req.method ?? '?'} request for ${JSON.stringify(req.url ?? '')} received from ${ctx.clientAddress}${via}` +
        (agent ? ` using ${JSON.stringify(agent)}` : ''),
    );
    if (this.logging.request_header_on_debug) {
      ctx.log.debug({ headers: maskHeaders(req.headers, this.logging.mask_passwords) }, 'request headers');
    }
  }

  private logEnd(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, started: bigint): void {
    const elapsedNs = Number(process.hrtime.bigint() - started);
    this.monitoring?.metrics?.requestEnded(req.method, res.statusCode, elapsedNs / 1e9);
    if (!ctx.log.isLevelEnabled('info')) return;
    const durationMs = Math.round(elapsedNs / 1e4) / 100;
    const fields = {
      status: res.statusCode,
      durationMs,
      user: ctx.user || undefined,
      limitHit: ctx.limitHit,
    };
    const what = `${req.method ?? '?'} ${JSON.stringify(req.url ?? '')}`;
    if (res.writableFinished)
      ctx.log.info(fields, `${res.statusCode} response for ${what} in ${durationMs} ms`);
    else
      ctx.log.info(
        fields,
        `connection closed before the response for ${what} was complete (${durationMs} ms)`,
      );
    if (this.logging.response_header_on_debug) {
      ctx.log.debug(
        { headers: maskHeaders(res.getHeaders(), this.logging.mask_passwords) },
        'response headers',
      );
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    if (this.monitoring?.handle(req, res, this.headers) === true) return;
    const started = process.hrtime.bigint();
    const socket = req.socket;
    const ctx = this.buildContext(req);
    const state: InFlight = { phase: 'queued', req, res, ctx };
    const permits = new RequestPermits(this, state);
    this.inFlight.set(socket, state);
    res.once('close', () => {
      permits.close();
      if (this.inFlight.get(socket) === state) this.inFlight.delete(socket);
      this.logEnd(req, res, ctx, started);
      if (this.closing) for (const cb of this.onIdle) cb();
    });
    for (const [name, value] of Object.entries(this.headers)) res.setHeader(name, value);
    if (this.closing || this.keepAliveMs === 0) res.shouldKeepAlive = false;
    this.logArrival(req, ctx);
    onBodyAbort(req, (limit) => {
      ctx.limitHit ??= limit;
      // The rest of the body stays unread, so the connection cannot carry another request.
      res.shouldKeepAlive = false;
    });

    const limit = this.settings.max_content_length;
    const declared = declaredLength(req);
    if (limit > 0 && declared !== undefined && declared > limit) {
      ctx.limitHit = 'max_content_length';
      ctx.log.info(`request body of ${declared} bytes is larger than max_content_length (${limit})`);
      sendText(res, 413, 'Request Entity Too Large', true);
      return;
    }

    socket.setTimeout(this.timeoutMs);
    if (!(await permits.takeSlot())) return;
    ctx.releaseSlot = () => permits.releaseSlot();
    ctx.readBody = (max) => permits.readBody(max);
    if (expectContinue) res.writeContinue();
    try {
      await this.handler(req, res, ctx);
    } catch (err) {
      ctx.log.error({ err }, 'unexpected error while handling the request');
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error', false);
      else res.destroy();
    }
  }

  /** Responses not yet started get `Connection: close`; resolves `cb` calls as in-flight requests end. */
  beginClosing(onRequestEnd: () => void): void {
    this.closing = true;
    this.onIdle.add(onRequestEnd);
    for (const { res } of this.inFlight.values()) {
      if (!res.headersSent) res.shouldKeepAlive = false;
    }
  }
}

/**
 * The permits of one request: a `max_connections` slot while it is handled, and while its body arrives a
 * body permit instead. A slow body therefore holds no slot, and one user (or, before login, one client)
 * holds at most half of the body permits, so a client trickling its uploads keeps nobody else waiting.
 */
class RequestPermits {
  private slot: Release | undefined;
  private closed = false;

  constructor(
    private readonly core: ServerCore,
    private readonly state: InFlight,
  ) {}

  /** Who the request counts as: its user once logged in, else its client (an IPv6 /64 counts as one). */
  private key(): string {
    const { ctx } = this.state;
    return ctx.user ? `user ${ctx.user}` : `client ${clientBlock(ctx.clientAddress)}`;
  }

  /** Waits for a slot; false when the client went away meanwhile (the slot is given straight back). */
  async takeSlot(): Promise<boolean> {
    this.state.phase = 'queued';
    const release = await this.core.slots.acquire(this.key());
    if (this.closed) {
      release();
      return false;
    }
    this.slot = release;
    this.state.phase = 'handling';
    return true;
  }

  releaseSlot(): void {
    this.slot?.();
    this.slot = undefined;
  }

  /** Reads the body under max_content_length and body_min_rate, holding a body permit and no slot. */
  async readBody(limit: number): Promise<Buffer> {
    const { req } = this.state;
    if (!hasBodyToRead(req)) return readBody(req, limit);
    this.releaseSlot();
    this.state.phase = 'queued';
    const permit = await this.core.bodies.acquire(this.key());
    try {
      if (this.closed) throw new DavError(400, 'The client closed the connection before sending the body');
      this.state.phase = 'reading';
      const body = await readBody(req, limit, this.core.bodyRate);
      // The permit is kept until a slot is taken, so that bodies read and waiting for a slot are
      // bounded too: at most max_connections being read or waiting, and max_connections being handled.
      if (!(await this.takeSlot())) throw new DavError(400, 'The client closed the connection');
      return body;
    } finally {
      permit();
    }
  }

  close(): void {
    this.closed = true;
    this.releaseSlot();
  }
}

/** `address:port` of a TLS client, also after a failed handshake destroyed the socket. */
function tlsPeer(socket: TLSSocket): string {
  // The TCP socket under the TLS one, whose peer was read when the connection arrived.
  const tcp = (socket as TLSSocket & { _parent?: Socket | null })._parent ?? undefined;
  const address = socket.remoteAddress ?? tcp?.remoteAddress;
  const port = socket.remotePort ?? tcp?.remotePort;
  if (address === undefined) return 'an unknown address';
  const host = normalizeAddress(address);
  return port === undefined ? host : formatAddress({ host, port });
}

function sendText(res: ServerResponse, status: number, text: string, close: boolean): void {
  if (close) {
    res.shouldKeepAlive = false;
    res.setHeader('Connection', 'close');
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function listen(server: Server, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const where = formatAddress(address);
      const why = err.code === 'EADDRINUSE' ? 'address already in use (EADDRINUSE)' : err.message;
      reject(new Error(`cannot listen on ${where}: ${why}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, ipv6Only: isIP(address.host) === 6 }, () => {
      server.off('error', onError);
      const bound = server.address();
      const port = bound !== null && typeof bound === 'object' ? bound.port : address.port;
      resolve({ host: address.host, port });
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

/** Binds every configured address and serves requests with `handler`; rejects with a clear start-up error. */
export async function startServer(
  config: Config,
  handler: RequestHandler,
  log: Logger,
  monitoring?: Monitoring,
): Promise<RunningServer> {
  const core = new ServerCore(config, handler, log, monitoring);
  const { settings } = core;
  const tlsOptions = settings.ssl ? await buildTlsOptions(settings) : undefined;
  const wanted = (await Promise.all(parseHosts(settings.hosts).map(resolveBindAddresses))).flat();
  const servers: Server[] = [];
  const addresses: ListenAddress[] = [];
  try {
    for (const address of wanted) {
      const options = core.serverOptions();
      const server: Server = tlsOptions
        ? createHttpsServer({
            ...options,
            ...tlsOptions,
            handshakeTimeout: core.timeoutMs || 120_000,
          })
        : createHttpServer(options);
      core.attach(server);
      servers.push(server);
      addresses.push(await listen(server, address));
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  for (const a of addresses) log.info(`Listening on ${formatAddress(a)}${tlsOptions ? ' with TLS' : ''}`);

  let closingPromise: Promise<void> | undefined;
  const close = (graceMs = DEFAULT_GRACE_MS): Promise<void> => {
    closingPromise ??= (async () => {
      log.info('Stopping the server');
      const closeIdle = (): void => {
        // Let the just-finished response leave before the now idle connection is closed.
        setImmediate(() => servers.forEach((s) => s.closeIdleConnections()));
      };
      core.beginClosing(closeIdle);
      const done = Promise.all(servers.map(closeServer));
      servers.forEach((s) => s.closeIdleConnections());
      const timer = setTimeout(() => {
        log.warn('Grace period over, closing the remaining connections');
        servers.forEach((s) => s.closeAllConnections());
      }, graceMs);
      await done;
      clearTimeout(timer);
    })();
    return closingPromise;
  };
  return { addresses, close };
}
