import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWeb, type WebConfig, type WebFeatures } from '../../src/web/serve.js';
import { safeRelativePath } from '../../src/web/assets.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A server that routes `/.web…` the way the dispatcher does: decoded sub-path, X-Script-Name prefix. */
async function serve(
  config: WebConfig,
  features: WebFeatures = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const web = createWeb(config, features);
  const server = http.createServer((req, res) => {
    const raw = (req.url ?? '/').split('?')[0] ?? '/';
    let sub: string;
    try {
      sub = decodeURIComponent(raw.slice('/.web'.length));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const script = String(req.headers['x-script-name'] ?? '');
    web
      .handle(req, sub, script)
      .then((r) => {
        // As the dispatcher writes it: the length of the body, which HEAD does not send.
        const headers = r.body ? { ...r.headers, 'Content-Length': String(r.body.length) } : r.headers;
        res.writeHead(r.status, headers).end(req.method === 'HEAD' ? undefined : r.body);
      })
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}

/** Raw request: node:http sends the path exactly as given (fetch would normalise `..` away). */
function get(
  port: number,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
  method = 'GET',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

void describe('web interface: internal', () => {
  let srv: { port: number; close(): Promise<void> };
  before(async () => {
    srv = await serve({ web: { type: 'internal' }, auth: { type: 'htpasswd' } });
  });
  after(() => srv.close());

  void it('redirects /.web to /.web/, with the proxy prefix', async () => {
    const plain = await get(srv.port, '/.web');
    assert.equal(plain.status, 301);
    assert.equal(plain.headers.location, '/.web/');
    const prefixed = await get(srv.port, '/.web', { 'X-Script-Name': '/radicale' });
    assert.equal(prefixed.status, 301);
    assert.equal(prefixed.headers.location, '/radicale/.web/');
  });

  void it('serves index.html with security headers and no inline script or style', async () => {
    const r = await get(srv.port, '/.web/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['content-security-policy'], CSP);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.match(r.body, /<script type="module" src="js\/main\.mjs"><\/script>/);
    assert.doesNotMatch(r.body, /<script>|<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|<style/);
    assert.doesNotMatch(r.body, /\son[a-z]+=/, 'no inline event handlers');
  });

  void it('answers with the right MIME types', async () => {
    const cases: [string, RegExp][] = [
      ['/.web/index.html', /^text\/html/],
      ['/.web/css/main.css', /^text\/css/],
      ['/.web/img/logo.svg', /^image\/svg\+xml/],
      ['/.web/js/main.mjs', /^text\/javascript/],
      ['/.web/js/requests.js', /^text\/javascript/],
      ['/.web/config.json', /^application\/json/],
    ];
    for (const [path, type] of cases) {
      const r = await get(srv.port, path);
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), type, path);
      assert.equal(r.headers['content-security-policy'], CSP, path);
    }
  });

  void it('serves the client as JavaScript modules (compiled or transpiled from the sources)', async () => {
    const r = await get(srv.port, '/.web/js/main.mjs');
    assert.match(r.body, /from '\.\/dav\.mjs'/);
    assert.doesNotMatch(r.body, /: DavClient\b|interface /, 'type annotations are gone');
  });

  void it('tells the client whether a front proxy or the browser prompt authenticates, and whether sharing and scheduling are on', async () => {
    assert.deepEqual(JSON.parse((await get(srv.port, '/.web/config.json')).body), {
      externalAuth: false,
      browserLogin: false,
      sharing: false,
      scheduling: false,
    });
    const proxied = await serve({ web: { type: 'internal' }, auth: { type: 'http_x_remote_user' } });
    const prompted = await serve(
      { web: { type: 'internal', prefer_browser_login: true }, auth: { type: 'htpasswd' } },
      { sharing: true, scheduling: true },
    );
    try {
      assert.deepEqual(JSON.parse((await get(proxied.port, '/.web/config.json')).body), {
        externalAuth: true,
        browserLogin: false,
        sharing: false,
        scheduling: false,
      });
      assert.deepEqual(JSON.parse((await get(prompted.port, '/.web/config.json')).body), {
        externalAuth: false,
        browserLogin: true,
        sharing: true,
        scheduling: true,
      });
    } finally {
      await proxied.close();
      await prompted.close();
    }
  });

  void it('answers 304 when If-None-Match matches the ETag, 200 otherwise', async () => {
    const first = await get(srv.port, '/.web/css/main.css');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[^"]+"$/);
    const again = await get(srv.port, '/.web/css/main.css', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers.etag, etag);
    const weak = await get(srv.port, '/.web/css/main.css', { 'If-None-Match': `"other", W/${etag}` });
    assert.equal(weak.status, 304);
    const stale = await get(srv.port, '/.web/css/main.css', { 'If-None-Match': '"stale"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body, first.body);
  });

  void it('answers HEAD with headers and no body', async () => {
    const r = await get(srv.port, '/.web/css/main.css', {}, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.ok(Number(r.headers['content-length']) > 100);
  });

  void it('refuses path traversal, dot-files and unknown files with 404', async () => {
    const attempts = [
      '/.web/../package.json',
      '/.web/../../package.json',
      '/.web/%2e%2e/package.json',
      '/.web/%2e%2e/%2e%2e/package.json',
      '/.web/css/%2e%2e/%2e%2e/serve.ts',
      '/.web/%2e%2e%2fserve.ts',
      '/.web/..%5cserve.ts',
      '/.web/%252e%252e/serve.ts',
      '/.web/css/../../assets.ts',
      '/.web/.hidden',
      '/.web/css/.main.css',
      '/.web/./index.html',
      '/.web//index.html',
      '/.web/index.html%00.css',
      '/.web/nonexistent.html',
      '/.web/js/nonexistent.js',
      '/.web/js/../serve.js',
      '/.web/js/tsconfig.json',
      '/.web/js/main.mts',
      '/.web/css',
    ];
    for (const path of attempts) {
      const r = await get(srv.port, path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /"name": "almanac"|createWeb/, path);
    }
  });

  void it('refuses methods other than GET and HEAD', async () => {
    const r = await get(srv.port, '/.web/', {}, 'POST');
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD');
  });
});

void describe('web interface: none', () => {
  void it('answers a plain "Almanac works!" page', async () => {
    const srv = await serve({ web: { type: 'none' }, auth: { type: 'htpasswd' } });
    try {
      const r = await get(srv.port, '/.web/');
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^text\/html/);
      assert.match(r.body, /Almanac works!/);
      assert.doesNotMatch(r.body, /<script/);
      assert.equal((await get(srv.port, '/.web')).status, 301);
    } finally {
      await srv.close();
    }
  });
});

void describe('safeRelativePath', () => {
  void it('maps directories to index.html and rejects unsafe segments', () => {
    assert.equal(safeRelativePath('/'), 'index.html');
    assert.equal(safeRelativePath('/css/main.css'), 'css/main.css');
    assert.equal(safeRelativePath('/img/'), 'img/index.html');
    for (const bad of [
      '',
      'index.html',
      '/..',
      '/../x',
      '/a/../b',
      '/.git/config',
      '/a//b',
      '/a\\b',
      '/a\u0000b',
    ]) {
      assert.equal(safeRelativePath(bad), null, JSON.stringify(bad));
    }
  });
});
