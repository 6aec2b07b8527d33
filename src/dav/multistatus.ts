/**
 * Building 207 Multi-Status bodies.
 */
import { NS, XmlWriter, clark, el, elText, serializeDocument, type XmlNode, type XmlOut } from './xml.js';
import type { DavResponse } from './context.js';
import type { Precondition } from './preconditions.js';

const D = (local: string): string => clark(NS.D, local);

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  207: 'Multi-Status',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  424: 'Failed Dependency',
  500: 'Internal Server Error',
  507: 'Insufficient Storage',
};

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}`.trimEnd();
}

/** One property with its value (children) or just its name. */
export interface PropEntry {
  readonly name: string;
  readonly value?: XmlNode[];
  /** Attributes of the property element (xml:lang of a stored value). */
  readonly attrs?: Readonly<Record<string, string>>;
}

/** propstat groups by status. */
export function propstats(groups: ReadonlyMap<number, PropEntry[]>): XmlOut[] {
  const out: XmlOut[] = [];
  for (const [status, props] of [...groups].sort((a, b) => a[0] - b[0])) {
    if (props.length === 0) continue;
    out.push(
      el(
        D('propstat'),
        el(
          D('prop'),
          ...props.map((p) =>
            p.attrs
              ? { name: p.name, attrs: { ...p.attrs }, children: p.value ?? [] }
              : { name: p.name, children: p.value ?? [] },
          ),
        ),
        elText(D('status'), statusLine(status)),
      ),
    );
  }
  return out;
}

export function responseWithPropstats(href: string, groups: ReadonlyMap<number, PropEntry[]>): XmlOut {
  return el(D('response'), elText(D('href'), href), ...propstats(groups));
}

/** A DAV:response with a status, and the DAV:error condition it failed, if any. */
export function responseWithStatus(href: string, status: number, error?: Precondition): XmlOut {
  const condition = error === undefined ? undefined : el(D('error'), el(error));
  return el(D('response'), elText(D('href'), href), elText(D('status'), statusLine(status)), condition);
}

export function multistatus(responses: XmlNode[], extra: XmlNode[] = []): DavResponse {
  return {
    status: 207,
    headers: { 'Content-Type': 'application/xml; charset=utf-8' },
    body: serializeDocument(el(D('multistatus'), ...responses, ...extra)),
  };
}

/**
 * A streamed multistatus whose first response is computed before the status is sent: an error that
 * the request itself causes (an address-data type not offered, say) comes with the first response,
 * and is still a complete error answer instead of a multistatus cut short.
 */
export async function multistatusStreamFromFirst(responses: AsyncIterable<XmlNode>): Promise<DavResponse> {
  const it = responses[Symbol.asyncIterator]();
  const first = await it.next();
  async function* all(): AsyncIterable<XmlNode> {
    try {
      for (let r = first; r.done !== true; r = await it.next()) yield r.value;
    } finally {
      await it.return?.();
    }
  }
  return multistatusStream(all());
}

/**
 * A 207 whose responses are serialized and sent as they are produced, so a listing of 100,000 items
 * never exists in memory as one tree or one string. `trailer` (e.g. the sync-token) comes last.
 */
export function multistatusStream(
  responses: AsyncIterable<XmlNode> | Iterable<XmlNode>,
  trailer: () => XmlNode[] | Promise<XmlNode[]> = () => [],
): DavResponse {
  async function* chunks(): AsyncIterable<string> {
    const w = new XmlWriter();
    let buf = `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus${w.rootDeclarations()}>`;
    for await (const r of responses) {
      buf += w.write(r);
      if (buf.length >= 65536) {
        yield buf;
        buf = '';
      }
    }
    for (const t of await trailer()) buf += w.write(t);
    yield `${buf}</D:multistatus>`;
  }
  return { status: 207, headers: { 'Content-Type': 'application/xml; charset=utf-8' }, body: chunks() };
}
