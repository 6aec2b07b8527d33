/**
 * Setting and removing properties: PROPPATCH (RFC 4918 §9.2), and the properties given to extended
 * MKCOL (RFC 5689) and MKCALENDAR (RFC 4791 §5.3.1). Instructions run in document order, all or
 * nothing: when one fails, nothing is stored and every other one is answered 424.
 */
import type { DavRequest } from './context.js';
import type { CollectionTag } from '../storage/types.js';
import { allLiveProperties } from './properties.js';
import { LANG_KEY, XML_LANG, propKey, setStoredLang, valueOf } from './dead-props.js';
import { statusLine, type PropEntry } from './multistatus.js';
import { NS, child, clark, el, elText, nameOf, type XmlElement, type XmlOut } from './xml.js';
import { DAV_CONDITIONS, type Precondition } from './preconditions.js';

const D = (l: string): string => clark(NS.D, l);

export interface Operation {
  readonly set: boolean;
  readonly prop: XmlElement;
  /** xml:lang of the value: on the property element or inherited from the request (RFC 4918 §4.3). */
  readonly lang?: string;
}

/** A property that could not be set or removed, with the precondition that says why. */
export interface PropFailure {
  readonly name: string;
  readonly precondition: Precondition;
}

export interface UpdateResult {
  readonly failed: PropFailure[];
  readonly done: PropEntry[];
}

/**
 * The set/remove instructions of a body, in document order. The root element is the caller's to
 * check (DAV:propertyupdate, DAV:mkcol, C:mkcalendar...).
 */
export function operations(body: XmlElement, setOnly = false): Operation[] {
  const ops: Operation[] = [];
  const lang = (e: XmlElement | undefined, inherited: string | undefined): string | undefined =>
    e?.attrs[XML_LANG] ?? inherited;
  const bodyLang = lang(body, undefined);
  for (const c of body.children) {
    if (c.ns !== NS.D || (c.local !== 'set' && (setOnly || c.local !== 'remove'))) continue;
    const prop = child(c, NS.D, 'prop');
    const propLang = lang(prop, lang(c, bodyLang));
    for (const property of prop?.children ?? []) {
      const l = c.local === 'set' ? lang(property, propLang) : undefined;
      ops.push(
        l === undefined ? { set: c.local === 'set', prop: property } : { set: true, prop: property, lang: l },
      );
    }
  }
  return ops;
}

/** Tag implied by a resourcetype value, or undefined when it names no known kind. */
export function tagFromResourceType(req: DavRequest, rt: XmlElement): CollectionTag | undefined {
  const names = rt.children.map(nameOf);
  for (const k of req.plugins.itemless()) if (names.includes(k.resourceType)) return k.tag;
  for (const k of req.plugins.all()) if (names.includes(k.resourceType)) return k.tag;
  if (names.every((n) => n === D('collection'))) return '';
  return undefined;
}

const PROTECTED = DAV_CONDITIONS.cannotModifyProtectedProperty;

/**
 * Where the instructions come from: a PROPPATCH of an existing collection or item (resourcetype is
 * protected, RFC 4918 §15.9), or the body of a request creating a collection (resourcetype says what
 * kind it is).
 */
export type UpdateTarget = 'collection' | 'item' | 'new-collection';

/** Live properties a client may write: stored like dead properties (displayname for collections). */
function writable(req: DavRequest, name: string, target: UpdateTarget): boolean {
  if (name === D('displayname')) return target !== 'item';
  if (propKey(name) === LANG_KEY) return false;
  const lp = allLiveProperties(req).find((p) => p.name === name);
  return lp === undefined || lp.writable === true;
}

/** Applies the instructions to a copy of the props; `props` is changed only when nothing failed. */
export function applyPropUpdates(
  req: DavRequest,
  props: Record<string, string>,
  ops: readonly Operation[],
  target: UpdateTarget,
): UpdateResult {
  const next: Record<string, string> = { ...props };
  const failed: PropFailure[] = [];
  const done: PropEntry[] = [];
  const live = new Map(allLiveProperties(req).map((p) => [p.name, p]));
  for (const op of ops) {
    const name = nameOf(op.prop);
    if (name === D('resourcetype')) {
      const tag = target === 'new-collection' && op.set ? tagFromResourceType(req, op.prop) : undefined;
      if (target !== 'new-collection') failed.push({ name, precondition: PROTECTED });
      else if (tag === undefined) failed.push({ name, precondition: DAV_CONDITIONS.validResourcetype });
      else {
        next.tag = tag;
        done.push({ name });
      }
      continue;
    }
    if (!writable(req, name, target)) {
      failed.push({ name, precondition: PROTECTED });
      continue;
    }
    const lp = live.get(name);
    const key = propKey(name);
    if (op.set) next[key] = lp?.storeAs ? lp.storeAs(op.prop) : valueOf(op.prop);
    else Reflect.deleteProperty(next, key);
    setStoredLang(next, key, op.lang);
    done.push({ name });
  }
  if (failed.length === 0) {
    for (const k of Object.keys(props)) if (!(k in next)) Reflect.deleteProperty(props, k);
    Object.assign(props, next);
  }
  return { failed, done };
}

/**
 * The DAV:response of a failed update of `href` (PROPPATCH, and a creating method that answers 207,
 * MKCALENDAR): each refused property 403 with the precondition that says why (RFC 4918 §9.2.1),
 * everything else 424 Failed Dependency.
 */
export function failedUpdateResponse(href: string, result: UpdateResult): XmlOut {
  return el(clark(NS.D, 'response'), elText(clark(NS.D, 'href'), href), ...failedUpdatePropstats(result));
}

/** The propstats of a failed update (MKCOL writes them in its DAV:mkcol-response). */
export function failedUpdatePropstats(result: UpdateResult): XmlOut[] {
  const byPrecondition = new Map<string, string[]>();
  for (const f of result.failed) {
    byPrecondition.set(f.precondition, [...(byPrecondition.get(f.precondition) ?? []), f.name]);
  }
  const out: XmlOut[] = [];
  for (const [precondition, names] of byPrecondition) {
    out.push(
      el(
        D('propstat'),
        el(D('prop'), ...names.map((n) => el(n))),
        elText(D('status'), statusLine(403)),
        el(D('error'), el(precondition)),
      ),
    );
  }
  if (result.done.length > 0) {
    out.push(
      el(
        D('propstat'),
        el(D('prop'), ...result.done.map((p) => el(p.name))),
        elText(D('status'), statusLine(424)),
      ),
    );
  }
  return out;
}
