/** The storage contract on the in-memory backend the tests use (test/helpers/memory-storage.ts). */
import { storageContract } from '../contract/storage-contract.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

storageContract('memory', async (settings) => {
  const storage = new MemoryStorage(settings);
  await storage.open();
  return { storage, cleanup: () => storage.close() };
});
