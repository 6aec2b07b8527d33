/**
 * The body of a sync-collection REPORT (RFC 6578 §3.2), as a typed value.
 */
import { DavError, badRequest } from '../errors.js';
import { DAV_CONDITIONS } from '../preconditions.js';
import { reportPropRequest, type PropRequest } from '../prop-request.js';
import { NS, child, textContent, type XmlElement } from '../xml.js';

export interface SyncCollectionRequest {
  /** The client's token; '' for a first sync. */
  readonly token: string;
  /** DAV:sync-level as sent (1 or infinite; both answer the collection's members), absent: none sent. */
  readonly level?: '1' | 'infinite';
  /** DAV:limit/DAV:nresults, a whole number of at least 1. */
  readonly limit?: number;
  readonly props: PropRequest;
}

export function parseSyncCollection(body: XmlElement): SyncCollectionRequest {
  const tokenEl = child(body, NS.D, 'sync-token');
  const token = tokenEl ? textContent(tokenEl).trim() : '';
  const levelEl = child(body, NS.D, 'sync-level');
  const level = levelEl ? textContent(levelEl).trim() : undefined;
  if (level !== undefined && level !== '1' && level !== 'infinite') throw badRequest('Invalid sync-level');
  const limitEl = child(body, NS.D, 'limit');
  const nresults = limitEl ? child(limitEl, NS.D, 'nresults') : undefined;
  const limit = nresults ? Number.parseInt(textContent(nresults).trim(), 10) : undefined;
  if (limit !== undefined && (!Number.isFinite(limit) || limit < 1)) {
    throw new DavError(403, 'Invalid limit', DAV_CONDITIONS.numberOfMatchesWithinLimits);
  }
  return {
    token,
    ...(level !== undefined ? { level } : {}),
    ...(limit !== undefined ? { limit } : {}),
    props: reportPropRequest(body),
  };
}
