/**
 * PROPPATCH (RFC 4918 §9.2): set/remove in document order, all or nothing, one status per property.
 */
import type { DavRequest, DavResponse } from '../context.js';
import { DavError, badRequest, notFound } from '../errors.js';
import { allLiveProperties, hrefOfResource } from '../properties.js';
import { multistatus, responseWithPropstats, type PropEntry } from '../multistatus.js';
import { xmlBody } from '../request-body.js';
import { NS, child, clark, nameOf, type XmlElement } from '../xml.js';
import { resolve } from '../resource.js';
import { propKey, valueOf } from '../dead-props.js';
import type { CollectionTag } from '../../storage/types.js';
import { changeContext } from '../change-context.js';

export interface Operation {
  readonly set: boolean;
  readonly prop: XmlElement;
}

export function operations(body: XmlElement): Operation[] {
  if (body.ns !== NS.D || body.local !== 'propertyupdate') throw badRequest('Expected DAV:propertyupdate');
  const ops: Operation[] = [];
  for (const c of body.children) {
    if (c.ns !== NS.D || (c.local !== 'set' && c.local !== 'remove')) continue;
    const prop = child(c, NS.D, 'prop');
    for (const p of prop?.children ?? []) ops.push({ set: c.local === 'set', prop: p });
  }
  return ops;
}

/** Tag implied by a resourcetype value, or undefined when it names no known kind. */
export function tagFromResourceType(req: DavRequest, rt: XmlElement): CollectionTag | undefined {
  const names = rt.children.map(nameOf);
  if (names.includes(clark(NS.CS, 'subscribed'))) return 'VSUBSCRIBED';
  for (const k of req.kinds.all()) if (names.includes(k.resourceType)) return k.tag;
  if (names.every((n) => n === clark(NS.D, 'collection'))) return '';
  return undefined;
}

const WRITABLE_LIVE = new Set([clark(NS.D, 'displayname'), clark(NS.D, 'resourcetype')]);

/** Applies set/remove operations to a props object; protected or invalid ones are reported failed. */
export function applyPropUpdates(
  req: DavRequest,
  props: Record<string, string>,
  ops: readonly Operation[],
): { failed: PropEntry[]; done: PropEntry[] } {
  const live = new Map(allLiveProperties(req).map((p) => [p.name, p]));
  const failed: PropEntry[] = [];
  const done: PropEntry[] = [];
  for (const op of ops) {
    const name = nameOf(op.prop);
    const lp = live.get(name);
    if (lp && !lp.writable && !WRITABLE_LIVE.has(name)) {
      failed.push({ name });
      continue;
    }
    if (name === clark(NS.D, 'resourcetype')) {
      const tag = op.set ? tagFromResourceType(req, op.prop) : '';
      if (tag === undefined) {
        failed.push({ name });
        continue;
      }
      props.tag = tag;
    } else if (op.set) props[propKey(name)] = lp?.storeAs ? lp.storeAs(op.prop) : valueOf(op.prop);
    else Reflect.deleteProperty(props, propKey(name));
    done.push({ name });
  }
  return { failed, done };
}

/** Items have no resourcetype or displayname of their own: only dead properties change. */
function applyItemPropUpdates(
  req: DavRequest,
  props: Record<string, string>,
  ops: readonly Operation[],
): { failed: PropEntry[]; done: PropEntry[] } {
  const fixed = new Set([clark(NS.D, 'resourcetype'), clark(NS.D, 'displayname')]);
  const refused = ops.filter((op) => fixed.has(nameOf(op.prop))).map((op) => ({ name: nameOf(op.prop) }));
  const result = applyPropUpdates(
    req,
    props,
    ops.filter((op) => !fixed.has(nameOf(op.prop))),
  );
  return { failed: [...refused, ...result.failed], done: result.done };
}

export async function proppatch(req: DavRequest): Promise<DavResponse> {
  const body = await xmlBody(req);
  if (!body) throw badRequest('PROPPATCH needs a body');
  const ops = operations(body);
  const res = await resolve(req.storage, req.segments);
  if (res.kind === 'missing') throw notFound();
  if (!req.access.canWrite(res)) throw new DavError(403, 'Access denied');
  const props: Record<string, string> =
    res.kind === 'collection'
      ? { ...res.info.props }
      : { ...(await req.storage.getItemProps(res.path, res.href)) };
  const { failed, done } =
    res.kind === 'collection' ? applyPropUpdates(req, props, ops) : applyItemPropUpdates(req, props, ops);
  if (failed.length > 0) {
    return multistatus([
      responseWithPropstats(
        hrefOfResource(req, res),
        new Map([
          [403, failed],
          [424, done],
        ]),
      ),
    ]);
  }
  if (res.kind === 'item') {
    await req.storage.setItemProps(res.path, res.href, props);
    return multistatus([responseWithPropstats(hrefOfResource(req, res), new Map([[200, done]]))]);
  }
  if (!props.tag) delete props.tag;
  await req.storage.setProps(res.path, props, changeContext(req));
  return multistatus([responseWithPropstats(hrefOfResource(req, res), new Map([[200, done]]))]);
}
