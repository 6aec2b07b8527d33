/**
 * A filesystem storage for the tests: checkedStorage around a FilesystemBackend, with the options
 * most tests use (a cross-process lock, no fsync, no hook, a silent log); a test names what differs.
 */
import { pino } from 'pino';
import { checkedStorage, type CheckedStorage } from '../../src/storage/checked-storage.js';
import type { FilesystemStorageOptions } from '../../src/storage/filesystem/context.js';
import { FilesystemBackend } from '../../src/storage/filesystem/storage.js';

export type TestFilesystemOptions = Pick<FilesystemStorageOptions, 'folder' | 'describe'> &
  Partial<FilesystemStorageOptions>;

export function filesystemStorage(options: TestFilesystemOptions): CheckedStorage<FilesystemBackend> {
  return checkedStorage(
    new FilesystemBackend({
      crossProcessLock: true,
      fsync: false,
      umask: undefined,
      maxResourceSize: 10_000_000,
      maxSyncTokenAge: 2592000,
      skipBrokenItem: true,
      hook: '',
      log: pino({ level: 'silent' }),
      ...options,
    }),
  );
}
