/**
 * The body of MKCOL (RFC 5689 §5.1) or of a plugin's creating method (MKCALENDAR, RFC 4791 §5.3.1),
 * as a typed value: what kind of body it is, and its set instructions. Which answer a body that
 * cannot be taken gets (415 or 400) is the method's to decide.
 */
import { badRequest } from '../errors.js';
import { operations, type Operation } from '../prop-updates.js';
import { XmlParseError, clark, parseXmlYielding } from '../xml.js';

export type CreateRequest =
  /** No body (or only white space): the collection is created with no properties. */
  | { readonly kind: 'empty' }
  /** A body that is not XML at all (RFC 4918 §9.3: MKCOL answers 415). */
  | { readonly kind: 'not-xml'; readonly message: string }
  /** XML whose root is none of the accepted bodies. */
  | { readonly kind: 'other-root'; readonly root: string }
  /** An accepted body: its root (Clark name) and DAV:set instructions, in document order. */
  | { readonly kind: 'create'; readonly root: string; readonly operations: readonly Operation[] };

/** `accepted`: Clark names of the root elements taken (`DavPlugins.createBodies()`). Malformed XML: 400. */
export async function parseCreateRequest(text: string, accepted: readonly string[]): Promise<CreateRequest> {
  if (text.trim() === '') return { kind: 'empty' };
  try {
    const body = await parseXmlYielding(text);
    const root = clark(body.ns, body.local);
    if (!accepted.includes(root)) return { kind: 'other-root', root };
    return { kind: 'create', root, operations: operations(body, true) };
  } catch (e) {
    if (!(e instanceof XmlParseError)) throw e;
    if (!/^\s*</.test(text)) return { kind: 'not-xml', message: e.message };
    throw badRequest(`Malformed XML body: ${e.message}`);
  }
}
