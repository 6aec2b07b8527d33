/**
 * The storage contract on the in-memory backend the tests use (test/helpers/memory-storage.ts), with
 * the shared rules of checkedStorage around it as around every backend.
 */
import { checkedStorage } from '../../src/storage/checked-storage.js';
import { storageContract } from '../contract/storage-contract.js';
import { MemoryBackend } from '../helpers/memory-storage.js';

storageContract('memory', async (settings) => {
  const storage = checkedStorage(new MemoryBackend(settings));
  await storage.open();
  return { storage, cleanup: () => storage.close() };
});
