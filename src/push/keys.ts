/**
 * The server's WebDAV-Push secrets: the VAPID key pair (RFC 8292; its public key is advertised in
 * the collections' `transports` property, the private key signs every push and is never logged) and
 * the secret that makes topics. Generated on the first start and kept by the storage's push store.
 */
import { createHmac, randomBytes } from 'node:crypto';
import webpush from 'web-push';
import type { PushSecrets, PushStore } from '../storage/push-store.js';

export function generateSecrets(): PushSecrets {
  const vapid = webpush.generateVAPIDKeys();
  return {
    vapidPublicKey: vapid.publicKey,
    vapidPrivateKey: vapid.privateKey,
    topicSecret: randomBytes(32).toString('base64url'),
  };
}

export function loadSecrets(store: PushStore): Promise<PushSecrets> {
  return store.secrets(generateSecrets);
}

/**
 * A collection's push topic: 16 bytes of an HMAC of its path under the server's secret, base64url
 * (22 characters). Stable across restarts, unique per collection path, and telling a push service
 * (which may see it in the Topic header) nothing about the collection. RFC 8030's Topic header takes
 * at most 32 characters of the URL-safe base64 alphabet.
 */
export function topicOf(secret: string, collection: string): string {
  return createHmac('sha256', secret)
    .update(collection, 'utf8')
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}
