/**
 * A tiny DAV client for integration tests: raw HTTP requests with Basic auth, and a multistatus
 * parser that turns a 207 body into href -> property name (Clark) -> {status, element}.
 */
import { request as httpRequest } from 'node:http';
import {
  NS,
  child,
  childrenNamed,
  nameOf,
  parseXml,
  textContent,
  type XmlElement,
} from '../../../src/dav/xml.js';

export interface DavResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** User name; password is looked up in the client's users, or given as `user:password`. */
  user?: string;
  /** Raw request target, sent unnormalised (for traversal tests). Overrides path. */
  rawPath?: string;
}

export interface PropResult {
  status: number;
  element: XmlElement;
}

export interface Multistatus {
  /** href -> Clark property name -> result. */
  props: Map<string, Map<string, PropResult>>;
  /** href -> status of a <response> that has a <status> and no propstat. */
  statuses: Map<string, number>;
  syncToken?: string;
  root: XmlElement;
}

export const DEFAULT_USERS: Record<string, string> = { alice: 'alicepw', bob: 'bobpw' };

function statusCode(line: string): number {
  const m = /HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(line);
  return m?.[1] ? Number(m[1]) : 0;
}

export class DavClient {
  constructor(
    readonly baseUrl: string,
    readonly users: Record<string, string> = DEFAULT_USERS,
  ) {}

  request(method: string, path: string, opts: RequestOptions = {}): Promise<DavResult> {
    const url = new URL(this.baseUrl);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.user !== undefined) {
      const [u, p] = opts.user.includes(':') ? opts.user.split(':', 2) : [opts.user, this.users[opts.user]];
      headers.Authorization = `Basic ${Buffer.from(`${u ?? ''}:${p ?? ''}`).toString('base64')}`;
    }
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    if (body) headers['Content-Length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, method, path: opts.rawPath ?? path, headers, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const buf = Buffer.concat(chunks);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: buf,
              text: buf.toString('utf8'),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** PROPFIND for the given Clark names (or allprop/propname when a string keyword). */
  async propfind(
    path: string,
    props: readonly string[] | 'allprop' | 'propname',
    depth: string,
    user = 'alice',
  ): Promise<DavResult> {
    let inner: string;
    if (props === 'allprop') inner = '<D:allprop/>';
    else if (props === 'propname') inner = '<D:propname/>';
    else inner = `<D:prop>${props.map(propXml).join('')}</D:prop>`;
    return this.request('PROPFIND', path, {
      user,
      headers: { Depth: depth, 'Content-Type': 'application/xml; charset=utf-8' },
      body: `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">${inner}</D:propfind>`,
    });
  }
}

/** `<x:local xmlns:x="ns"/>` for a Clark name. */
export function propXml(name: string): string {
  const m = /^\{([^}]*)\}(.*)$/.exec(name);
  if (!m) return `<${name}/>`;
  return `<x:${m[2] ?? ''} xmlns:x="${m[1] ?? ''}"/>`;
}

export function parseMultistatus(text: string): Multistatus {
  const root = parseXml(text);
  if (nameOf(root) !== `{${NS.D}}multistatus`) throw new Error(`not a multistatus: ${nameOf(root)}`);
  const props = new Map<string, Map<string, PropResult>>();
  const statuses = new Map<string, number>();
  for (const response of childrenNamed(root, NS.D, 'response')) {
    const hrefs = childrenNamed(response, NS.D, 'href').map((h) => textContent(h).trim());
    const status = child(response, NS.D, 'status');
    for (const href of hrefs) {
      if (status) statuses.set(href, statusCode(textContent(status)));
      const map = props.get(href) ?? new Map<string, PropResult>();
      props.set(href, map);
      for (const ps of childrenNamed(response, NS.D, 'propstat')) {
        const st = child(ps, NS.D, 'status');
        const code = st ? statusCode(textContent(st)) : 0;
        const prop = child(ps, NS.D, 'prop');
        for (const p of prop?.children ?? []) map.set(nameOf(p), { status: code, element: p });
      }
    }
  }
  const tokenEl = child(root, NS.D, 'sync-token');
  return { props, statuses, root, syncToken: tokenEl ? textContent(tokenEl).trim() : undefined };
}

const SABRE_MESSAGE = '{http://sabredav.org/ns}message';

function errorRoot(text: string): XmlElement | undefined {
  if (!text.trim().startsWith('<')) return undefined;
  try {
    const root = parseXml(text);
    return nameOf(root) === `{${NS.D}}error` ? root : undefined;
  } catch {
    return undefined;
  }
}

/** The DAV:error precondition names (Clark) in an error body, or [] when none. */
export function preconditions(text: string): string[] {
  return (errorRoot(text)?.children ?? []).map(nameOf).filter((n) => n !== SABRE_MESSAGE);
}

