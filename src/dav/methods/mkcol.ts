/**
 * MKCOL (RFC 4918 §9.3, extended by RFC 5689) and MKCALENDAR (RFC 4791 §5.3.1).
 */
import type { DavRequest, DavResponse } from '../context.js';
import { DavError, badRequest, conflict, forbidden, unsupportedMediaType } from '../errors.js';
import { propstats } from '../multistatus.js';
import { bodyText } from '../request-body.js';
import { NS, XmlParseError, child, clark, el, parseXml, serializeDocument, type XmlElement } from '../xml.js';
import { resolve } from '../resource.js';
import { applyPropUpdates, operations } from './proppatch.js';
import { changeContext } from '../change-context.js';
import { StorageError } from '../../storage/types.js';

const C = (l: string): string => clark(NS.C, l);

async function parseBody(req: DavRequest, calendar: boolean): Promise<XmlElement | undefined> {
  const text = await bodyText(req);
  if (text.trim() === '') return undefined;
  let body: XmlElement;
  try {
    body = parseXml(text);
  } catch (e) {
    if (e instanceof XmlParseError) {
      // RFC 4918 §9.3: a body MKCOL does not understand is 415.
      if (!calendar && !/^\s*</.test(text)) throw unsupportedMediaType('MKCOL body is not XML');
      throw badRequest(`Malformed XML body: ${e.message}`);
    }
    throw e;
  }
  const ok = calendar
    ? body.ns === NS.C && body.local === 'mkcalendar'
    : body.ns === NS.D && body.local === 'mkcol';
  if (!ok) {
    if (calendar) throw badRequest('Expected C:mkcalendar');
    throw unsupportedMediaType('MKCOL body must be DAV:mkcol');
  }
  return body;
}

export async function mkcol(req: DavRequest): Promise<DavResponse> {
  return makeCollection(req, false);
}

export async function mkcalendar(req: DavRequest): Promise<DavResponse> {
  return makeCollection(req, true);
}

async function makeCollection(req: DavRequest, calendar: boolean): Promise<DavResponse> {
  const body = await parseBody(req, calendar);
  const res = await resolve(req.storage, req.segments);
  if (res.kind !== 'missing') {
    if (calendar) throw forbidden('A resource already exists there', clark(NS.D, 'resource-must-be-null'));
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
    const ops = operations(wrapAsPropertyUpdate(body));
    const { failed, done } = applyPropUpdates(req, props, ops);
    if (calendar) props.tag = 'VCALENDAR';
    if (failed.length > 0) {
      const answer = el(
        clark(NS.D, 'mkcol-response'),
        ...propstats(
          new Map([
            [403, failed],
            [424, done],
          ]),
        ),
      );
      return {
        status: 403,
        headers: { 'Content-Type': 'application/xml; charset=utf-8' },
        body: serializeDocument(answer),
      };
    }
  }
  const path = req.segments.join('/');
  const letters = req.access.letters(path);
  if (!letters.includes(props.tag ? 'w' : 'W')) throw new DavError(403, 'Access denied');
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

/** mkcol/mkcalendar have the same set/prop structure as propertyupdate. */
function wrapAsPropertyUpdate(body: XmlElement): XmlElement {
  const sets = body.children.filter((c) => c.ns === NS.D && c.local === 'set' && child(c, NS.D, 'prop'));
  return { ns: NS.D, local: 'propertyupdate', attrs: {}, children: sets, text: '' };
}
