// XML request bodies of the benchmark workload.
const HEAD = '<?xml version="1.0" encoding="utf-8"?>\n';

export const PROPFIND_ETAG_TYPE =
  HEAD + '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/></D:prop></D:propfind>';

export const PROPFIND_CTAG =
  HEAD +
  '<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">' +
  '<D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>';

export function calendarQueryMonth(start: string, end: string): string {
  return (
    HEAD +
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' +
    '<D:prop><D:getetag/></D:prop>' +
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">' +
    `<C:time-range start="${start}" end="${end}"/>` +
    '</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
  );
}

export function calendarMultiget(hrefs: string[]): string {
  return (
    HEAD +
    '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' +
    '<D:prop><D:getetag/><C:calendar-data/></D:prop>' +
    hrefs.map((h) => `<D:href>${h}</D:href>`).join('') +
    '</C:calendar-multiget>'
  );
}

export function addressbookMultiget(hrefs: string[]): string {
  return (
    HEAD +
    '<CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">' +
    '<D:prop><D:getetag/><CR:address-data/></D:prop>' +
    hrefs.map((h) => `<D:href>${h}</D:href>`).join('') +
    '</CR:addressbook-multiget>'
  );
}

/** addressbook-query: contacts whose FN contains `text` (about 1/12 of the generated ones). */
export function addressbookQuery(text: string): string {
  return (
    HEAD +
    '<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">' +
    '<D:prop><D:getetag/><CR:address-data/></D:prop>' +
    '<CR:filter><CR:prop-filter name="FN">' +
    `<CR:text-match collation="i;unicode-casemap" match-type="contains">${text}</CR:text-match>` +
    '</CR:prop-filter></CR:filter></CR:addressbook-query>'
  );
}

export function syncCollection(token: string): string {
  return (
    HEAD +
    '<D:sync-collection xmlns:D="DAV:">' +
    (token === '' ? '<D:sync-token/>' : `<D:sync-token>${token}</D:sync-token>`) +
    '<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>'
  );
}

/** The sync token of a sync-collection answer, or '' when absent. */
export function extractSyncToken(xml: string): string {
  const m = /<(?:[A-Za-z0-9]+:)?sync-token[^>]*>([^<]+)<\//.exec(xml);
  return m?.[1]?.trim() ?? '';
}

/** Number of <response> elements in a multistatus body. */
export function countResponses(xml: string): number {
  return (xml.match(/<(?:[A-Za-z0-9]+:)?response[\s>]/g) ?? []).length;
}
