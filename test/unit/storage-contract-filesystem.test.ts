/** The storage contract on the Radicale-compatible filesystem backend, in temporary folders. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filesystemStorage } from '../helpers/filesystem-storage.js';
import { storageContract } from '../contract/storage-contract.js';

storageContract('filesystem', async (settings) => {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-contract-'));
  const storage = filesystemStorage({
    folder,
    maxResourceSize: settings.maxResourceSize,
    maxSyncTokenAge: settings.maxSyncTokenAge,
    describe: settings.describe,
  });
  await storage.open();
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await rm(folder, { recursive: true, force: true });
    },
  };
});
