/**
 * CardDAV (RFC 6352) plugged into the WebDAV core: the address book kind, its properties and reports.
 */
import type {
  CollectionKind,
  DavPlugin,
  DavRequest,
  DavResponse,
  LiveProperty,
  Resource,
} from '../dav/context.js';
import { COLLATIONS } from '../dav/collation.js';
import { DavError } from '../dav/errors.js';
import {
  hrefOfResource,
  isPrincipal,
  makeLiveProperty as prop,
  ownCollectionHref,
} from '../dav/properties.js';
import { multistatusStreamFromFirst, responseWithStatus } from '../dav/multistatus.js';
import { propResponse, reportPropRequest } from '../dav/prop-request.js';
import { multiget } from '../dav/reports/multiget.js';
import { itemText, withTextBatches } from '../dav/item-text.js';
import { yielder } from '../dav/yielder.js';
import { asksForStoredText } from '../dav/item-responses.js';
import { NS, clark, elText, type XmlElement, type XmlNode } from '../dav/xml.js';
import type { NewItem } from '../storage/types.js';
import {
  isSupportedAddressData,
  parseAddressDataRequest,
  renderAddressData,
  supportedAddressData,
} from './address-data.js';
import { matchAddressFilter, parseAddressbookQuery } from './filter.js';
import {
  describeVcard,
  exportAddressBookStream,
  splitVcards,
  validateVcard,
  verifyVcard,
  type VcardDescription,
} from './item.js';
import { IN_PLACE_UP_TO, runInWorker } from '../dav/worker-task.js';
import { DAV_CONDITIONS } from '../dav/preconditions.js';
import { ADDRESSBOOK_ITEM_CONDITIONS, CARDDAV_CONDITIONS } from './preconditions.js';
import type { CardDavSettings } from './settings.js';

const CR = (l: string): string => clark(NS.CR, l);

const isAddressBook = (res: Resource): boolean =>
  res.kind === 'collection' && res.info.tag === 'VADDRESSBOOK';
const isCard = (res: Resource): boolean => res.kind === 'item' && res.collection.tag === 'VADDRESSBOOK';

const ADDRESSBOOK_KIND: CollectionKind = {
  tag: 'VADDRESSBOOK',
  preconditions: ADDRESSBOOK_ITEM_CONDITIONS,
  resourceType: CR('addressbook'),
  suffix: '.vcf',
  exportContentType: 'text/vcard; charset=utf-8',
  mediaTypes: ['text/vcard', 'text/x-vcard', 'text/directory'],
  itemContentType: () => 'text/vcard; charset=utf-8',
  itemContentTypeProperty: () => 'text/vcard;charset=utf-8',
  collectionContentTypeProperty: 'text/vcard',
  // A big card (a large photo) is read in a worker: other users are served.
  validateItem: (text) =>
    text.length <= IN_PLACE_UP_TO
      ? validateVcard(text)
      : runInWorker<VcardDescription>(import.meta.url, './validate-worker', text),
  describe: describeVcard,
  verifyItem: verifyVcard,
  splitUpload: (text) => {
    const items: NewItem[] = splitVcards(text).map((c) => ({
      text: c.text,
      description: describeVcard(c.text),
    }));
    return Promise.resolve({ items, props: {} });
  },
  exportCollection: (items) => exportAddressBookStream(items),
  sniff: (text) => /^\s*BEGIN:VCARD/i.test(text),
};

const properties = (settings: CardDavSettings): readonly LiveProperty[] => [
  prop(CR('addressbook-home-set'), isPrincipal, ownCollectionHref),
  prop(CR('principal-address'), isPrincipal, () => []),
  prop(CR('supported-address-data'), isAddressBook, () =>
    supportedAddressData().map((t) => ({
      name: CR('address-data-type'),
      attrs: { 'content-type': t.contentType, version: t.version },
    })),
  ),
  prop(CR('max-resource-size'), isAddressBook, () => [String(settings.maxResourceSize)]),
  prop(CR('supported-collation-set'), isAddressBook, () =>
    COLLATIONS.map((c) => elText(CR('supported-collation'), c)),
  ),
  prop(
    CR('address-data'),
    isCard,
    async (res, req, requested) => {
      const dataReq = parseAddressDataRequest(requested);
      if (!isSupportedAddressData(dataReq)) {
        throw new DavError(
          415,
          'Unsupported address data type',
          CARDDAV_CONDITIONS.supportedAddressDataConversion,
        );
      }
      return [renderAddressData(await itemText(req, res), dataReq)];
    },
    { verbatimText: asksForStoredText },
  ),
];

async function addressbookQuery(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  if (!isAddressBook(res) || res.kind !== 'collection') {
    throw new DavError(
      403,
      'addressbook-query needs an address book',
      CARDDAV_CONDITIONS.addressbookCollectionLocationOk,
    );
  }
  const { filter, limit } = parseAddressbookQuery(body);
  const preq = reportPropRequest(body);
  const items: (Resource & { kind: 'item' })[] = (await req.storage.listItems(res.path)).map((meta) => ({
    kind: 'item',
    path: res.path,
    href: meta.href,
    meta,
    collection: res.info,
  }));
  // Streamed as calendar-query is, the texts read in batches (withTextBatches); a card that does not
  // match costs no promise.
  async function* answers(): AsyncIterable<XmlNode> {
    let matched = 0;
    const pause = yielder();
    for await (const batch of withTextBatches(req, items)) {
      for (const { item, text } of batch) {
        if (pause.due()) await pause();
        if (!matchAddressFilter(filter, text)) continue;
        if (limit !== undefined && matched >= limit) {
          // RFC 6352 §8.6.1: the result was cut at the client's limit.
          yield responseWithStatus(hrefOfResource(req, res), 507, DAV_CONDITIONS.numberOfMatchesWithinLimits);
          return;
        }
        matched++;
        yield await propResponse(req, item, preq);
      }
    }
  }
  // An address-data type that is not offered is refused (415) with the first match.
  return multistatusStreamFromFirst(answers());
}

/** The CardDAV plugin, built once at start-up from its settings. */
export const cardDavPlugin = (settings: CardDavSettings): DavPlugin => ({
  kinds: [ADDRESSBOOK_KIND],
  properties: properties(settings),
  compliance: ['addressbook'],
  reports: {
    [CR('addressbook-multiget')]: { handler: multiget, appliesTo: isAddressBook },
    [CR('addressbook-query')]: { handler: addressbookQuery, appliesTo: isAddressBook },
  },
});
