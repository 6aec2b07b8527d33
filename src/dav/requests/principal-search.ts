/**
 * The body of principal-property-search (RFC 3744 §9.4), as a typed value.
 */
import { badRequest } from '../errors.js';
import { NS, child, childrenNamed, nameOf, textContent, type XmlElement } from '../xml.js';

export interface PropertySearch {
  /** Clark names of the properties searched. */
  readonly props: readonly string[];
  /** What they must contain, lower-cased (the match is case-insensitive, as Radicale's). */
  readonly match: string;
}

export interface PrincipalSearchRequest {
  readonly searches: readonly PropertySearch[];
  /** RFC 3744 §9.4: `anyof` when the test attribute says so, otherwise every search must match. */
  readonly test: 'anyof' | 'allof';
  /** The properties to answer for each match (DAV:prop's children; none: an empty propstat). */
  readonly props: readonly XmlElement[];
}

export function parsePrincipalPropertySearch(body: XmlElement): PrincipalSearchRequest {
  const searches = childrenNamed(body, NS.D, 'property-search').map((ps) => {
    const match = child(ps, NS.D, 'match');
    return {
      props: child(ps, NS.D, 'prop')?.children.map(nameOf) ?? [],
      match: match ? textContent(match).trim().toLowerCase() : '',
    };
  });
  if (searches.length === 0) throw badRequest('principal-property-search needs property-search');
  return {
    searches,
    test: body.attrs.test === 'anyof' ? 'anyof' : 'allof',
    props: child(body, NS.D, 'prop')?.children ?? [],
  };
}
