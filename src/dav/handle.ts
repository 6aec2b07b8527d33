/**
 * From method to handler.
 */
import type { DavRequest, DavResponse } from './context.js';
import { accessDenied } from './errors.js';
import { copy, move } from './methods/move-copy.js';
import { del } from './methods/delete.js';
import { get } from './methods/get.js';
import { mkcalendar, mkcol } from './methods/mkcol.js';
import { DAV_METHODS, options } from './methods/options.js';
import { propfind } from './methods/propfind.js';
import { proppatch } from './methods/proppatch.js';
import { put } from './methods/put.js';
import { report } from './methods/report.js';

type Handler = (req: DavRequest) => Promise<DavResponse>;

const HANDLERS: Readonly<Record<(typeof DAV_METHODS)[number], Handler>> = {
  OPTIONS: options,
  GET: (r) => get(r, false),
  HEAD: (r) => get(r, true),
  PUT: put,
  DELETE: del,
  PROPFIND: propfind,
  PROPPATCH: proppatch,
  MKCOL: mkcol,
  MKCALENDAR: mkcalendar,
  REPORT: report,
  MOVE: move,
  COPY: copy,
};

export function isDavMethod(method: string): method is (typeof DAV_METHODS)[number] {
  return (DAV_METHODS as readonly string[]).includes(method);
}

/**
 * Like Radicale, rights are checked on the path before storage is looked at: a user without any
 * right there learns nothing about what exists (403, not 404), and an anonymous client gets 401.
 */
function hasAnyRight(req: DavRequest): boolean {
  const own = req.access.letters(req.segments.join('/'));
  const parent = req.segments.length > 0 ? req.access.letters(req.segments.slice(0, -1).join('/')) : '';
  return /[rRwWi]/.test(own) || /[rw]/.test(parent);
}

export function handleDav(req: DavRequest): Promise<DavResponse> {
  const method = req.method;
  if (!isDavMethod(method)) throw new Error(`not a DAV method: ${method}`);
  if (method !== 'OPTIONS' && !hasAnyRight(req)) throw accessDenied();
  return HANDLERS[method](req);
}
