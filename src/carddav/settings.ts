/**
 * The settings CardDAV reads, taken from the configuration once at start-up (`cardDavSettings`,
 * called by the composition root, cli/start.ts): the address book plugin is built from them
 * (`cardDavPlugin`), and no CardDAV code reads the `Config` of a request.
 */
import type { Config } from '../config/schema.js';

export interface CardDavSettings {
  /** `[server] max_resource_size` (capped by the loader): CR:max-resource-size of an address book. */
  readonly maxResourceSize: number;
}

export function cardDavSettings(config: Config): CardDavSettings {
  return { maxResourceSize: config.server.max_resource_size };
}
