/**
 * MKCOL (RFC 4918 §9.3, extended by RFC 5689) and MKCALENDAR (RFC 4791 §5.3.1).
 */
import type { DavRequest, DavResponse } from '../context.js';
import { accessDenied, badRequest, conflict, DavError, forbidden, unsupportedMediaType } from '../errors.js';
import { multistatus } from '../multistatus.js';
import { bodyText } from '../request-body.js';
import {
  NS,
  XmlParseError,
  clark,
  el,
  elText,
  parseXmlYielding,
  serializeDocument,
  type XmlElement,
} from '../xml.js';
import { resolve } from '../resource.js';
import { hrefOf } from '../href.js';
import { changeContext } from '../change-context.js';
import { applyPropUpdates, failedUpdatePropstats, operations, type UpdateResult } from '../prop-updates.js';
import { StorageError } from '../../storage/types.js';

const C = (l: string): string => clark(NS.C, l);
const D = (l: string): string => clark(NS.D, l);

/**
 * Bodies that create a collection with properties: RFC 5689's DAV:mkcol, RFC 4791's C:mkcalendar,
 * and DAV:create, which Radicale's documentation has used for years in its curl examples (Radicale
 * reads the set instructions of any root element). Either method takes any of them.
 */
const CREATE_BODIES: readonly string[] = [D('mkcol'), D('create'), C('mkcalendar')];

async function parseBody(req: DavRequest, calendar: boolean): Promise<XmlElement | undefined> {
  const text = await bodyText(req);
  if (text.trim() === '') return undefined;
  let body: XmlElement;
  try {
    body = await parseXmlYielding(text);
  } catch (e) {
    if (e instanceof XmlParseError) {
      // RFC 4918 §9.3: a body MKCOL does not understand is 415.
      if (!calendar && !/^\s*</.test(text)) throw unsupportedMediaType('MKCOL body is not XML');
      throw badRequest(`Malformed XML body: ${e.message}`);
    }
    throw e;
  }
  if (!CREATE_BODIES.includes(clark(body.ns, body.local))) {
    const msg = 'The body must be DAV:mkcol, C:mkcalendar or DAV:create';
    if (calendar) throw badRequest(msg);
    throw unsupportedMediaType(msg);
  }
  return body;
}

export async function mkcol(req: DavRequest): Promise<DavResponse> {
  return makeCollection(req, false);
}

export async function mkcalendar(req: DavRequest): Promise<DavResponse> {
  return makeCollection(req, true);
}

/**
 * A property that cannot be set fails the whole request: RFC 5689 §3 answers MKCOL with 403 and a
 * DAV:mkcol-response, RFC 4791 §5.3.1.1 answers MKCALENDAR with a 207 Multi-Status.
 */
function failedCreation(req: DavRequest, calendar: boolean, result: UpdateResult): DavResponse {
  if (calendar) {
    const href = hrefOf(req.prefix, req.segments, true);
    return multistatus([el(D('response'), elText(D('href'), href), ...failedUpdatePropstats(result))]);
  }
  return {
    status: 403,
    headers: { 'Content-Type': 'application/xml; charset=utf-8' },
    body: serializeDocument(el(D('mkcol-response'), ...failedUpdatePropstats(result))),
  };
}

async function makeCollection(req: DavRequest, calendar: boolean): Promise<DavResponse> {
  const body = await parseBody(req, calendar);
  const res = await resolve(req.storage, req.segments);
  if (res.kind !== 'missing') {
    // RFC 4791 §5.3.1.1 leaves 403 or 409; Radicale answers 409, so do we.
    if (calendar) throw conflict('A resource already exists there', D('resource-must-be-null'));
    throw new DavError(405, 'A resource already exists there', undefined, [], {
      Allow: 'GET, PROPFIND, DELETE',
    });
  }
  if (req.segments.length === 0) throw new DavError(405, 'The root exists');
  if (!res.parent) throw conflict('The parent collection does not exist');
  if (res.parent.tag !== '') {
    throw forbidden(
      'Collections cannot be created inside a calendar or address book',
      calendar ? C('calendar-collection-location-ok') : undefined,
    );
  }
  const props: Record<string, string> = calendar ? { tag: 'VCALENDAR' } : {};
  if (body) {
    const result = applyPropUpdates(req, props, operations(body, true), 'new-collection');
    if (result.failed.length > 0) return failedCreation(req, calendar, result);
    if (calendar) props.tag = 'VCALENDAR';
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
