/**
 * GET and HEAD: an item as stored, or a whole calendar / address book export (as Radicale does).
 * Conditional GET with If-None-Match / If-Modified-Since gives 304.
 */
import type { DavRequest, DavResponse } from '../context.js';
import { outsideRequestScope } from '../../storage/request-scope.js';
import { accessDenied, DavError, notFound } from '../errors.js';
import { etagListMatches } from '../etag-list.js';
import { resolve } from '../resource.js';
import { splitPath } from '../href.js';

/**
 * Part of the key of cached exports: bump it when the export's bytes change for the same stored data
 * (the Almanac version is part of every key too, so releases invalidate old exports anyway).
 */
const EXPORT_CACHE_FORMAT = 'export-1';

function notModified(req: DavRequest, etag: string, lastModifiedMs: number): boolean {
  const inm = req.header('if-none-match');
  if (inm !== undefined) return etagListMatches(inm, etag);
  const ims = req.header('if-modified-since');
  if (ims !== undefined) {
    const since = Date.parse(ims);
    if (!Number.isNaN(since)) return Math.floor(lastModifiedMs / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/** The file name of an export: the displayname (else the path's name) with the suffix, never twice. */
function exportFileName(title: string, suffix: string): string {
  return title.toLowerCase().endsWith(suffix.toLowerCase()) ? title : `${title}${suffix}`;
}

function contentDisposition(name: string): string {
  return `attachment; filename*=utf-8''${encodeURIComponent(name)}`;
}

export async function get(req: DavRequest, head = false): Promise<DavResponse> {
  const res = await resolve(req, req.segments);
  if (res.kind === 'missing') throw notFound();
  if (res.kind === 'item') {
    if (!req.access.canRead(res)) throw accessDenied();
    const headers: Record<string, string> = {
      'Content-Type':
        req.plugins.byTag(res.collection.tag)?.itemContentType(res.meta) ?? 'application/octet-stream',
      ETag: res.meta.etag,
      'Last-Modified': new Date(res.meta.lastModifiedMs).toUTCString(),
    };
    if (notModified(req, res.meta.etag, res.meta.lastModifiedMs)) return { status: 304, headers };
    let text = '';
    for await (const item of req.storage.getItems(res.path, [res.href])) text = item.text;
    const body = Buffer.from(text, 'utf8');
    Object.assign(headers, req.plugins.itemGetHeaders(res, text));
    headers['Content-Length'] = String(body.length);
    return { status: 200, headers, body: head ? undefined : body };
  }
  const kind = req.plugins.byTag(res.info.tag);
  if (!kind) throw new DavError(403, 'Directory listings are not supported');
  if (!req.access.canRead(res) && !req.access.canExport(res)) throw accessDenied();
  const etag = await req.storage.getEtag(res.path);
  const name = exportFileName(
    res.info.props['D:displayname'] || splitPath(res.path).at(-1) || 'export',
    kind.suffix,
  );
  const headers: Record<string, string> = {
    'Content-Type': kind.exportContentType,
    ETag: etag,
    'Last-Modified': res.info.lastModified.toUTCString(),
    'Content-Disposition': contentDisposition(name),
  };
  if (notModified(req, etag, res.info.lastModified.getTime())) return { status: 304, headers };
  if (head) return { status: 200, headers };
  const storage = req.storage;
  const path = res.path;
  async function* texts(): AsyncIterable<string> {
    for await (const item of storage.getItems(path)) yield item.text;
  }
  const cache = req.derivedCache;
  if (!cache) return { status: 200, headers, body: kind.exportCollection(texts(), res.info) };
  // The collection's ETag changes with any item or property, so it keys the export's bytes.
  const key = `${EXPORT_CACHE_FORMAT}\n${kind.tag}\n${etag}`;
  const cached = await cache.get(path, key);
  if (cached) {
    headers['Content-Length'] = String(cached.size);
    return { status: 200, headers, body: cached.stream };
  }
  // An item changed while the export was being read would make these bytes another state's: then
  // the collection's ETag has changed too, and the bytes are not kept.
  // Asked afresh, not from what the request has read so far.
  const unchanged = async (): Promise<boolean> =>
    (await outsideRequestScope(() => storage.getEtag(path))) === etag;
  const body = cache.put(path, key, kind.exportCollection(texts(), res.info), unchanged);
  return { status: 200, headers, body };
}
