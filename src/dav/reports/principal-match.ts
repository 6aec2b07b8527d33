/**
 * principal-match (RFC 3744 §9.3), as clients use it to find the current user's principal (DAV:self)
 * or their own resources (DAV:principal-property DAV:owner). A property "identifies" the user when one
 * of its hrefs is the user's principal URL or another address of theirs that a plugin knows (the
 * scheduling plugin's mailto: calendar user addresses). Principals are the top-level collections;
 * resources are searched among the collections below the request URI, at most MATCH_DEPTH deep.
 */
import type { DavRequest, DavResponse, Resource } from '../context.js';
import { badRequest } from '../errors.js';
import { collectionHref } from '../href.js';
import { evaluateProps, getProperty, hrefOfResource } from '../properties.js';
import { multistatus, responseWithPropstats } from '../multistatus.js';
import { parsePrincipalMatch } from '../requests/principal-match.js';
import { NS, clark, type XmlElement, type XmlNode } from '../xml.js';

/** Collections below the request URI that a DAV:principal-property match looks at (home, calendars). */
const MATCH_DEPTH = 2;
const HREF = clark(NS.D, 'href');

/** The hrefs a property value holds (DAV:href texts at any depth). */
function hrefsIn(nodes: readonly XmlNode[]): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    if (typeof n === 'string' || 'raw' in n) continue;
    if (n.name === HREF)
      out.push((n.children ?? []).filter((c): c is string => typeof c === 'string').join(''));
    else out.push(...hrefsIn(n.children ?? []));
  }
  return out;
}

/** What identifies the current user: their principal URL, and their addresses from the plugins. */
function identities(req: DavRequest): Set<string> {
  const own = [collectionHref(req.prefix, req.user), ...req.plugins.principalAliases(req, req.user)];
  return new Set(own.map((h) => h.trim().toLowerCase()));
}

async function collectionsBelow(req: DavRequest, path: string, depth: number): Promise<Resource[]> {
  const out: Resource[] = [];
  let level = [path];
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const parent of level) {
      for (const info of await req.storage.listCollections(parent)) {
        const res: Resource = { kind: 'collection', path: info.path, info };
        if (!req.access.canRead(res)) continue;
        out.push(res);
        next.push(info.path);
      }
    }
    level = next;
  }
  return out;
}

export async function principalMatch(req: DavRequest, res: Resource, body: XmlElement): Promise<DavResponse> {
  const depth = req.header('depth')?.trim();
  if (depth !== undefined && depth !== '0')
    throw badRequest('principal-match takes Depth: 0 (RFC 3744 §9.3)');
  if (res.kind !== 'collection') throw badRequest('principal-match applies to a collection');
  const request = parsePrincipalMatch(body);
  const responses: XmlNode[] = [];
  if (req.user === '') return multistatus(responses);
  if (request.match === 'self') {
    // The user's principal, when it is the request collection or below it.
    const within = res.path === '' || res.path === req.user;
    const info = within ? await req.storage.getCollection(req.user) : undefined;
    if (info) {
      const principal: Resource = { kind: 'collection', path: info.path, info };
      responses.push(
        responseWithPropstats(
          hrefOfResource(req, principal),
          await evaluateProps(req, principal, request.props),
        ),
      );
    }
    return multistatus(responses);
  }
  const mine = identities(req);
  for (const candidate of await collectionsBelow(req, res.path, MATCH_DEPTH)) {
    const value = await getProperty(req, candidate, request.property);
    if (!value || !hrefsIn(value).some((h) => mine.has(h.trim().toLowerCase()))) continue;
    responses.push(
      responseWithPropstats(
        hrefOfResource(req, candidate),
        await evaluateProps(req, candidate, request.props),
      ),
    );
  }
  return multistatus(responses);
}
