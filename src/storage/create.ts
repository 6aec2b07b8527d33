/**
 * The storage layer's settings, taken from the configuration once, and the storage built from them: its
 * backend, with the shared rules of checkedStorage around it.
 */
import type { Logger } from 'pino';
import { noPluginsFor } from '../config/plugin.js';
import type { Config } from '../config/schema.js';
import { checkedStorage } from './checked-storage.js';
import { FilesystemBackend } from './filesystem/storage.js';
import type { FilesystemStorageOptions } from './filesystem/context.js';
import { PostgresBackend, type PostgresStorageOptions } from './postgres/storage.js';
import type { ItemDescriber, Storage } from './types.js';

/** What a backend is built with, but the describer and the logger (given by `createStorage`'s caller). */
type Settings<T> = Omit<T, 'describe' | 'log'>;

/** The storage settings: the backend `[storage] type` names and its options. */
export type StorageSettings =
  | { readonly backend: 'postgresql'; readonly options: Settings<PostgresStorageOptions> }
  | { readonly backend: 'filesystem'; readonly options: Settings<FilesystemStorageOptions> };

/** The storage settings of a configuration; throws for a `[storage] type` Almanac does not have. */
export function storageSettings(config: Config): StorageSettings {
  const s = config.storage;
  // `[server] max_resource_size` is the one the loader capped to 80 % of max_content_length, as
  // Radicale does (config/load.ts): the storage serves no item over it.
  const maxResourceSize = config.server.max_resource_size;
  if (s.type === 'postgresql') {
    return {
      backend: 'postgresql',
      options: {
        url: s.postgresql_url,
        poolSize: s.postgresql_pool_size,
        hook: s.hook,
        hookCwd: process.cwd(),
        maxSyncTokenAge: s.max_sync_token_age,
        maxResourceSize,
      },
    };
  }
  if (s.type !== 'multifilesystem' && s.type !== 'multifilesystem_nolock') {
    throw noPluginsFor('storage', s.type, 'storage type');
  }
  return {
    backend: 'filesystem',
    options: {
      folder: s.filesystem_folder,
      crossProcessLock: s.type === 'multifilesystem',
      fsync: s._filesystem_fsync,
      umask: s.folder_umask,
      maxResourceSize,
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
    },
  };
}

export function createStorage(settings: StorageSettings, log: Logger, describe: ItemDescriber): Storage {
  return settings.backend === 'postgresql'
    ? checkedStorage(new PostgresBackend({ ...settings.options, describe, log }))
    : checkedStorage(new FilesystemBackend({ ...settings.options, describe, log }));
}