/** The reason an error body gives: its `<s:message>` beside the precondition, or the plain text. */
export function errorMessage(text: string): string {
  const root = errorRoot(text);
  if (!root) return text.trim();
  const message = root.children.find((c) => nameOf(c) === SABRE_MESSAGE);
  return message ? textContent(message) : '';
}

/** The text of every descendant element with this Clark name. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    if (nameOf(e) === name) out.push(e);
    for (const c of e.children) walk(c);
  };
  walk(el);
  return out;
}

export function hrefsIn(el: XmlElement): string[] {
  return findAll(el, `{${NS.D}}href`).map((h) => textContent(h).trim());
}

export const D = (l: string): string => `{${NS.D}}${l}`;
export const C = (l: string): string => `{${NS.C}}${l}`;
export const CR = (l: string): string => `{${NS.CR}}${l}`;
export const CS = (l: string): string => `{${NS.CS}}${l}`;
export const ICAL = (l: string): string => `{${NS.ICAL}}${l}`;

/** A minimal valid iCalendar object with one VEVENT. */
export function vevent(
  uid: string,
  opts: { start?: string; end?: string; summary?: string; extra?: string } = {},
): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20240101T000000Z',
    `DTSTART:${opts.start ?? '20240110T100000Z'}`,
    `DTEND:${opts.end ?? '20240110T110000Z'}`,
    `SUMMARY:${opts.summary ?? `Event ${uid}`}`,
    ...(opts.extra ? opts.extra.split('\n') : []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ];
  return lines.join('\r\n');
}

export function vtodo(uid: string, summary = 'Todo'): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    'BEGIN:VTODO',
    `UID:${uid}`,
    'DTSTAMP:20240101T000000Z',
    `SUMMARY:${summary}`,
    'END:VTODO',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

export function vcard(uid: string, fn: string, extra = '', version = '3.0'): string {
  return [
    'BEGIN:VCARD',
    `VERSION:${version}`,
    `UID:${uid}`,
    `FN:${fn}`,
    `N:${fn.split(' ').reverse().join(';')};;;`,
    ...(extra ? extra.split('\n') : []),
    'END:VCARD',
    '',
  ].join('\r\n');
}

const MKCAL = (props: string): string =>
  `<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>${props}</D:prop></D:set></C:mkcalendar>`;

export async function mkcalendar(c: DavClient, path: string, user = 'alice', props = ''): Promise<DavResult> {
  return c.request('MKCALENDAR', path, { user, body: props ? MKCAL(props) : undefined });
}

export async function mkaddressbook(c: DavClient, path: string, user = 'alice'): Promise<DavResult> {
  return c.request('MKCOL', path, {
    user,
    body: `<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>`,
  });
}

export async function put(
  c: DavClient,
  path: string,
  body: string,
  user = 'alice',
  headers: Record<string, string> = {},
): Promise<DavResult> {
  const type =
    body.includes('BEGIN:VCARD') && !body.includes('BEGIN:VCALENDAR') ? 'text/vcard' : 'text/calendar';
  return c.request('PUT', path, {
    user,
    body,
    headers: { 'Content-Type': `${type}; charset=utf-8`, ...headers },
  });
}

export async function report(
  c: DavClient,
  path: string,
  body: string,
  depth = '1',
  user = 'alice',
): Promise<DavResult> {
  return c.request('REPORT', path, {
    user,
    body: `<?xml version="1.0" encoding="utf-8"?>${body}`,
    headers: { Depth: depth, 'Content-Type': 'application/xml; charset=utf-8' },
  });
}

/**
 * Problems with the DAV:response elements of a multistatus (RFC 4918 §14.24: an href, then a status
 * or at least one propstat; each propstat a prop and a status), as readable strings; [] when none.
 */
export function malformedResponses(text: string): string[] {
  const problems: string[] = [];
  for (const response of childrenNamed(parseXml(text), NS.D, 'response')) {
    const href = childrenNamed(response, NS.D, 'href').map((h) => textContent(h).trim());
    const status = childrenNamed(response, NS.D, 'status').length;
    const propstats = childrenNamed(response, NS.D, 'propstat');
    if (href.length === 0) problems.push('a response without href');
    if ((status === 1) === propstats.length > 0) {
      problems.push(`${href.join(' ')}: ${status} status and ${propstats.length} propstat`);
    }
    for (const ps of propstats) {
      if (!child(ps, NS.D, 'prop') || !child(ps, NS.D, 'status')) {
        problems.push(`${href.join(' ')}: a propstat without prop or status`);
      }
    }
  }
  return problems;
}
