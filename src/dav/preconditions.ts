/**
 * DAV:error conditions (RFC 4918 §16) as one typed set: a `Precondition` is the Clark name of the
 * element that goes inside DAV:error, and only a declaration makes one, so every condition an answer
 * can carry is declared once, where its namespace is known: WebDAV's here, CalDAV's in
 * src/caldav/preconditions.ts, CardDAV's in src/carddav/preconditions.ts. A collection kind names the
 * conditions of its items (`CollectionKind.preconditions`), so the core says "too large" or "UID
 * taken" in the namespace of the collection it writes to without knowing which that is.
 */
import { NS, clark } from './xml.js';

declare const preconditionBrand: unique symbol;

/** The Clark name of a DAV:error condition element, e.g. `{DAV:}valid-sync-token`. */
export type Precondition = string & { readonly [preconditionBrand]: true };

/** Declares a condition; call it only in a preconditions table. */
export function declarePrecondition(ns: string, local: string): Precondition {
  return clark(ns, local) as Precondition;
}

const D = (local: string): Precondition => declarePrecondition(NS.D, local);

/** WebDAV's own (RFC 4918 §16, RFC 3253 §3.6, RFC 5689 §3, RFC 6578 §3.8, RFC 5842). */
export const DAV_CONDITIONS = {
  resourceMustBeNull: D('resource-must-be-null'),
  cannotModifyProtectedProperty: D('cannot-modify-protected-property'),
  validResourcetype: D('valid-resourcetype'),
  propfindFiniteDepth: D('propfind-finite-depth'),
  supportedReport: D('supported-report'),
  validSyncToken: D('valid-sync-token'),
  numberOfMatchesWithinLimits: D('number-of-matches-within-limits'),
} as const;

/** The conditions every kind of collection declares for its items, each in its own namespace. */
export interface ItemConditions {
  /** The item is larger than `[server] max_resource_size` (CalDAV/CardDAV max-resource-size). */
  readonly maxResourceSize: Precondition;
  /** Another item holds the UID, or the UID of an item would change (no-uid-conflict). */
  readonly noUidConflict: Precondition;
}
