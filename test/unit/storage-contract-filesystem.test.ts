/** The storage contract on the Radicale-compatible filesystem backend, in temporary folders. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FilesystemBackend } from '../../src/storage/filesystem/storage.js';
import { checkedStorage } from '../../src/storage/checked-storage.js';
import { storageContract } from '../contract/storage-contract.js';

storageContract('filesystem', async (settings) => {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-contract-'));
  const storage = checkedStorage(
    new FilesystemBackend({
      folder,
      crossProcessLock: true,
      fsync: false,
      umask: undefined,
      maxResourceSize: settings.maxResourceSize,
      maxSyncTokenAge: settings.maxSyncTokenAge,
      skipBrokenItem: true,
      hook: '',
      describe: settings.describe,
      log: pino({ level: 'silent' }),
    }),
  );
  await storage.open();
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await rm(folder, { recursive: true, force: true });
    },
  };
});
