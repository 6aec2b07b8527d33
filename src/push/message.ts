/**
 * The WebDAV-Push XML: namespace, element names, and the push message a client decrypts.
 */
import { NS, XmlWriter, clark, el, elText } from '../dav/xml.js';
import { declarePrecondition } from '../dav/preconditions.js';

/** The draft's namespace (earlier versions used `DAV:Push`; DAVx5 and the current draft use this). */
export const PUSH_NS = 'https://bitfire.at/webdav-push';
export const P = (local: string): string => clark(PUSH_NS, local);

/** The draft's DAV:error conditions. */
export const PUSH_CONDITIONS = {
  /** The subscription cannot be used: no or bad keys, a push resource we do not send to. */
  invalidSubscription: declarePrecondition(PUSH_NS, 'invalid-subscription'),
  /** Push is not available here: not a collection, another transport, a registration limit reached. */
  pushNotAvailable: declarePrecondition(PUSH_NS, 'push-not-available'),
} as const;

/** What a push tells the client about its collection. */
export interface PushNews {
  readonly topic: string;
  /** The collection's members changed: the sync token after the change (undefined: no sync token). */
  readonly content?: { readonly syncToken?: string };
  /** The collection itself changed (its properties) or is gone. */
  readonly property?: { readonly gone: boolean };
}

/**
 * The push message body, as DAVx5 reads it:
 *
 *     <P:push-message xmlns:D="DAV:" xmlns:P="https://bitfire.at/webdav-push">
 *       <P:topic>…</P:topic>
 *       <P:content-update><D:sync-token>…</D:sync-token></P:content-update>
 *     </P:push-message>
 *
 * A collection that was deleted or moved away gets `<P:property-update>` with `<D:status>` 404.
 */
export function pushMessage(news: PushNews): string {
  const w = new XmlWriter({ [NS.D]: 'D', [PUSH_NS]: 'P' });
  const content = news.content;
  const root = el(
    P('push-message'),
    elText(P('topic'), news.topic),
    content &&
      el(
        P('content-update'),
        content.syncToken !== undefined && elText(clark(NS.D, 'sync-token'), content.syncToken),
      ),
    news.property &&
      el(P('property-update'), news.property.gone && elText(clark(NS.D, 'status'), 'HTTP/1.1 404 Not Found')),
  );
  return `<?xml version="1.0" encoding="utf-8"?>\n${w.writeRoot(root)}`;
}
