/**
 * WebDAV-Push subscription management: the draft's POST of a `push-register` body to a collection,
 * and DELETE of the registration URL (`<prefix>/.push/<id>`) the POST answered with in `Location`.
 *
 * Only a user who may read the collection registers; a registration can only be removed by the user
 * who made it (anyone else gets 404, as for an unknown one). Registrations expire at the time the
 * client asked for, at most `[push] max_expiry` from now (the `Expires` header says which).
 */
import { randomBytes, createPublicKey } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { DavRequest, DavResponse } from '../dav/context.js';
import { DavError, accessDenied, forbidden, notFound, unsupportedMediaType } from '../dav/errors.js';
import { xmlBody } from '../dav/request-body.js';
import { resolve } from '../dav/resource.js';
import { child, textContent, type XmlElement } from '../dav/xml.js';
import type { PushSubscriptionRecord } from '../storage/push-store.js';
import { PUSH_CONDITIONS, PUSH_NS } from './message.js';
import type { PushService } from './service.js';

/** The path under the prefix where registration URLs live (a dot-name: never a collection). */
export const REGISTRATION_SEGMENT = '.push';
const ID_RE = /^[A-Za-z0-9_-]{22}$/;
const MAX_ENDPOINT_LENGTH = 2048;

const invalid = (msg: string): DavError => forbidden(msg, PUSH_CONDITIONS.invalidSubscription);

/** Addresses a push resource must not point at unless `[push] allow_http_endpoints` (no requests into the LAN). */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['::ffff:0:0', 96],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** Why this push resource is refused, or undefined. */
export function endpointProblem(endpoint: string, allowHttp: boolean): string | undefined {
  if (endpoint.length > MAX_ENDPOINT_LENGTH)
    return `push-resource is longer than ${MAX_ENDPOINT_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'push-resource is not an absolute URL';
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    return 'push-resource must be an https: URL';
  }
  if (url.username !== '' || url.password !== '') return 'push-resource must not carry credentials';
  if (allowHttp) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const family = isIP(host);
  if (host === 'localhost' || host.endsWith('.localhost')) return 'push-resource must not be on this host';
  if (family !== 0 && PRIVATE.check(host, family === 4 ? 'ipv4' : 'ipv6')) {
    return 'push-resource must not be a loopback, private or link-local address';
  }
  return undefined;
}

function base64url(text: string, what: string, bytes: (n: number) => boolean): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(t)) throw invalid(`${what} is not base64url`);
  const b = Buffer.from(t, 'base64url');
  if (!bytes(b.length)) throw invalid(`${what} has the wrong length (${b.length} bytes)`);
  return b;
}

/** The subscription's P-256 public key: an uncompressed point on the curve. */
function checkPublicKey(key: Buffer): void {
  if (key[0] !== 4) throw invalid('subscription-public-key is not an uncompressed P-256 point');
  try {
    createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: key.subarray(1, 33).toString('base64url'),
        y: key.subarray(33, 65).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw invalid('subscription-public-key is not a point on P-256');
  }
}

interface Parsed {
  readonly endpoint: string;
  readonly p256dh: string;
  readonly auth: string;
  readonly requestedExpiry: number | undefined;
}

function parseRegister(root: XmlElement, allowHttp: boolean): Parsed {
  const subscriptions = root.children.filter((c) => c.ns === PUSH_NS && c.local === 'subscription');
  if (subscriptions.length !== 1) throw invalid('push-register needs exactly one subscription');
  const sub = subscriptions[0] as XmlElement;
  const wp = child(sub, PUSH_NS, 'web-push-subscription');
  if (!wp || sub.children.length !== 1) {
    throw forbidden('Only web-push-subscription is supported', PUSH_CONDITIONS.pushNotAvailable);
  }
  const resource = child(wp, PUSH_NS, 'push-resource');
  if (!resource) throw invalid('web-push-subscription needs a push-resource');
  const endpoint = textContent(resource).trim();
  const problem = endpointProblem(endpoint, allowHttp);
  if (problem !== undefined) throw invalid(problem);
  const encoding = child(wp, PUSH_NS, 'content-encoding');
  if (encoding && textContent(encoding).trim() !== 'aes128gcm') {
    throw invalid('Only the aes128gcm content-encoding (RFC 8291) is supported');
  }
  // subscription-public-key in the current draft (DAVx5), client-public-key in earlier ones.
  const keyEl = child(wp, PUSH_NS, 'subscription-public-key') ?? child(wp, PUSH_NS, 'client-public-key');
  const authEl = child(wp, PUSH_NS, 'auth-secret');
  if (!keyEl || !authEl) {
    throw invalid('Message encryption is required: give subscription-public-key and auth-secret');
  }
  const type = keyEl.attrs.type;
  if (type !== undefined && type !== 'p256dh') throw invalid(`Key type ${type} is not supported (p256dh is)`);
  const key = base64url(textContent(keyEl), 'subscription-public-key', (n) => n === 65);
  checkPublicKey(key);
  const auth = base64url(textContent(authEl), 'auth-secret', (n) => n === 16);
  const expiresEl = child(root, PUSH_NS, 'expires');
  const requested = expiresEl ? Date.parse(textContent(expiresEl).trim()) : NaN;
  return {
    endpoint,
    p256dh: key.toString('base64url'),
    auth: auth.toString('base64url'),
    requestedExpiry: Number.isFinite(requested) ? requested : undefined,
  };
}

const httpDate = (ms: number): string => new Date(ms).toUTCString();

/** The registration URL, absolute (the draft's example is; DAVx5 needs one to DELETE it later). */
function registrationUrl(req: DavRequest, id: string): string {
  return `${req.origin.proto}://${req.origin.host}${req.prefix}/${REGISTRATION_SEGMENT}/${id}`;
}

