/**
 * The golden request files (test/fixtures/requests/*.xml): each is parsed by the parser its name
 * starts with, and the typed value (or the refusal) written as plain JSON, which the test compares
 * with the .json beside it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CORE_PLUGIN } from '../../src/dav/core-plugin.js';
import { calDavPlugin } from '../../src/caldav/plugin.js';
import { calDavSettings } from '../../src/caldav/settings.js';
import { combinePlugins } from '../../src/dav/context.js';
import { DavError } from '../../src/dav/errors.js';
import { parseXml, type XmlElement } from '../../src/dav/xml.js';
import { parseCreateRequest } from '../../src/dav/requests/mkcol.js';
import { parseMultiget } from '../../src/dav/requests/multiget.js';
import { parsePrincipalMatch } from '../../src/dav/requests/principal-match.js';
import { parsePrincipalPropertySearch } from '../../src/dav/requests/principal-search.js';
import { parseSyncCollection } from '../../src/dav/requests/sync-collection.js';
import { parseCsShare, parseDavShare, parseInviteReply } from '../../src/sharing/protocols/xml.js';
import { testConfig } from './config.js';

export const REQUEST_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'requests');

const PARSERS: Readonly<Record<string, (text: string) => unknown>> = {
  'sync-collection': (text) => parseSyncCollection(parseXml(text)),
  multiget: (text) => parseMultiget(parseXml(text)),
  'principal-search': (text) => parsePrincipalPropertySearch(parseXml(text)),
  'principal-match': (text) => parsePrincipalMatch(parseXml(text)),
  'cs-share': (text) => parseCsShare(parseXml(text)),
  'dav-share': (text) => parseDavShare(parseXml(text)),
  'invite-reply': (text) => parseInviteReply(parseXml(text)),
  mkcol: (text) =>
    parseCreateRequest(
      text,
      combinePlugins([CORE_PLUGIN, calDavPlugin(calDavSettings(testConfig()))]).createBodies(),
    ),
};

/** Fixture names (without .xml), each with its parser's name. */
export function requestFixtures(): { name: string; parser: string }[] {
  return readdirSync(REQUEST_FIXTURES)
    .filter((f) => f.endsWith('.xml'))
    .map((f) => {
      const name = f.slice(0, -'.xml'.length);
      const parser = Object.keys(PARSERS).find((p) => name.startsWith(`${p}-`));
      if (parser === undefined) throw new Error(`no parser for fixture ${f}`);
      return { name, parser };
    });
}

const isElement = (v: object): v is XmlElement =>
  'ns' in v && 'local' in v && 'attrs' in v && 'children' in v;

/** XML elements as `{ element: "{ns}local", attrs?, text?, children? }`, the rest as it is. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== 'object') return value;
  if (isElement(value)) {
    const text = value.text.trim();
    return {
      element: `{${value.ns}}${value.local}`,
      ...(Object.keys(value.attrs).length > 0 ? { attrs: value.attrs } : {}),
      ...(text !== '' ? { text } : {}),
      ...(value.children.length > 0 ? { children: value.children.map(plain) } : {}),
    };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** The typed value of a fixture as plain JSON, or the DAV answer it is refused with. */
export async function parsedFixture(name: string, parser: string): Promise<unknown> {
  const text = readFileSync(join(REQUEST_FIXTURES, `${name}.xml`), 'utf8');
  const parse = PARSERS[parser];
  if (!parse) throw new Error(`unknown parser ${parser}`);
  try {
    return plain(await parse(text));
  } catch (e) {
    if (!(e instanceof DavError)) throw e;
    return { refused: { status: e.status, precondition: e.precondition ?? null, message: e.message } };
  }
}
