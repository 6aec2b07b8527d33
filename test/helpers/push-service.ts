/**
 * A Web Push service on loopback for WebDAV-Push tests, independent of the `web-push` package the
 * server sends with: it makes subscriptions (a P-256 key pair from node:crypto ECDH and an auth
 * secret), receives the server's POSTs, checks the VAPID token (RFC 8292: ES256 signature with the key
 * in `k=`, `aud` = this service's origin, `exp` in the future) and decrypts the aes128gcm payload with
 * the subscription's private key (RFC 8291 over RFC 8188), implemented here.
 */
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestSubscription {
  readonly endpoint: string;
  /** Base64url, as a client registers them. */
  readonly p256dh: string;
  readonly auth: string;
  readonly ecdh: ReturnType<typeof createECDH>;
  readonly authSecret: Buffer;
}

export interface VapidClaims {
  readonly aud: string;
  readonly exp: number;
  readonly sub: string;
  /** The `k=` key the token was checked with (base64url). */
  readonly key: string;
}

export interface ReceivedPush {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly status: number;
  readonly vapid: VapidClaims;
  /** The decrypted payload. */
  readonly message: string;
}

type Mode = { kind: 'status'; status: number } | { kind: 'hang' } | { kind: 'sequence'; statuses: number[] };

const b64u = (b: Buffer): string => b.toString('base64url');

/** RFC 8292 §2–3: the `vapid t=…, k=…` Authorization header, checked; the claims. */
export function checkVapid(header: string | undefined, origin: string): VapidClaims {
  const m = /^vapid\s+(.*)$/i.exec(header ?? '');
  if (!m?.[1]) throw new Error(`no vapid Authorization: ${header ?? '(none)'}`);
  const params = new Map(
    m[1].split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const token = params.get('t');
  const key = params.get('k');
  if (!token || !key) throw new Error('vapid header without t= or k=');
  const [h, p, s] = token.split('.');
  if (!h || !p || !s) throw new Error('malformed JWT');
  const header_ = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string };
  if (header_.alg !== 'ES256') throw new Error(`JWT alg ${String(header_.alg)}`);
  const point = Buffer.from(key, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Error('k= is not an uncompressed P-256 point');
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33)) },
    format: 'jwk',
  });
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${p}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(s, 'base64url'),
  );
  if (!ok) throw new Error('JWT signature does not verify with k=');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (claims.aud !== origin) throw new Error(`aud ${String(claims.aud)} is not ${origin}`);
  if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000)
    throw new Error('exp is not in the future');
  // RFC 8292 §2: at most 24 hours ahead.
  if (claims.exp > Date.now() / 1000 + 86_400) throw new Error('exp is more than 24 hours ahead');
  return { aud: claims.aud, exp: claims.exp, sub: String(claims.sub), key };
}

/** RFC 8291 §3.4 and RFC 8188 §2: decrypts an aes128gcm body for this subscription. */
export function decryptAes128gcm(body: Buffer, sub: TestSubscription): string {
  if (body.length < 21) throw new Error('aes128gcm body too short');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20] ?? 0;
  const asPublic = body.subarray(21, 21 + idlen);
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not a P-256 point`);
  const records = body.subarray(21 + idlen);
  const uaPublic = sub.ecdh.getPublicKey();
  const ecdhSecret = sub.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, sub.authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonceBase = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const out: Buffer[] = [];
  for (let seq = 0, off = 0; off < records.length; seq++, off += rs) {
    const record = records.subarray(off, Math.min(off + rs, records.length));
    // NONCE XOR SEQ, SEQ a 96-bit big-endian number (RFC 8188 §2.3).
    const nonce = Buffer.from(nonceBase);
    for (let i = 0, n = seq; i < 6 && n > 0; i++, n = Math.floor(n / 256)) {
      nonce[11 - i] = (nonce[11 - i] ?? 0) ^ (n % 256);
    }
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    // Padding: a delimiter (2 in the last record, 1 before) and zeros.
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    const delimiter = plain[end];
    const last = off + rs >= records.length;
    if (delimiter !== (last ? 2 : 1)) throw new Error(`bad padding delimiter ${String(delimiter)}`);
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out).toString('utf8');
}

export class TestPushService {
  readonly received: ReceivedPush[] = [];
  /** What was received but failed a check (a test asserts it stays empty). */
  readonly problems: string[] = [];
  private readonly subs = new Map<string, TestSubscription>();
  private readonly modes = new Map<string, Mode>();
  private readonly waiters = new Set<() => void>();
  private readonly hanging = new Set<() => void>();
  private counter = 0;

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(): Promise<TestPushService> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const service = new TestPushService(server, `http://127.0.0.1:${port}`);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '';
        const mode = service.modes.get(path) ?? { kind: 'status', status: 201 };
        let status = 201;
        if (mode.kind === 'hang') {
          service.hanging.add(() => res.destroy());
        } else if (mode.kind === 'sequence') {
          status = mode.statuses.shift() ?? 201;
        } else status = mode.status;
        service.record(path, req.headers, Buffer.concat(chunks), status);
        if (mode.kind !== 'hang') res.writeHead(status).end();
      });
    });
    return service;
  }

  private record(path: string, headers: IncomingHttpHeaders, body: Buffer, status: number): void {
    const sub = this.subs.get(path);
    try {
      if (!sub) throw new Error(`push to unknown ${path}`);
      if (headers['content-encoding'] !== 'aes128gcm')
        throw new Error(`Content-Encoding ${String(headers['content-encoding'])}`);
      if (!headers.ttl) throw new Error('no TTL header');
      const vapid = checkVapid(headers.authorization, this.origin);
      const message = decryptAes128gcm(body, sub);
      this.received.push({ path, headers, status, vapid, message });
    } catch (e) {
      this.problems.push(`${path}: ${(e as Error).message}`);
    }
    for (const w of this.waiters) w();
  }

  /** A new subscription (as a UnifiedPush distributor would make for DAVx5). */
  subscribe(): TestSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const path = `/push/${++this.counter}`;
    const sub = {
      endpoint: `${this.origin}${path}`,
      p256dh: b64u(ecdh.getPublicKey()),
      auth: b64u(authSecret),
      ecdh,
      authSecret,
    };
    this.subs.set(path, sub);
    return sub;
  }

  /** How the service answers pushes to this subscription from now on. */
  answer(sub: TestSubscription, mode: Mode): void {
    this.modes.set(new URL(sub.endpoint).pathname, mode);
  }

  pushesTo(sub: TestSubscription): ReceivedPush[] {
    const path = new URL(sub.endpoint).pathname;
    return this.received.filter((r) => r.path === path);
  }

  /** Waits until `sub` received at least `n` pushes (bounded by `timeoutMs`, then throws). */
  async waitFor(sub: TestSubscription, n: number, timeoutMs = 20_000): Promise<ReceivedPush[]> {
    const done = (): boolean => this.pushesTo(sub).length >= n || this.problems.length > 0;
    if (!done()) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiters.delete(check);
          reject(new Error(`${sub.endpoint}: ${this.pushesTo(sub).length} pushes, waited for ${n}`));
        }, timeoutMs);
        const check = (): void => {
          if (!done()) return;
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        };
        this.waiters.add(check);
      });
    }
    if (this.problems.length > 0) throw new Error(`push service problems: ${this.problems.join('; ')}`);
    return this.pushesTo(sub);
  }

  async stop(): Promise<void> {
    for (const h of this.hanging) h();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
