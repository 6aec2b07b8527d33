/**
 * The few DAV requests the web interface needs, over fetch. Credentials live only in this object
 * (in memory): a reload or "Log out" forgets them.
 */
import { parseMultistatus, type DavResponse } from './dav-xml.mjs';
import { NS, clark, propfindBody } from './requests.js';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

interface RequestOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Blob;
}

function basicAuth(c: Credentials): string {
  const bytes = new TextEncoder().encode(`${c.user}:${c.password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'Basic ' + btoa(bin);
}

export class DavClient {
  /** @param credentials null when a front proxy authenticates (the browser's own credentials are used). */
  constructor(readonly credentials: Credentials | null) {}

  async request(method: string, url: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.credentials !== null) headers.Authorization = basicAuth(this.credentials);
    const res = await fetch(url, {
      method,
      headers,
      body: opts.body,
      cache: 'no-store',
      // With our own Authorization header, 'omit' keeps the browser from popping up its login prompt on 401.
      credentials: this.credentials === null ? 'same-origin' : 'omit',
    });
    if (!res.ok) throw await toError(res);
    return res;
  }

  async propfind(url: string, depth: '0' | '1', props: readonly string[]): Promise<DavResponse[]> {
    const res = await this.request('PROPFIND', url, {
      headers: { Depth: depth, 'Content-Type': 'application/xml; charset=utf-8' },
      body: propfindBody(props),
    });
    return parseMultistatus(await res.text());
  }

  /** The logged-in user's principal URL (absolute path), or null when the server says unauthenticated. */
  async principal(base: string): Promise<string | null> {
    const [first] = await this.propfind(base, '0', ['<D:current-user-principal/>']);
    const cup = first?.props.get(clark(NS.D, 'current-user-principal'));
    const href = cup?.getElementsByTagNameNS(NS.D, 'href')[0]?.textContent?.trim();
    return href === undefined || href === '' ? null : href;
  }
}

async function toError(res: Response): Promise<HttpError> {
  let detail = '';
  if ((res.headers.get('Content-Type') ?? '').startsWith('text/plain')) {
    detail = (await res.text().catch(() => '')).trim().split('\n')[0] ?? '';
  }
  const text = `${res.status} ${res.statusText}`.trim();
  return new HttpError(res.status, detail !== '' && detail !== res.statusText ? `${text}: ${detail}` : text);
}
