import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** What the HTTP layer knows about a request before any DAV processing. */
export interface RequestContext {
  /** Unique id of the request, also in log lines. */
  readonly id: string;
  /** Address of the TCP peer. */
  readonly peerAddress: string;
  /** The real client: the peer, or the X-Forwarded-For/Forwarded client when the peer is a trusted proxy. */
  readonly clientAddress: string;
  /** The peer is in [server] trusted_proxies. */
  readonly peerTrusted: boolean;
  /** The connection is TLS. */
  readonly secure: boolean;
  /** A TLS client certificate was presented and verified against certificate_authority. */
  readonly clientCertVerified: boolean;
  /** Request logger (a pino child with the request id). */
  readonly log: Logger;
  /** Set by the dispatcher once the user is known, for the request's end-of-request log line. */
  user: string;
  /** Set by code that refuses a request because of a limit, for the log line (e.g. 'max_content_length'). */
  limitHit?: string;
  /**
   * Gives the request's max_connections slot back before the response is complete (e.g. while a failed
   * login is being delayed), so sleeping requests never hold slots others need. Safe to call twice.
   */
  releaseSlot?: () => void;
  /**
   * Reads the request body under `limit` and `[server] body_min_rate`, giving the slot back while the body
   * arrives and taking one again before resolving (set by the server).
   */
  readBody?: (limit: number) => Promise<Buffer>;
}

export type RequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
) => Promise<void>;
