/**
 * DELETE of an item or a whole collection. As Radicale, a success is 200 with a multistatus naming the
 * deleted resource (RFC 4918 §9.6 allows any 2xx; clients written against Radicale may read the body).
 */
import type { DavRequest, DavResponse } from '../context.js';
import { accessDenied, conflict, notFound, StaleWrite } from '../errors.js';
import { MAX_PLANS, planItemWrite } from './put.js';
import { resolve } from '../resource.js';
import { checkConditionalHeaders } from '../request-body.js';
import { changeContext } from '../change-context.js';
import { hrefOfResource } from '../properties.js';
import { multistatus, responseWithStatus } from '../multistatus.js';

export async function del(req: DavRequest): Promise<DavResponse> {
  const res = await resolve(req, req.segments);
  if (res.kind === 'missing') throw notFound();
  if (!req.access.canWrite(res)) throw accessDenied();
  const deleted = { ...multistatus([responseWithStatus(hrefOfResource(req, res), 200)]), status: 200 };
  if (res.kind === 'item') {
    const hooks = req.plugins.byTag(res.collection.tag) ? req.plugins.itemWriteHooks() : [];
    for (let attempt = 1; ; attempt++) {
      const plan = await planItemWrite(req, hooks, {
        path: res.path,
        href: res.href,
        collection: res.collection,
      });
      try {
        await req.storage.deleteItem(
          res.path,
          res.href,
          (existing) => {
            if (!existing) throw notFound();
            checkConditionalHeaders(req, existing.etag);
            plan.check?.(existing);
          },
          changeContext(req),
        );
      } catch (err) {
        if (!(err instanceof StaleWrite)) throw err;
        if (attempt < MAX_PLANS) continue;
        throw conflict('The item kept changing while it was deleted: try again');
      }
      const extra = (await plan.after?.(undefined)) ?? {};
      return { ...deleted, headers: { ...deleted.headers, ...extra } };
    }
  }
  if (!req.access.mayDeleteCollection(res.path))
    throw accessDenied('Deleting this collection is not allowed');
  if (res.info.tag !== '') checkConditionalHeaders(req, await req.storage.getEtag(res.path));
  else if (req.header('if-match') !== undefined) checkConditionalHeaders(req, undefined);
  await req.storage.deleteCollection(res.path, changeContext(req));
  return deleted;
}
