/**
 * The settings the WebDAV core reads, taken from the configuration once at start-up (`davSettings`,
 * called by `http/dispatch.ts` createApp): the core's handlers read `req.settings`. A request carries
 * no `Config`: CalDAV, CardDAV and scheduling have settings of their own (caldav/settings.ts,
 * carddav/settings.ts, caldav/scheduling/settings.ts), from which their plugins are built.
 */
import type { Config } from '../config/schema.js';

export interface DavSettings {
  /** `[server] max_resource_size`: the largest item a PUT, MOVE or COPY writes, in bytes. */
  readonly maxResourceSize: number;
  /** `[server] validate_path_value`: the character policy the Destination of MOVE/COPY must pass. */
  readonly validatePathValue: string;
  /** `[storage] plain_files`: a plain collection takes files that are no calendar or address book data. */
  readonly plainFiles: boolean;
  /** `[storage] strict_preconditions`: a PUT over an existing item needs If-Match. */
  readonly strictPreconditions: boolean;
  /** `[encoding] request`: the charset of a body whose Content-Type names none. */
  readonly requestEncoding: string;
}

export function davSettings(config: Config): DavSettings {
  return {
    maxResourceSize: config.server.max_resource_size,
    validatePathValue: config.server.validate_path_value,
    plainFiles: config.storage.plain_files,
    strictPreconditions: config.storage.strict_preconditions,
    requestEncoding: config.encoding.request,
  };
}
