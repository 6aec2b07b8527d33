/**
 * What belongs to WebDAV itself, registered like any plugin: its methods, its live properties and
 * its reports.
 */
import { principalMatch } from './reports/principal-match.js';
import type { DavPlugin, DavRequest, Resource } from './context.js';
import { copy, move } from './methods/move-copy.js';
import { del } from './methods/delete.js';
import { get } from './methods/get.js';
import { mkcol } from './methods/mkcol.js';
import { options } from './methods/options.js';
import { post } from './methods/post.js';
import { propfind } from './methods/propfind.js';
import { proppatch } from './methods/proppatch.js';
import { put } from './methods/put.js';
import { report } from './methods/report.js';
import { expandProperty, principalPropertySearch, principalSearchPropertySet } from './reports/principal.js';
import { syncCollection } from './reports/sync-collection.js';
import { CORE_PROPERTIES } from './properties.js';
import { NS, clark } from './xml.js';

const D = (l: string): string => clark(NS.D, l);
const tagged = (res: Resource): boolean => res.kind === 'collection' && res.info.tag !== '';
const always = (): boolean => true;
/** A calendar or address book with sync tokens (not a converted one: a bday share has none). */
const syncable = (res: Resource): boolean => tagged(res) && res.kind === 'collection' && !res.info.conversion;

export const CORE_PLUGIN: DavPlugin = {
  methods: {
    OPTIONS: { handler: options, ownRightsCheck: true },
    GET: { handler: (r: DavRequest) => get(r, false) },
    HEAD: { handler: (r: DavRequest) => get(r, true) },
    PUT: { handler: put },
    DELETE: { handler: del },
    PROPFIND: { handler: propfind },
    PROPPATCH: { handler: proppatch },
    MKCOL: { handler: mkcol },
    REPORT: { handler: report },
    MOVE: { handler: move },
    COPY: { handler: copy },
    // Served only once a feature registers a POST target (DavPlugin.postTargets).
    POST: { handler: post, ownRightsCheck: true },
  },
  createBodies: [D('mkcol'), D('create')],
  properties: CORE_PROPERTIES,
  searchableProperties: [D('displayname')],
  reports: {
    [D('sync-collection')]: { handler: syncCollection, appliesTo: syncable },
    [D('expand-property')]: { handler: expandProperty, appliesTo: always },
    [D('principal-property-search')]: { handler: principalPropertySearch, appliesTo: always },
    [D('principal-match')]: { handler: principalMatch, appliesTo: (res) => res.kind === 'collection' },
    [D('principal-search-property-set')]: { handler: principalSearchPropertySet, appliesTo: always },
  },
};
