/**
 * Reading a 207 multistatus (with the browser's DOMParser) into href → properties.
 */
import { NS, clark } from './requests.js';

export interface DavResponse {
  readonly href: string;
  /** Properties found (status 200), keyed by Clark name `{ns}local`. */
  readonly props: ReadonlyMap<string, Element>;
}

/** The responses of a multistatus body; properties reported with a non-2xx propstat are left out. */
export function parseMultistatus(body: string): DavResponse[] {
  const doc = new DOMParser().parseFromString(body, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length > 0) throw new Error('The server sent invalid XML');
  const out: DavResponse[] = [];
  for (const r of Array.from(doc.getElementsByTagNameNS(NS.D, 'response'))) {
    const href = childText(r, NS.D, 'href');
    if (href === null) continue;
    const props = new Map<string, Element>();
    for (const ps of children(r, NS.D, 'propstat')) {
      const status = childText(ps, NS.D, 'status') ?? '';
      if (!/^HTTP\/\S+ 2\d\d/.test(status.trim())) continue;
      for (const prop of children(ps, NS.D, 'prop')) {
        for (const value of Array.from(prop.children))
          props.set(clark(value.namespaceURI ?? '', value.localName), value);
      }
    }
    out.push({ href: href.trim(), props });
  }
  return out;
}

export function children(parent: Element, ns: string, local: string): Element[] {
  return Array.from(parent.children).filter((c) => c.namespaceURI === ns && c.localName === local);
}

export function childText(parent: Element, ns: string, local: string): string | null {
  const c = children(parent, ns, local)[0];
  return c === undefined ? null : (c.textContent ?? '');
}
