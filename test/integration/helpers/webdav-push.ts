/**
 * What the WebDAV-Push integration tests share: the push-register body a client POSTs, the POST itself,
 * and reading a decrypted push message.
 */
import assert from 'node:assert/strict';
import type { TestSubscription } from '../../helpers/push-service.js';
import { D, type DavClient, type DavResult } from './dav-client.js';
import { nameOf, parseXml, textContent } from '../../../src/dav/xml.js';

export const PUSH = 'https://bitfire.at/webdav-push';
export const P = (l: string): string => `{${PUSH}}${l}`;

/** Quick pushes and retries, to a push service on loopback. */
export const PUSH_CONFIG = {
  allow_http_endpoints: 'True',
  coalesce_delay: '0.2',
  _retry_delay: '0.05',
  retries: '2',
};

export function registerBody(sub: TestSubscription, expires?: Date, extra = ''): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><push-register xmlns="${PUSH}" xmlns:D="DAV:"><subscription>` +
    `<web-push-subscription><push-resource>${sub.endpoint}</push-resource>` +
    `<content-encoding>aes128gcm</content-encoding>` +
    `<subscription-public-key type="p256dh">${sub.p256dh}</subscription-public-key>` +
    `<auth-secret>${sub.auth}</auth-secret>${extra}</web-push-subscription></subscription>` +
    `<trigger><content-update><D:depth>1</D:depth></content-update></trigger>` +
    (expires ? `<expires>${expires.toUTCString()}</expires>` : '') +
    `</push-register>`
  );
}

export function registerAt(c: DavClient, path: string, body: string, user = 'alice'): Promise<DavResult> {
  return c.request('POST', path, {
    user,
    body,
    headers: { 'Content-Type': 'application/xml; charset=utf-8' },
  });
}

/** What a decrypted push message says. */
export function readMessage(xml: string): {
  topic: string;
  syncToken?: string;
  content: boolean;
  gone: boolean;
} {
  const root = parseXml(xml);
  assert.equal(nameOf(root), P('push-message'));
  const topic = root.children.find((c) => nameOf(c) === P('topic'));
  const content = root.children.find((c) => nameOf(c) === P('content-update'));
  const property = root.children.find((c) => nameOf(c) === P('property-update'));
  const token = content?.children.find((c) => nameOf(c) === D('sync-token'));
  const status = property?.children.find((c) => nameOf(c) === D('status'));
  return {
    topic: topic ? textContent(topic) : '',
    ...(token ? { syncToken: textContent(token) } : {}),
    content: content !== undefined,
    gone: status !== undefined && textContent(status).includes('404'),
  };
}
