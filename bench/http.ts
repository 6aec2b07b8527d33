// Minimal HTTP client for the benchmark: one request, timed from send to the last body byte.
import { Agent, request } from 'node:http';

export interface Reply {
  status: number;
  ms: number;
  body: string;
  bytes: number;
}

export interface RequestOptions {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  agent: Agent;
  /** Keep the body text (otherwise only its length is counted). */
  keepBody?: boolean;
  timeoutMs?: number;
}

export const AUTH = 'Basic ' + Buffer.from('bench:bench').toString('base64');

export function send(baseUrl: string, opts: RequestOptions): Promise<Reply> {
  const url = new URL(opts.path, baseUrl);
  const headers: Record<string, string> = { Authorization: AUTH, ...opts.headers };
  const payload = opts.body === undefined ? undefined : Buffer.from(opts.body, 'utf8');
  if (payload !== undefined) headers['Content-Length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(url, { method: opts.method, headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (opts.keepBody === true) chunks.push(chunk);
      });
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        resolve({ status: res.statusCode ?? 0, ms, bytes, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 600000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends and throws unless the status is one of `ok`. */
export async function expect(baseUrl: string, opts: RequestOptions, ok: number[]): Promise<Reply> {
  const reply = await send(baseUrl, { ...opts, keepBody: true });
  if (!ok.includes(reply.status)) {
    throw new Error(
      `${opts.method} ${opts.path} -> ${reply.status} ${reply.body.slice(0, 160).replace(/\s+/g, ' ')}`,
    );
  }
  return reply;
}