/** POST of an XML body (the core required some right on the path first). */
export async function register(push: PushService, req: DavRequest): Promise<DavResponse> {
  const res = await resolve(req, req.segments);
  if (!req.access.canRead(res)) throw accessDenied();
  const root = await xmlBody(req);
  if (!root || root.ns !== PUSH_NS || root.local !== 'push-register') {
    throw unsupportedMediaType('POST takes only a WebDAV-Push push-register body');
  }
  if (res.kind === 'missing') throw notFound();
  if (res.kind !== 'collection' || res.path === '') {
    throw forbidden('WebDAV-Push is available for collections', PUSH_CONDITIONS.pushNotAvailable);
  }
  const parsed = parseRegister(root, push.allowHttpEndpoints);
  const now = Date.now();
  const latest = now + push.maxExpiryMs;
  const asked = parsed.requestedExpiry;
  // Second precision, as the Expires header tells it.
  const expires =
    Math.floor((asked !== undefined && asked > now && asked < latest ? asked : latest) / 1000) * 1000;
  const record: PushSubscriptionRecord = {
    id: randomBytes(16).toString('base64url'),
    user: req.user,
    collection: res.path,
    endpoint: parsed.endpoint,
    p256dh: parsed.p256dh,
    auth: parsed.auth,
    expires,
  };
  const result = await push.store.register(record, push.limits, now);
  push.noteGroups(req.user, req.groups);
  if (result.kind === 'limit') {
    const msg =
      result.which === 'user'
        ? `You already have ${push.limits.perUser} WebDAV-Push registrations ([push] max_subscriptions_per_user)`
        : `This collection already has ${push.limits.perCollection} WebDAV-Push registrations ` +
          '([push] max_subscriptions_per_collection)';
    req.log.warn(`WebDAV-Push registration for /${res.path}/ refused: ${msg}`);
    throw forbidden(msg, PUSH_CONDITIONS.pushNotAvailable);
  }
  req.log.info(
    `WebDAV-Push: ${result.kind} registration ${result.record.id} of /${res.path}/ until ${httpDate(expires)}`,
  );
  return {
    status: result.kind === 'created' ? 201 : 204,
    headers: { Location: registrationUrl(req, result.record.id), Expires: httpDate(expires) },
  };
}

/** DELETE of a registration URL. */
export async function unregister(push: PushService, req: DavRequest): Promise<DavResponse> {
  const id = req.segments[1] ?? '';
  if (req.segments.length !== 2 || !ID_RE.test(id)) throw notFound();
  const record = await push.store.byId(id);
  if (!record || record.user !== req.user || record.expires <= Date.now()) throw notFound();
  await push.store.remove(id);
  req.log.info(`WebDAV-Push: registration ${id} of /${record.collection}/ removed by its client`);
  return { status: 204, headers: {} };
}

/** Whether the request is for the registration URLs' path. */
export function isRegistrationPath(req: DavRequest): boolean {
  return req.segments[0] === REGISTRATION_SEGMENT;
}

/** The registration URLs: DELETE unregisters; no other method means anything there. */
export function registrationPath(push: PushService, req: DavRequest): Promise<DavResponse> {
  if (req.method === 'DELETE') return unregister(push, req);
  throw new DavError(405, 'A WebDAV-Push registration URL takes DELETE only', undefined, [], {
    Allow: 'DELETE',
  });
}
