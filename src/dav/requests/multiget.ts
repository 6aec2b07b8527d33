/**
 * The body of calendar-multiget (RFC 4791 §7.9) and addressbook-multiget (RFC 6352 §8.7): the hrefs
 * asked for, in order, and the properties wanted for each. The root element is the report's.
 */
import { reportPropRequest, type PropRequest } from '../prop-request.js';
import { NS, childrenNamed, textContent, type XmlElement } from '../xml.js';

export interface MultigetRequest {
  /** DAV:href values as sent (trimmed), duplicates kept. */
  readonly hrefs: readonly string[];
  readonly props: PropRequest;
}

export function parseMultiget(body: XmlElement): MultigetRequest {
  return {
    hrefs: childrenNamed(body, NS.D, 'href').map((h) => textContent(h).trim()),
    props: reportPropRequest(body),
  };
}
