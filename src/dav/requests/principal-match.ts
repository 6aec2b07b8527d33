/**
 * The body of principal-match (RFC 3744 §9.3), as a typed value: either DAV:self (the principals that
 * are the current user) or DAV:principal-property (the resources whose named property identifies the
 * current user, e.g. DAV:owner), and the properties to answer.
 */
import { badRequest } from '../errors.js';
import { NS, child, nameOf, type XmlElement } from '../xml.js';

export type PrincipalMatchRequest =
  | { readonly match: 'self'; readonly props: readonly XmlElement[] }
  | { readonly match: 'property'; readonly property: string; readonly props: readonly XmlElement[] };

export function parsePrincipalMatch(body: XmlElement): PrincipalMatchRequest {
  const props = child(body, NS.D, 'prop')?.children ?? [];
  if (child(body, NS.D, 'self')) return { match: 'self', props };
  const property = child(body, NS.D, 'principal-property')?.children[0];
  if (property) return { match: 'property', property: nameOf(property), props };
  throw badRequest('principal-match needs DAV:self or DAV:principal-property with one property');
}
