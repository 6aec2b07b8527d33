/**
 * PROPPATCH (RFC 4918 §9.2): set/remove in document order, all or nothing, one status per property.
 */
import type { DavRequest, DavResponse } from '../context.js';
import { accessDenied, badRequest, notFound } from '../errors.js';
import { hrefOfResource } from '../properties.js';
import { multistatus, responseWithPropstats } from '../multistatus.js';
import { bodyText, xmlBody } from '../request-body.js';
import { NS, type XmlElement } from '../xml.js';
import { resolve } from '../resource.js';
import { changeContext } from '../change-context.js';
import { applyPropUpdates, failedUpdateResponse, operations, type UpdateResult } from '../prop-updates.js';

function updates(body: XmlElement | undefined): ReturnType<typeof operations> {
  if (!body) throw badRequest('PROPPATCH needs a DAV:propertyupdate body');
  if (body.ns !== NS.D || body.local !== 'propertyupdate') throw badRequest('Expected DAV:propertyupdate');
  return operations(body);
}

export async function proppatch(req: DavRequest): Promise<DavResponse> {
  const res = await resolve(req, req.segments);
  // Rights before the body, as Radicale: a client without write access learns that first.
  if (!req.access.canWrite(res)) throw accessDenied();
  if (res.kind === 'missing') throw notFound();
  const ops = updates(await xmlBody(req));
  const href = hrefOfResource(req, res);
  let result: UpdateResult;
  if (res.kind === 'item') {
    const props = { ...(await req.storage.getItemProps(res.path, res.href)) };
    result = applyPropUpdates(req, props, ops, 'item');
    if (result.failed.length === 0) await req.storage.setItemProps(res.path, res.href, props);
  } else {
    // The body was read and parsed above (xmlBody); [hook] notifications report it as sent.
    const ctx = { ...changeContext(req), body: await bodyText(req) };
    // Merged into the props as stored when the write lock is held: a concurrent change (another
    // process on the folder, another instance on the database) is kept, not overwritten.
    let merged: UpdateResult | undefined;
    await req.storage.setProps(
      res.path,
      (current) => {
        const props = { ...current };
        merged = applyPropUpdates(req, props, ops, 'collection');
        if (merged.failed.length > 0) return undefined;
        if (!props.tag) delete props.tag;
        return props;
      },
      ctx,
    );
    if (merged === undefined) throw new Error('PROPPATCH: the storage did not merge the update');
    result = merged;
  }
  if (result.failed.length > 0) {
    return multistatus([failedUpdateResponse(href, result)]);
  }
  return multistatus([responseWithPropstats(href, new Map([[200, result.done]]))]);
}
