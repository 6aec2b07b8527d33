/** Builds the configured storage backend. */
import type { Logger } from 'pino';
import { noPluginsFor } from '../config/plugin.js';
import type { Config } from '../config/schema.js';
import { FilesystemStorage } from './filesystem/storage.js';
import { PostgresStorage } from './postgres/storage.js';
import type { ItemDescriber, Storage } from './types.js';

export function createStorage(config: Config, log: Logger, describe: ItemDescriber): Storage {
  const s = config.storage;
  if (s.type === 'postgresql') {
    return new PostgresStorage({
      url: s.postgresql_url,
      poolSize: s.postgresql_pool_size,
      hook: s.hook,
      hookCwd: process.cwd(),
      maxSyncTokenAge: s.max_sync_token_age,
      // Capped to 80 % of max_content_length by the loader, as for the filesystem.
      maxResourceSize: config.server.max_resource_size,
      describe,
      log,
    });
  }
  if (s.type !== 'multifilesystem' && s.type !== 'multifilesystem_nolock') {
    throw noPluginsFor('storage', s.type, 'storage type');
  }
  return new FilesystemStorage({
    folder: s.filesystem_folder,
    crossProcessLock: s.type === 'multifilesystem',
    fsync: s._filesystem_fsync,
    umask: s.folder_umask,
    // Already capped to 80 % of max_content_length, as Radicale does, by the loader (config/load.ts).
    maxResourceSize: config.server.max_resource_size,
    maxSyncTokenAge: s.max_sync_token_age,
    skipBrokenItem: s.skip_broken_item,
    hook: s.hook,
    encoding: config.encoding.stock,
    cacheLog: config.logging.storage_cache_actions_on_debug,
    cacheSubfolders: [
      ...(s.use_cache_subfolder_for_item ? (['item'] as const) : []),
      ...(s.use_cache_subfolder_for_history ? (['history'] as const) : []),
      ...(s.use_cache_subfolder_for_synctoken ? (['sync-token'] as const) : []),
    ],
    ...(s.filesystem_cache_folder !== '' ? { cacheFolder: s.filesystem_cache_folder } : {}),
    itemCacheMtimeAndSize: s.use_mtime_and_size_for_item_cache,
    describe,
    log,
  });
}
