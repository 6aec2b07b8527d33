/**
 * CardDAV's DAV:error conditions (RFC 6352 §6.3.2.1, §8.3, §8.6, §10.3), declared once.
 */
import { NS } from '../dav/xml.js';
import { declarePrecondition, type ItemConditions, type Precondition } from '../dav/preconditions.js';

const CR = (local: string): Precondition => declarePrecondition(NS.CR, local);

export const CARDDAV_CONDITIONS = {
  validAddressData: CR('valid-address-data'),
  supportedAddressData: CR('supported-address-data'),
  supportedAddressDataConversion: CR('supported-address-data-conversion'),
  addressbookCollectionLocationOk: CR('addressbook-collection-location-ok'),
  maxResourceSize: CR('max-resource-size'),
  noUidConflict: CR('no-uid-conflict'),
  supportedFilter: CR('supported-filter'),
  supportedCollation: CR('supported-collation'),
} as const;

/** What an address book's items break, for the core (CollectionKind.preconditions). */
export const ADDRESSBOOK_ITEM_CONDITIONS: ItemConditions = {
  maxResourceSize: CARDDAV_CONDITIONS.maxResourceSize,
  noUidConflict: CARDDAV_CONDITIONS.noUidConflict,
};
