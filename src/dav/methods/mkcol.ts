/**
 * MKCOL (RFC 4918 §9.3, extended by RFC 5689), and the collection creation that a plugin's own
 * method shares with it (CalDAV's MKCALENDAR, RFC 4791 §5.3.1, in src/caldav/plugin.ts).
 */
import type { DavRequest, DavResponse } from '../context.js';
import { accessDenied, badRequest, conflict, DavError, unsupportedMediaType } from '../errors.js';
import { bodyText } from '../request-body.js';
import { NS, clark, el, serializeDocument } from '../xml.js';
import { parseCreateRequest } from '../requests/mkcol.js';
import { resolve } from '../resource.js';
import { changeContext } from '../change-context.js';
import {
  applyPropUpdates,
  failedUpdatePropstats,
  type Operation,
  type UpdateResult,
} from '../prop-updates.js';
import { StorageError, type CollectionTag } from '../../storage/types.js';

const D = (l: string): string => clark(NS.D, l);

/** How a creating method differs from MKCOL. */
export interface CollectionCreation {
  /** The tag the new collection gets whatever its body sets (MKCALENDAR: VCALENDAR); none: the body's. */
  readonly tag?: Exclude<CollectionTag, ''>;
  /**
   * A body it cannot take (not XML, or another root element): MKCOL answers 415 (RFC 4918 §9.3),
   * MKCALENDAR 400.
   */
  readonly refuseBody: (message: string) => DavError;
  /** Whether a body that is not XML at all is refused with `refuseBody` (else: 400, malformed XML). */
  readonly refuseNonXml: boolean;
  /** The answer when something exists at the path (MKCOL: 405). */
  readonly exists: () => DavError;
  /** The answer when the parent is a calendar or address book (MKCOL: 403 with no precondition). */
  readonly nested: () => DavError;
  /** The answer when a property cannot be set, which fails the whole request. */
  readonly failed: (req: DavRequest, result: UpdateResult) => DavResponse;
}

/** RFC 5689 §3: a property that cannot be set fails MKCOL with 403 and a DAV:mkcol-response. */
const MKCOL: CollectionCreation = {
  refuseBody: (message) => unsupportedMediaType(message),
  refuseNonXml: true,
  exists: () =>
    new DavError(405, 'A resource already exists there', undefined, [], { Allow: 'GET, PROPFIND, DELETE' }),
  nested: () => new DavError(403, 'Collections cannot be created inside a calendar or address book'),
  failed: (_req, result) => ({
    status: 403,
    headers: { 'Content-Type': 'application/xml; charset=utf-8' },
    body: serializeDocument(el(D('mkcol-response'), ...failedUpdatePropstats(result))),
  }),
};

/**
 * Bodies that create a collection with properties: RFC 5689's DAV:mkcol, DAV:create, which Radicale's
 * documentation has used for years in its curl examples (Radicale reads the set instructions of any
 * root element), and the plugins' (C:mkcalendar). Every creating method takes any of them.
 */
async function parseBody(
  req: DavRequest,
  how: CollectionCreation,
): Promise<readonly Operation[] | undefined> {
  const accepted = req.plugins.createBodies();
  const parsed = await parseCreateRequest(await bodyText(req), accepted);
  switch (parsed.kind) {
    case 'empty':
      return undefined;
    case 'not-xml':
      throw how.refuseNonXml
        ? how.refuseBody('MKCOL body is not XML')
        : badRequest(`Malformed XML body: ${parsed.message}`);
    case 'other-root': {
      const names = accepted.map(shortName);
      const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names.join('');
      throw how.refuseBody(`The body must be ${list}`);
    }
    case 'create':
      return parsed.operations;
  }
}

/** `{DAV:}mkcol` → `DAV:mkcol`, `{urn:ietf:params:xml:ns:caldav}mkcalendar` → `C:mkcalendar`. */
function shortName(clarkName: string): string {
  const m = /^\{([^}]*)\}(.*)$/.exec(clarkName);
  if (!m) return clarkName;
  const prefix = Object.entries(NS).find(([, uri]) => uri === m[1])?.[0];
  return prefix ? `${prefix === 'D' ? 'DAV' : prefix}:${m[2]}` : clarkName;
}

export async function mkcol(req: DavRequest): Promise<DavResponse> {
  return createCollection(req, MKCOL);
}

/** Creates the collection at the request's path with the properties its body sets. */
export async function createCollection(req: DavRequest, how: CollectionCreation): Promise<DavResponse> {
  const ops = await parseBody(req, how);
  const res = await resolve(req, req.segments);
  if (res.kind !== 'missing') throw how.exists();
  if (req.segments.length === 0) throw new DavError(405, 'The root exists');
  if (!res.parent) throw conflict('The parent collection does not exist');
  if (res.parent.tag !== '') throw how.nested();
  const props: Record<string, string> = how.tag ? { tag: how.tag } : {};
  if (ops) {
    const result = applyPropUpdates(req, props, ops, 'new-collection');
    if (result.failed.length > 0) return how.failed(req, result);
    if (how.tag) props.tag = how.tag;
  }
  const path = req.segments.join('/');
  const letters = req.access.letters(path);
  if (!letters.includes(props.tag ? 'w' : 'W')) throw accessDenied();
  if (!props.tag) delete props.tag;
  try {
    await req.storage.createCollection(path, props, changeContext(req));
  } catch (e) {
    if (e instanceof StorageError && e.code === 'exists')
      throw new DavError(405, 'A resource already exists there');
    throw e;
  }
  return { status: 201, headers: { 'Content-Length': '0' } };
}
