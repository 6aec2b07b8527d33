/**
 * `[monitoring]` (Almanac only, off by default): a health check and Prometheus metrics.
 *
 * - `GET /.well-known/almanac/health` (`health = True`): 200 `ok` when the storage finds its
 *   root collection within 5 s, else 503. It says nothing else, so it needs no login (load balancers call it).
 * - `GET /.well-known/almanac/metrics` (`metrics = True`): the Prometheus text format, only with
 *   `Authorization: Bearer <metrics_token>` (else 401). The metrics carry no user names and no paths at
 *   all (labels are methods, statuses and error codes), so even a leaked token reveals only counts.
 *
 * Both are answered before a `max_connections` slot is taken, so they work while the server is saturated,
 * and are not counted in the request metrics.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../config/schema.js';
import { DavError } from '../dav/errors.js';
import { StorageError, type Storage } from '../storage/types.js';
import type { FairPool } from './concurrency.js';

const HEALTH = /(^|\/)\.well-known\/almanac\/health$/;
const METRICS = /(^|\/)\.well-known\/almanac\/metrics$/;
const PROBE_TIMEOUT_MS = 5000;

/** Methods named in labels; anything else is OTHER, so a client cannot create label values at will. */
const METHODS = new Set(
  'GET HEAD PUT DELETE OPTIONS PROPFIND PROPPATCH MKCOL MKCALENDAR REPORT MOVE COPY POST LOCK UNLOCK'.split(
    ' ',
  ),
);
const methodLabel = (method: string | undefined): string => {
  const m = (method ?? '').toUpperCase();
  return METHODS.has(m) ? m : 'OTHER';
};

/** The counters and gauges; every label value comes from a small fixed set. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'almanac_http_requests_total',
    help: 'HTTP requests answered, by method and status',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'almanac_http_request_duration_seconds',
    help: 'Time from the arrival of a request to the end of its response, by method',
    labelNames: ['method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly connections = new Gauge({
    name: 'almanac_http_open_connections',
    help: 'TCP (or TLS) connections open now',
    registers: [this.registry],
  });
  private readonly loginsFailed = new Counter({
    name: 'almanac_logins_failed_total',
    help: 'Logins refused for a wrong user name or password',
    registers: [this.registry],
  });
  private readonly loginsThrottled = new Counter({
    name: 'almanac_logins_throttled_total',
    help: 'Login attempts refused with 429 after too many failures',
    registers: [this.registry],
  });
  private readonly storageErrors = new Counter({
    name: 'almanac_storage_errors_total',
    help: 'Requests that failed in the storage (or with an unexpected error), by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Gauges of a pool's permits in use and waiters, read at each scrape. */
  watchPool(name: string, help: string, pool: FairPool): void {
    new Gauge({
      name: `almanac_http_${name}_active`,
      help: `${help} in use now`,
      registers: [this.registry],
      collect() {
        this.set(pool.active);
      },
    });
    new Gauge({
      name: `almanac_http_${name}_waiting`,
      help: `Requests waiting for ${help.toLowerCase()}`,
      registers: [this.registry],
      collect() {
        this.set(pool.waiting);
      },
    });
  }

  requestEnded(method: string | undefined, status: number, seconds: number): void {
    const m = methodLabel(method);
    this.requests.inc({ method: m, status: String(status) });
    this.duration.observe({ method: m }, seconds);
  }

  connectionOpened(): void {
    this.connections.inc();
  }

  connectionClosed(): void {
    this.connections.dec();
  }

  loginFailed(): void {
    this.loginsFailed.inc();
  }

  loginThrottled(): void {
    this.loginsThrottled.inc();
  }

  /** Counts an error that reached the response as a storage (or unexpected) failure, if it is one. */
  errorSeen(err: unknown): void {
    if (err instanceof StorageError) {
      // not-found, exists, conflict...: answers to what the client asked, not failures.
      if (err.code === 'no-space' || err.code === 'not-permitted') this.storageErrors.inc({ code: err.code });
      return;
    }
    if (err instanceof DavError) return;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    this.storageErrors.inc({ code: typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : 'internal' });
  }

  /** A failed health probe. */
  probeFailed(): void {
    this.storageErrors.inc({ code: 'health' });
  }
}

export interface Monitoring {
  /** Undefined when `[monitoring] metrics` is off. */
  readonly metrics: Metrics | undefined;
  /** Answers `req` if it is a monitoring request (true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse, extraHeaders: Readonly<Record<string, string>>): boolean;
}

function readToken(settings: Config['monitoring']): string {
  if (settings.metrics_token_file !== '') {
    try {
      return readFileSync(settings.metrics_token_file, 'utf8').trim();
    } catch (err) {
      throw new Error(
        `[monitoring] metrics_token_file: cannot read ${settings.metrics_token_file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return settings.metrics_token.trim();
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
  head: boolean,
): void {
  res.writeHead(status, {
    ...headers,
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
  });
  res.end(head ? undefined : body);
}

/** The storage finds its root collection (a folder, a database row) within PROBE_TIMEOUT_MS. */
async function probe(storage: Pick<Storage, 'getCollection'>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>(
    (resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS)),
  );
  try {
    const found = storage.getCollection('').then((root) => root !== undefined);
    return await Promise.race([found, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The monitoring endpoints `[monitoring]` asks for, or undefined when both are off. Throws a start-up
 * error when metrics are on without a token.
 */
export function createMonitoring(
  config: Config,
  storage: Pick<Storage, 'getCollection'>,
): Monitoring | undefined {
  const settings = config.monitoring;
  if (!settings.health && !settings.metrics) return undefined;
  const token = settings.metrics ? readToken(settings) : '';
  if (settings.metrics && token === '') {
    throw new Error(
      '[monitoring] metrics = True needs a bearer token: set [monitoring] metrics_token or metrics_token_file ' +
        '(the scraper then sends Authorization: Bearer <token>)',
    );
  }
  const metrics = settings.metrics ? new Metrics() : undefined;
  const expected = digest(`Bearer ${token}`);
  const authorized = (req: IncomingMessage): boolean =>
    timingSafeEqual(digest((req.headers.authorization ?? '').trim()), expected);

  return {
    metrics,
    handle(req, res, extraHeaders): boolean {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const isHealth = settings.health && HEALTH.test(path);
      const isMetrics = metrics !== undefined && METRICS.test(path);
      if (!isHealth && !isMetrics) return false;
      const head = req.method === 'HEAD';
      const text = { ...extraHeaders, 'Content-Type': 'text/plain; charset=utf-8' };
      if (req.method !== 'GET' && !head) {
        send(res, 405, { ...text, Allow: 'GET, HEAD' }, 'Method not allowed\n', false);
        return true;
      }
      if (isHealth) {
        void probe(storage).then((ok) => {
          if (!ok) metrics?.probeFailed();
          send(res, ok ? 200 : 503, text, ok ? 'ok\n' : 'storage not answering\n', head);
        });
        return true;
      }
      if (metrics === undefined) return false;
      if (!authorized(req)) {
        send(
          res,
          401,
          { ...text, 'WWW-Authenticate': 'Bearer realm="almanac metrics"' },
          'Unauthorized\n',
          head,
        );
        return true;
      }
      void metrics.registry.metrics().then((body) => {
        send(res, 200, { ...extraHeaders, 'Content-Type': metrics.registry.contentType }, body, head);
      });
      return true;
    },
  };
}
