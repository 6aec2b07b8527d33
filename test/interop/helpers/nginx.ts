/**
 * Runs Debian's real nginx for interop tests: a complete nginx.conf in a temporary folder (pid, logs and
 * temp paths inside it, `daemon off; master_process off;` so it needs no privileges and dies with the test),
 * listening on a free loopback port, with the `location` block the test gives.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../../helpers/net.js';

export { freePort };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Debian puts nginx in /usr/sbin, which is not on every user's PATH. */
const TOOL_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/** The absolute path of a tool, or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...TOOL_DIRS];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

/**
 * The tools are there, or the test is skipped with the install hint; in CI (CI=true) a missing tool is a
 * failure, so the suite cannot silently prove nothing.
 */
export function requireTools(t: TestContext, tools: readonly string[], hint: string): boolean {
  const missing = tools.filter((tool) => findTool(tool) === undefined);
  if (missing.length === 0) return true;
  const message = `${missing.join(', ')} not found: ${hint}`;
  if (process.env.CI === 'true') throw new Error(message);
  t.skip(message);
  return false;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface NginxOptions {
  /** Directives inside `http {}` (before the server block), e.g. `client_max_body_size 10m;`. */
  readonly http?: string;
  /** The `location ... { }` block(s), as in the documentation. */
  readonly locations: string;
}

export interface RunningNginx {
  readonly port: number;
  readonly url: string;
  /** The temporary folder holding nginx.conf, logs and files the test writes for nginx. */
  readonly dir: string;
  /** nginx's error log so far, for assertion messages. */
  errorLog(): string;
  stop(): Promise<void>;
}

/** Writes a file into a fresh temporary folder shared with nginx; returns the folder. */
export function nginxDir(): string {
  return mkdtempSync(join(tmpdir(), 'almanac-nginx-'));
}

function nginxConf(dir: string, port: number, opts: NginxOptions): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `  ${k}_temp_path ${join(dir, `${k}_temp`)};`)
    .join('\n');
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 128; }
http {
  access_log ${join(dir, 'access.log')};
${temp}
${opts.http ?? ''}
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
${opts.locations}
  }
}
`;
}

/** Starts nginx with the given location block(s) in `dir` (made with nginxDir) and waits until it accepts. */
export async function startNginx(dir: string, opts: NginxOptions): Promise<RunningNginx> {
  const bin = findTool('nginx');
  if (!bin) throw new Error('nginx not found: apt-get install nginx');
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, opts));
  const errorLog = (): string => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  // A syntax error is reported at once and clearly, rather than as a start-up timeout.
  try {
    execFileSync(bin, ['-t', '-c', conf, '-p', dir], { stdio: 'pipe' });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`nginx rejected its configuration:\n${stderr}\n${readFileSync(conf, 'utf8')}`, {
      cause: err,
    });
  }
  const child: ChildProcess = spawn(bin, ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  for (let i = 0; i < 200 && !(await canConnect(port)); i++) {
    if (exited) throw new Error(`nginx exited at start-up: ${stderr}\n${errorLog()}`);
    await sleep(25);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    dir,
    errorLog,
    stop: async () => {
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await Promise.race([gone, sleep(3000)]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface HttpOptions {
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** user and password for Basic authentication. */
  readonly auth?: readonly [string, string];
  /** Connect from this local address (e.g. 127.0.0.3 to be an untrusted client). */
  readonly localAddress?: string;
}

/** One HTTP request with any method; the body is read in full. */
export function httpRequest(url: string, method: string, opts: HttpOptions = {}): Promise<HttpReply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth.join(':')).toString('base64')}`;
  if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, localAddress: opts.localAddress, agent: false }, (res) => {
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
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Every DAV:href in a multistatus body, whatever namespace prefix the server chose. */
export function hrefsIn(body: string): string[] {
  return [...body.matchAll(/<(?:[A-Za-z][\w.-]*:)?href(?:\s[^>]*)?>([^<]*)<\//g)].map((m) => m[1] ?? '');
}
