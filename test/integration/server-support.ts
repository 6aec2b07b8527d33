/** Shared pieces of the server-*.test.ts files: a test handler, a captured logger and raw-socket clients. */
import { connect, type Socket } from 'node:net';
import { request, type IncomingHttpHeaders } from 'node:http';
import type { ServerResponse } from 'node:http';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { readBody } from '../../src/http/body.js';
import { DavError } from '../../src/dav/errors.js';
import { createLogger } from '../../src/log/logger.js';
import type { RequestHandler } from '../../src/http/types.js';
import { testConfig, type ConfigOverrides } from '../helpers/config.js';

export interface HandlerStats {
  active: number;
  maxActive: number;
  bodiesSeen: number;
  requests: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function reply(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain');
  res.end(text);
}

/**
 * `/slow?ms=N` answers after N ms, `/body` reads the body with readBody and echoes its length, `/throw`
 * throws, `/whoami` echoes the request context as JSON; anything else answers "ok".
 */
export function testHandler(stats: HandlerStats, limit: () => number): RequestHandler {
  return async (req, res, ctx) => {
    stats.requests++;
    stats.active++;
    stats.maxActive = Math.max(stats.maxActive, stats.active);
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/slow') await sleep(Number(url.searchParams.get('ms') ?? '500'));
      if (url.pathname === '/throw') throw new Error('secret internal detail');
      if (url.pathname === '/body') {
        try {
          // Through the server's body reading (slot given back, body_min_rate) as the DAV handlers do.
          const body = await (ctx.readBody ?? ((max: number) => readBody(req, max)))(limit());
          stats.bodiesSeen++;
          reply(res, 200, `got ${body.length}`);
        } catch (err) {
          if (!(err instanceof DavError)) throw err;
          reply(res, err.status, err.message);
        }
        return;
      }
      if (url.pathname === '/whoami') {
        ctx.user = 'alice';
        const { id: _id, log: _log, ...rest } = ctx;
        reply(res, 200, JSON.stringify(rest));
        return;
      }
      reply(res, 200, 'ok');
    } finally {
      stats.active--;
    }
  };
}

export interface TestServer {
  readonly server: RunningServer;
  readonly port: number;
  readonly stats: HandlerStats;
  readonly logLines: string[];
}

export async function startTestServer(
  overrides: ConfigOverrides = {},
  handler?: RequestHandler,
): Promise<TestServer> {
  const config = testConfig({
    ...overrides,
    server: { hosts: ['127.0.0.1:0'], ...overrides.server },
    logging: { level: 'debug', ...overrides.logging },
  });
  const stats: HandlerStats = { active: 0, maxActive: 0, bodiesSeen: 0, requests: 0 };
  const logLines: string[] = [];
  const log = createLogger(config, { write: (s: string) => logLines.push(s) }, 'text');
  const maxLength = config.server.max_content_length;
  const server = await startServer(config, handler ?? testHandler(stats, () => maxLength), log);
  const first = server.addresses[0];
  if (!first) throw new Error('no address');
  return { server, port: first.port, stats, logLines };
}

export interface SimpleResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One request with node:http (a fresh connection unless an agent is given). */
export function httpRequest(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; host?: string } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: opts.host ?? '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A raw TCP client: what the server sent, and whether/when the server closed the connection. */
export class RawClient {
  readonly socket: Socket;
  private data = '';
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (this.data += d));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  get received(): string {
    return this.data;
  }

  /** Resolves once the received text matches `re` (or rejects when the socket closes without it). */
  async waitFor(re: RegExp): Promise<string> {
    for (;;) {
      if (re.test(this.data)) return this.data;
      if (this.socket.destroyed || this.socket.readableEnded) {
        if (re.test(this.data)) return this.data;
        throw new Error(`connection closed; received: ${JSON.stringify(this.data)}`);
      }
      await sleep(10);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export { sleep };
