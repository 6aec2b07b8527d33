/**
 * WebDAV-Push service detection: the collection properties a client reads to learn that a collection
 * can be subscribed to, over which transport, with which VAPID key, and under which topic.
 *
 *     <P:transports><P:web-push><P:vapid-public-key type="p256dh">…</P:vapid-public-key></P:web-push></P:transports>
 *     <P:topic>…</P:topic>
 *     <P:supported-triggers>…</P:supported-triggers>
 *
 * `transports` is the current draft's name (DAVx5 asks for it); `push-transports`, the name of earlier
 * drafts and of nc_ext_dav_push, answers the same. None of them is in allprop (RFC 4918 leaves
 * extension properties out of it).
 */
import type { DavPlugin, LiveProperty, Resource } from '../dav/context.js';
import { NS, clark, el, elText } from '../dav/xml.js';
import { P } from './message.js';
import type { PushService } from './service.js';
import { isRegistrationPath, register, registrationPath } from './register.js';

/** Every collection but the root can be subscribed to (principals: their calendars come and go). */
const subscribable = (res: Resource): boolean => res.kind === 'collection' && res.path !== '';

export function createPushPlugin(push: PushService): DavPlugin {
  const transports = (): ReturnType<LiveProperty['get']> => [
    el(P('web-push'), {
      name: P('vapid-public-key'),
      attrs: { type: 'p256dh' },
      children: [push.vapidPublicKey],
    }),
  ];
  const prop = (name: string, get: LiveProperty['get']): LiveProperty => ({
    name,
    allprop: false,
    appliesTo: subscribable,
    get,
  });
  return {
    // Registration: POST of an XML body to a collection (push-register; other XML roots get 415).
    postTargets: [
      {
        name: 'push-register',
        matches: (req) => !isRegistrationPath(req) && /xml/i.test(req.header('content-type') ?? ''),
        handle: (req) => register(push, req),
      },
    ],
    // Unregistration: DELETE of the registration URL (OPTIONS answers as anywhere else).
    pathTargets: [
      {
        name: 'push-registration',
        matches: (req) => req.method !== 'OPTIONS' && isRegistrationPath(req),
        handle: (req) => registrationPath(push, req),
      },
    ],
    properties: [
      prop(P('transports'), transports),
      prop(P('push-transports'), transports),
      prop(P('topic'), (res) => (res.kind === 'collection' ? [push.topic(res.path)] : [])),
      prop(P('supported-triggers'), () => [
        el(P('content-update'), elText(clark(NS.D, 'depth'), '1')),
        el(P('property-update'), elText(clark(NS.D, 'depth'), '0')),
      ]),
    ],
  };
}
