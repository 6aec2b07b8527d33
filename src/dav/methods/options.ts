/**
 * OPTIONS: what we implement, honestly (no class 2: we have no LOCK).
 */
import type { DavRequest, DavResponse } from '../context.js';

export function options(req: DavRequest): Promise<DavResponse> {
  return Promise.resolve({
    status: 200,
    headers: {
      Allow: req.plugins.methods().join(', '),
      DAV: ['1', '3', 'extended-mkcol', ...req.plugins.compliance()].join(', '),
      'Content-Length': '0',
    },
  });
}
