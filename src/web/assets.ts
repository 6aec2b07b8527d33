/**
 * Finds the web interface's files. Built: `dist/web/static/` (html/css/svg copied there, the client
 * compiled into `js/`). From source under tsx: `src/web/static/`, and `js/<name>.js` is transpiled on
 * the fly from `src/web/client/<name>.mts|.ts` so the interface works without a build step.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const STATIC_ROOT = fileURLToPath(new URL('./static/', import.meta.url));
const CLIENT_ROOT = fileURLToPath(new URL('./client/', import.meta.url));
/** Running the TypeScript sources directly (tsx), so the client has not been compiled. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function mimeType(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Maps a decoded sub-path (`/`, `/css/main.css`) to a relative file path, or null when it is unsafe:
 * empty, `.` or `..` segments, dot-files, backslashes, NUL or other control characters.
 */
export function safeRelativePath(subPath: string): string | null {
  if (!subPath.startsWith('/')) return null;
  const wanted = subPath.endsWith('/') ? subPath + 'index.html' : subPath;
  const segments = wanted.slice(1).split('/');
  for (const s of segments) {
    // eslint-disable-next-line no-control-regex
    if (s === '' || s.startsWith('.') || /[\\\u0000-\u001f\u007f]/.test(s)) return null;
  }
  return segments.join('/');
}

interface CacheEntry {
  readonly mtimeMs: number;
  readonly size: number;
  readonly asset: Asset;
}
const cache = new Map<string, CacheEntry>();

export async function loadAsset(subPath: string): Promise<Asset | null> {
  const rel = safeRelativePath(subPath);
  if (rel === null) return null;
  const file = await readInside(STATIC_ROOT, rel, (buf) => buf);
  if (file !== null) return file;
  // Browser modules are `<name>.mts` (→ .mjs), DOM-free shared ones `<name>.ts` (→ .js).
  const m = /^js\/([A-Za-z0-9_-]+)\.(m?)js$/.exec(rel);
  if (FROM_SOURCE && m !== null) {
    const js = await readInside(CLIENT_ROOT, `${m[1] ?? ''}.${m[2] ?? ''}ts`, transpile, rel);
    if (js !== null) return js;
  }
  return null;
}

/** Reads `root/rel` when it is a regular file whose real path stays inside root (no symlink escape). */
async function readInside(
  root: string,
  rel: string,
  convert: (body: Buffer) => Buffer | Promise<Buffer>,
  typeOf = rel,
): Promise<Asset | null> {
  let real: string;
  let realRoot: string;
  try {
    realRoot = await fs.realpath(root);
    real = await fs.realpath(path.join(root, rel));
  } catch {
    return null;
  }
  if (!real.startsWith(realRoot + path.sep)) return null;
  const st = await fs.stat(real).catch(() => null);
  if (st === null || !st.isFile()) return null;
  const hit = cache.get(real);
  if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.asset;
  const raw = await fs.readFile(real).catch(() => null);
  if (raw === null) return null;
  const body = await convert(raw);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const asset: Asset = { body, type: mimeType(typeOf), etag };
  cache.set(real, { mtimeMs: st.mtimeMs, size: st.size, asset });
  return asset;
}

/** Development only: TypeScript is a devDependency, present whenever the sources are run directly. */
async function transpile(source: Buffer): Promise<Buffer> {
  const ts = (await import('typescript')).default;
  const out = ts.transpileModule(source.toString('utf8'), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
  });
  return Buffer.from(out.outputText);
}
