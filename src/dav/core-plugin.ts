/**
 * Reports that belong to WebDAV itself.
 */
import type { DavPlugin, Resource } from './context.js';
import { expandProperty, principalPropertySearch, principalSearchPropertySet } from './reports/principal.js';
import { syncCollection } from './reports/sync-collection.js';
import { NS, clark } from './xml.js';

const D = (l: string): string => clark(NS.D, l);
const tagged = (res: Resource): boolean => res.kind === 'collection' && res.info.tag !== '';
const always = (): boolean => true;

export const CORE_PLUGIN: DavPlugin = {
  reports: {
    [D('sync-collection')]: { handler: syncCollection, appliesTo: tagged },
    [D('expand-property')]: { handler: expandProperty, appliesTo: always },
    [D('principal-property-search')]: { handler: principalPropertySearch, appliesTo: always },
    [D('principal-search-property-set')]: { handler: principalSearchPropertySet, appliesTo: always },
  },
};
